/** The small pieces of the ingest path: key layout, S3 event parsing, config loading, job names. */
import { describe, expect, it } from "vitest";
import { decodeS3Key, uploadsFromMessage, BadMessageError } from "../../../src/pipeline/ingest/events.js";
import { ignoreReason, parseUploadKey, resultPrefix, sidecarKey } from "../../../src/pipeline/ingest/keys.js";
import { canonicalJson, loadUploadConfig } from "../../../src/pipeline/ingest/uploadConfig.js";
import type { ObjectHead, ObjectStore } from "../../../src/pipeline/storage/objectStore.js";
import { jobName, jobSpec } from "../../../src/pipeline/submit/jobSpec.js";
import { resolveConfig } from "../../../src/solver/config.js";

describe("keys", () => {
  it("user, path and stem; sidecar and results locations", () => {
    expect(parseUploadKey("incoming/alice/2026/run-17.h5")).toEqual({ upload: { user: "alice", relPath: "2026/run-17.h5", stem: "2026/run-17" }, problem: null });
    expect(parseUploadKey("incoming/bob/x.HDF5").upload.stem).toBe("x");
    expect(sidecarKey("incoming/alice/2026/run-17.h5")).toBe("incoming/alice/2026/run-17.json");
    expect(sidecarKey("incoming/alice/a.HDF5")).toBe("incoming/alice/a.json");
    expect(resultPrefix({ user: "alice", relPath: "2026/run-17.h5", stem: "2026/run-17" }, "0123456789abcdef")).toBe("results/alice/2026/run-17/0123456789abcdef/");
  });

  it("layout problems name the key, what was expected and what was found", () => {
    const a = parseUploadKey("incoming/scan.h5");
    expect(a.upload.user).toBe("_unknown");
    expect(a.problem).toMatchObject({ code: "key-layout", path: "incoming/scan.h5", found: "no user folder" });
    expect(a.problem!.message).toContain("expected a key incoming/<user>/<name>.h5");
    expect(parseUploadKey("incoming/al ice/s.h5").problem).toMatchObject({ found: 'the user folder "al ice"' });
    expect(parseUploadKey("incoming/alice/.h5").problem).toMatchObject({ found: "no file name" });
  });

  it("what is ignored", () => {
    expect(ignoreReason("incoming/a/s.h5")).toBeNull();
    expect(ignoreReason("incoming/a/s.hdf5")).toBeNull();
    expect(ignoreReason("incoming/a/s.H5")).toBeNull();
    expect(ignoreReason("incoming/a/s.nxs")).toMatch(/^not a scan/);
    expect(ignoreReason("incoming/a/s.json")).toMatch(/sidecar/);
    expect(ignoreReason("results/a/s.h5")).toBe("outside incoming/");
    expect(ignoreReason("incoming/a/")).toBe("a folder marker");
  });
});

describe("S3 events in SQS messages", () => {
  const body = (records: unknown[]) => JSON.stringify({ Records: records });
  const rec = (key: string, extra: Record<string, unknown> = {}) => ({
    eventSource: "aws:s3", eventName: "ObjectCreated:CompleteMultipartUpload", eventTime: "2026-11-21T10:00:00Z",
    s3: { bucket: { name: "scans" }, object: { key, size: 5, eTag: "abc", versionId: "v9", sequencer: "0A", ...extra } },
  });

  it("decodes keys as S3 encodes them (+ for space, percent escapes)", () => {
    const [u] = uploadsFromMessage(body([rec("incoming/alice/my+scan+%28v2%29.h5")]));
    expect(u).toEqual({ bucket: "scans", key: "incoming/alice/my scan (v2).h5", versionId: "v9", etag: "abc", size: 5, sequencer: "0A", eventName: "ObjectCreated:CompleteMultipartUpload", eventTime: "2026-11-21T10:00:00Z" });
    expect(decodeS3Key("100%")).toBe("100%");
  });

  it("a test event has no uploads; a null version is no version; garbage is an error", () => {
    expect(uploadsFromMessage(JSON.stringify({ Event: "s3:TestEvent" }))).toEqual([]);
    expect(uploadsFromMessage(body([rec("incoming/a/b.h5", { versionId: "null" })]))[0]).not.toHaveProperty("versionId");
    expect(() => uploadsFromMessage("nope")).toThrow(BadMessageError);
    expect(() => uploadsFromMessage("{}")).toThrow(/no Records/);
  });
});

describe("per-upload config", () => {
  const head: ObjectHead = { bucket: "scans", key: "incoming/a/s.h5", etag: "e", size: 10, metadata: {} };
  const store = (files: Record<string, string>): ObjectStore => ({
    head: async () => head,
    getText: async (_b, key, max) => (key in files ? { text: files[key].slice(0, max), etag: "x", size: files[key].length } : null),
    putJson: async () => {},
  });

  it("defaults, sidecar and metadata hash by their resolved config", async () => {
    const d = await loadUploadConfig(store({}), head);
    expect(d).toMatchObject({ source: "defaults", origin: null, problems: [], config: resolveConfig({}) });
    const s = await loadUploadConfig(store({ "incoming/a/s.json": '{"iterations": 200}' }), head);
    expect(s.source).toBe("sidecar");
    expect(s.hash).toBe(d.hash); // the same resolved config
    const m = await loadUploadConfig(store({}), { ...head, metadata: { "ptyxrf-config": '{"iterations": 7}' } });
    expect(m).toMatchObject({ source: "metadata", origin: "s3://scans/incoming/a/s.h5@x-amz-meta-ptyxrf-config" });
    expect(m.config!.iterations).toBe(7);
    expect(m.hash).not.toBe(d.hash);
  });

  it("a sidecar over the size limit is rejected without being read whole", async () => {
    const c = await loadUploadConfig(store({ "incoming/a/s.json": " ".repeat(100) }), head, 50);
    expect(c.problems.map((p) => [p.code, p.found])).toEqual([["config-too-large", "100 bytes"]]);
  });

  it("canonical JSON sorts keys at every level", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}');
  });
});

describe("job names", () => {
  it("are valid Batch names, readable, unique by the tag, at most 128 characters", () => {
    expect(jobName("alice", "2026/run 17 (v2)", "0123456789abcdef")).toBe("ptyxrf-alice-2026-run-17-v2-0123456789abcdef");
    const long = jobName("bob", "x".repeat(300), "0123456789abcdef");
    expect(long).toHaveLength(128);
    expect(long.endsWith("-0123456789abcdef")).toBe(true);
    expect(jobName("_unknown", "ü", "0123456789abcdef")).toBe("ptyxrf-unknown-scan-0123456789abcdef");
    for (const n of [long, jobName("a", "---", "t")]) expect(n).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/);
  });

  it("an unversioned scan is pinned by its ETag", () => {
    const spec = jobSpec({ user: "a", scanStem: "s", uploadTag: "t", bucket: "b", key: "incoming/a/s.h5", etag: "e1", resultsBucket: "r", resultPrefix: "results/a/s/t/", config: resolveConfig({}) });
    expect(spec.parameters).toMatchObject({ scanUri: "s3://b/incoming/a/s.h5", scanVersion: "etag:e1", resultPrefix: "s3://r/results/a/s/t/", user: "a" });
  });
});
