/**
 * Hostile uploads at ingest (s3rver, Batch and SNS mocked as in ingest.test.ts): a config naming a path on
 * the worker (correlation.mask /dev/zero) is rejected at upload, a mask must be a key beside the scan;
 * hundreds of problems still give a notification SNS accepts (256 KiB; the mock refuses larger ones as SNS
 * does), summarised with a link to rejection.json, which holds them all; control and bidi characters from
 * names never reach the e-mail or the bytes of rejection.json.
 */
import fs from "node:fs";
import path from "node:path";
import { PublishCommand } from "@aws-sdk/client-sns";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { uploadFromRecord } from "../../../src/pipeline/ingest/events.js";
import { ingestUpload } from "../../../src/pipeline/ingest/ingest.js";
import { SNS_MAX_BYTES } from "../../../src/pipeline/notify/notifier.js";
import { MAX_MASK_BYTES } from "../../../src/pipeline/maskKey.js";
import { writeValidScan } from "../../scan/fixtures.js";
import { getBytes, makeDeps, mockServices, RESULTS, SCANS, startEnv, upload, type Env } from "./helpers.js";

let env: Env;
let validScan: Uint8Array;
let services: ReturnType<typeof mockServices>;

beforeAll(async () => {
  env = await startEnv("ptyxrf-hostile-");
  const file = path.join(env.dir, "valid.h5");
  await writeValidScan(file);
  validScan = fs.readFileSync(file);
});
afterAll(async () => env?.close());
beforeEach(() => {
  services = mockServices();
  // as SNS: a message, subject and attributes over 256 KiB are refused
  services.sns.on(PublishCommand).callsFake((input: { Message?: string; Subject?: string }) => {
    const bytes = Buffer.byteLength(input.Message ?? "") + Buffer.byteLength(input.Subject ?? "") + 64;
    if (bytes > SNS_MAX_BYTES) throw Object.assign(new Error("Invalid parameter: Message too long"), { name: "InvalidParameterException" });
    return { MessageId: "msg-1" };
  });
});
afterEach(() => services.restore());

const RAW_UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]/;

describe("uploaded configs may not name paths on the worker", () => {
  it("a sidecar naming /dev/zero as correlation.mask is rejected at upload with the reason; no job", async () => {
    await upload(env, "incoming/kim/zero.json", JSON.stringify({ correlation: { mask: "/dev/zero" } }));
    const out = await ingestUpload(uploadFromRecord(await upload(env, "incoming/kim/zero.h5", validScan)), makeDeps(env));
    if (out.status !== "rejected") throw new Error(out.status);
    expect(out.report.problems.map((p) => [p.source, p.code, p.path])).toEqual([["config", "config-mask", `s3://${SCANS}/incoming/kim/zero.json`]]);
    expect(out.report.problems[0].message).toBe(
      `s3://${SCANS}/incoming/kim/zero.json: expected "correlation.mask": a PNG key relative to the scan's folder s3://${SCANS}/incoming/kim/ (e.g. "cells.png" for s3://${SCANS}/incoming/kim/cells.png), `
      + `found "/dev/zero": not a key relative to the scan's folder (a path on the worker is never read) (letters, digits, . _ - and /, no "." or ".." segments, ending in .png)`,
    );
    expect(services.submits()).toHaveLength(0);
    expect(JSON.parse(services.publishes()[0].Message!).email).toContain("a path on the worker is never read");
  });

  it("a mask key with .. or of another user's folder is rejected; one beside the scan must exist and be at most 16 MiB", async () => {
    for (const [name, mask] of [["up", "../bob/cells.png"], ["abs", "/incoming/bob/cells.png"], ["dot", "./cells.png"]]) {
      await upload(env, `incoming/kim/${name}.json`, JSON.stringify({ correlation: { mask } }));
      const out = await ingestUpload(uploadFromRecord(await upload(env, `incoming/kim/${name}.h5`, validScan)), makeDeps(env));
      expect(out.status === "rejected" && out.report.problems.map((p) => p.found)).toEqual([`${JSON.stringify(mask)}: not a key relative to the scan's folder (a path on the worker is never read)`]);
    }
    await upload(env, "incoming/kim/masked.json", JSON.stringify({ correlation: { mask: "labels/cells.png" } }));
    const missing = await ingestUpload(uploadFromRecord(await upload(env, "incoming/kim/masked.h5", validScan)), makeDeps(env));
    expect(missing.status === "rejected" && missing.report.problems.map((p) => p.found)).toEqual([`no object s3://${SCANS}/incoming/kim/labels/cells.png`]);

    await upload(env, "incoming/kim/labels/cells.png", Buffer.alloc(MAX_MASK_BYTES + 1));
    const big = await ingestUpload(uploadFromRecord(await upload(env, "incoming/kim/masked.h5", validScan)), makeDeps(env));
    expect(big.status === "rejected" && big.report.problems.map((p) => p.found)).toEqual([`s3://${SCANS}/incoming/kim/labels/cells.png of ${MAX_MASK_BYTES + 1} bytes, more than the ${MAX_MASK_BYTES} a label image may have`]);

    await upload(env, "incoming/kim/labels/cells.png", Buffer.alloc(100));
    const ok = await ingestUpload(uploadFromRecord(await upload(env, "incoming/kim/masked.h5", validScan)), makeDeps(env));
    expect(ok.status).toBe("submitted");
    expect(JSON.parse(services.submits()[0].parameters!.config).correlation.mask).toBe("labels/cells.png");
  });
});

describe("rejection messages", () => {
  it("400 problems: the notification fits SNS (first 20, '... and 380 more', the link); rejection.json holds all 400, escaped", async () => {
    // unknown fields whose names carry a bidi override, an escape sequence and a line break
    const fields = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`field-${String(i).padStart(3, "0")}-\u202egnp.exe\u001b[2J\r\n-${"x".repeat(90)}`, i]));
    const sidecar = JSON.stringify(fields);
    expect(sidecar.length).toBeLessThan(64 * 1024);
    // (a key with such characters is refused before any of this: ingest/keys.ts, and by the local S3 server)
    await upload(env, "incoming/lee/many.json", sidecar);
    const rec = await upload(env, "incoming/lee/many.h5", validScan);
    const out = await ingestUpload(uploadFromRecord(rec), makeDeps(env));
    if (out.status !== "rejected") throw new Error(out.status);
    expect(out.report.problems).toHaveLength(400);

    const published = services.publishes();
    expect(published).toHaveLength(1); // accepted by the SNS mock: under 256 KiB
    const size = Buffer.byteLength(published[0].Message!);
    expect(size).toBeLessThan(SNS_MAX_BYTES - 4096);
    const message = JSON.parse(published[0].Message!);
    const email: string = message.email;
    expect(email).toContain("was not accepted: 400 problems (config: 400).");
    expect(email).toContain("  20. [config-invalid]");
    expect(email).not.toContain("  21. ");
    expect(email).toContain("  ... and 380 more problems (every one is in the full report, rejection.json)");
    expect(email).toContain(`Full report: s3://${RESULTS}/${out.reportKey}`);
    expect(email).toContain('unknown field "field-000-\\u202egnp.exe\\u001b[2J\\u000d\\u000a-xxx');
    expect(email).not.toMatch(RAW_UNSAFE);
    const details = JSON.parse(message.sqs);
    expect(details).toMatchObject({ problemCount: 400 });
    expect(details.problems).toHaveLength(20);
    expect(published[0].Subject).toBe("ptyxrf: rejected many.h5 (400 problems)");

    const bytes = Buffer.from(await getBytes(env, RESULTS, out.reportKey)).toString("utf8");
    expect(bytes).not.toMatch(RAW_UNSAFE);
    const report = JSON.parse(bytes);
    expect(report.problems).toHaveLength(400);
    expect(report.scan.key).toBe("incoming/lee/many.h5");
    expect(report.problems[0].message).toContain("\\u202egnp.exe\\u001b[2J");
    expect(report.problems[0].message).not.toMatch(RAW_UNSAFE);
  });
});
