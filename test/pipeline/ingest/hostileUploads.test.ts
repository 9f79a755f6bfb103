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
const SNS_MAX_BYTES = 256 * 1024;
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
