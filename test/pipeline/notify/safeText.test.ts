/** Escaping user-controlled text for people (safeText.ts) and keeping every SNS message under 256 KiB. */
import { describe, expect, it } from "vitest";
import { SNS_MAX_BYTES, snsMessage } from "../../../src/pipeline/notify/notifier.js";
import { clip, safeJson, safeLines, safeText, terminalSafe } from "../../../src/scan/safeText.js";

const RAW_UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\u2028\u2029\ufeff]/;

describe("safeText", () => {
  it("escapes control, bidi, zero-width and separator characters as visible JSON escapes; leaves other text alone", () => {
    expect(safeText("run\u202egnp.exe")).toBe("run\\u202egnp.exe");
    expect(safeText("a\u001b[2J\rb\nc\td")).toBe("a\\u001b[2J\\u000db\\u000ac\\u0009d");
    expect(safeText("\u0085\u200b\u2066x\u2069\u2028\ufeff")).toBe("\\u0085\\u200b\\u2066x\\u2069\\u2028\\ufeff");
    expect(safeText("lone \ud800 surrogate")).toBe("lone \\ud800 surrogate");
    expect(safeText("Fe_K, Zn, Größe 5 µm, 日本, emoji 🧪")).toBe("Fe_K, Zn, Größe 5 µm, 日本, emoji 🧪");
    expect(safeLines("line 1\n\tline 2\u202e\r")).toBe("line 1\n\tline 2\\u202e\\u000d");
  });

  it("safeJson parses back to exactly the same value and its bytes carry none of the characters", () => {
    const nasty = Array.from({ length: 0x3000 }, (_, i) => String.fromCharCode(i)).join("") + "\u{E0041}\ufeff\ud800";
    const value = { key: `incoming/alice/${nasty}.h5`, list: [nasty, 1, null] };
    const text = safeJson(value, 2);
    expect(text).not.toMatch(RAW_UNSAFE);
    expect(JSON.parse(text)).toEqual(value);
  });

  it("terminalSafe keeps the CLI's own progress redraw and escapes the same characters anywhere else", () => {
    expect(terminalSafe("\r[###---] 3/10  loss 1\x1b[K")).toBe("\r[###---] 3/10  loss 1\x1b[K");
    expect(terminalSafe("\r\x1b[K")).toBe("\r\x1b[K");
    expect(terminalSafe("error [x] /xrf/Zn\r\x1b[K fake")).toBe("error [x] /xrf/Zn\\u000d\\u001b[K fake");
    expect(terminalSafe("\rname\u202e\x1b[2J\x1b[K")).toBe("\rname\\u202e\\u001b[2J\x1b[K");
    expect(clip("abcdef", 4)).toBe("abcd... (2 more characters)");
  });
});

describe("snsMessage", () => {
  it("a small notification goes as it is (escaped)", () => {
    const { message, shortened } = snsMessage({ user: "u", kind: "rejected", subject: "s", text: "two\nlines \u202e", details: { a: 1 } });
    expect(shortened).toBe(false);
    const m = JSON.parse(message);
    expect(m.email).toBe("two\nlines \\u202e");
    expect(JSON.parse(m.sqs)).toEqual({ user: "u", event: "rejected", subject: "s", a: 1 });
  });

  it("any notification fits SNS's 256 KiB: details compacted, then the text shortened with a note", () => {
    const text = Array.from({ length: 5000 }, (_, i) => `  ${i + 1}. [bad] ${"y".repeat(200)}`).join("\n");
    const details = { problems: Array.from({ length: 10_000 }, (_, i) => ({ code: "bad", found: "z".repeat(1000), i })), scan: "s3://b/k" };
    const { message, shortened } = snsMessage({ user: "u", kind: "rejected", subject: "s", text, details });
    expect(shortened).toBe(true);
    expect(Buffer.byteLength(message)).toBeLessThan(SNS_MAX_BYTES - 4096);
    const m = JSON.parse(message);
    expect(m.email.startsWith("  1. [bad] ")).toBe(true);
    expect(m.email).toMatch(/\.\.\. \(message shortened to fit a notification: the full details are in the linked report\)$/);
    const d = JSON.parse(m.sqs);
    expect(d).toMatchObject({ shortened: true, scan: "s3://b/k" });
    expect(d.problems.at(-1)).toMatch(/^\.\.\. and \d+ more \(see the linked report\)$/);
  });
});
