/**
 * Upload keys that are paths out of their place: parseUploadKey rejects ".", ".." and empty segments,
 * backslashes and control characters with a key-layout problem naming what was found, and the rejection's
 * results folder stays inside the uploader's own folder (today incoming/alice/../bob/evil.h5 would write
 * alice's results under results/alice/../bob/, i.e. bob's folder, on any store that resolves "..").
 */
import { describe, expect, it } from "vitest";
import { parseUploadKey, resultPrefix, unsafeKeyReason } from "../../../src/pipeline/ingest/keys.js";

const TAG = "0123456789abcdef";

describe("unsafe keys", () => {
  it("unsafeKeyReason names the first problem; ordinary keys (with +, %, spaces, unicode, dots inside names) have none", () => {
    expect(unsafeKeyReason("incoming/alice/../bob/evil.h5")).toBe('a ".." path segment');
    expect(unsafeKeyReason("incoming/alice/./x.h5")).toBe('a "." path segment');
    expect(unsafeKeyReason("incoming/alice//x.h5")).toBe('an empty path segment ("//")');
    expect(unsafeKeyReason("/incoming/alice/x.h5")).toBe('a leading "/"');
    expect(unsafeKeyReason("incoming/alice/a\\..\\b.h5")).toBe("a backslash");
    expect(unsafeKeyReason("incoming/alice/a\nb.h5")).toBe("a control character (U+000A)");
    expect(unsafeKeyReason("incoming/alice/a\u0085b.h5")).toBe("a control character (U+0085)");
    expect(unsafeKeyReason("incoming/alice/evil\u202Eh5.exe.h5")).toBe("a control character (U+202E)");
    expect(unsafeKeyReason("")).toBe("an empty key");
    for (const ok of ["incoming/alice/a+b.h5", "incoming/alice/100% done.h5", "incoming/alice/résumé 日本.h5", "incoming/alice/..x/x...h5", "incoming/alice/.hidden.h5", "incoming/alice/"]) {
      expect(unsafeKeyReason(ok), ok).toBeNull();
    }
  });

  it("parseUploadKey rejects each with a key-layout problem; the results folder stays in the uploader's folder", () => {
    const cases: [string, string, string][] = [
      ["incoming/alice/../bob/evil.h5", 'a ".." path segment', "results/alice/__/bob/evil/"],
      ["incoming/alice/./x.h5", 'a "." path segment', "results/alice/_/x/"],
      ["incoming/alice//x.h5", 'an empty path segment ("//")', "results/alice/_/x/"],
      ["incoming/alice/a\\..\\b.h5", "a backslash", "results/alice/a_.._b/"],
      ["incoming/alice/x\u0000y.h5", "a control character (U+0000)", "results/alice/x_y/"],
      ["incoming/alice/../../results/bob/x.h5", 'a ".." path segment', "results/alice/__/__/results/bob/x/"],
      ["incoming/../bob/x.h5", 'a ".." path segment', "results/_unknown/__/bob/x/"],
    ];
    for (const [key, found, folder] of cases) {
      const { upload, problem } = parseUploadKey(key);
      expect(problem, key).toMatchObject({ code: "key-layout", path: key, found });
      expect(problem!.message).toContain('no "." or ".." segments, no empty ones, no backslashes or control characters');
      const prefix = resultPrefix(upload, TAG);
      expect(prefix, key).toBe(`${folder}${TAG}/`);
      expect(prefix.split("/").slice(0, -1).every((s) => s !== "" && s !== "." && s !== "..")).toBe(true);
    }
  });

  it("keys with +, %, spaces and unicode are taken as they are", () => {
    for (const [key, stem] of [["incoming/alice/a+b.h5", "a+b"], ["incoming/alice/100% done.h5", "100% done"], ["incoming/alice/2026/résumé 日本.h5", "2026/résumé 日本"]]) {
      expect(parseUploadKey(key)).toEqual({ upload: { user: "alice", relPath: key.slice("incoming/alice/".length), stem }, problem: null });
    }
  });
});
