/**
 * The S3 checkpoint store tags every checkpoint it writes (CHECKPOINT_TAG, as the x-amz-tagging header of the
 * PUT, or of the multipart upload a large checkpoint goes through): the stack's lifecycle rule selects
 * checkpoints by that tag, since `results/<user>/<path>/<tag>/_checkpoint/` is no prefix a rule can name
 * (docs/cloud.md). Real HTTP to s3rver on 127.0.0.1; the headers are read as they leave the client.
 */
import crypto from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHECKPOINT_TAG, S3CheckpointStore } from "../../../src/pipeline/checkpoint/store.js";
import { S3Transfer } from "../../../src/pipeline/worker/transfer.js";
import { startLoopbackS3, type LoopbackS3 } from "../loopbackS3.js";

const BUCKET = "ptyxrf-ckpt-store";
let s3: LoopbackS3;
const sent: { command: string; tagging: string | undefined }[] = [];

beforeAll(async () => {
  s3 = await startLoopbackS3("ckpt-store", [BUCKET]);
  s3.s3.middlewareStack.add((next, context) => async (args) => {
    const headers = (args.request as { headers: Record<string, string> }).headers;
    sent.push({ command: String(context.commandName), tagging: headers["x-amz-tagging"] });
    return next(args);
  }, { step: "finalizeRequest", name: "recordTagging" });
});
afterAll(() => s3?.close());

const run = { bucket: BUCKET, key: "results/alice/2026/run-17/0123456789abcdef/" };

describe("S3 checkpoint store", () => {
  it("tags a checkpoint written in one PUT, and stores its bytes unchanged", async () => {
    expect(CHECKPOINT_TAG).toEqual({ key: "ptyxrf-lifecycle", value: "checkpoint" });
    const store = new S3CheckpointStore(new S3Transfer(s3.s3), run, path.join(s3.dir, "scratch"));
    expect(store.location).toBe(`s3://${BUCKET}/results/alice/2026/run-17/0123456789abcdef/_checkpoint/solver.ckpt`);
    const bytes = crypto.randomBytes(4096);
    sent.length = 0;
    expect(await store.save(bytes)).toBe(4096);
    expect(sent).toEqual([{ command: "PutObjectCommand", tagging: "ptyxrf-lifecycle=checkpoint" }]);
    expect(Buffer.from((await s3.transfer.getBytes(store.loc))!).equals(bytes)).toBe(true);
  });

  it("tags a checkpoint written as a multipart upload (the tag goes with CreateMultipartUpload)", async () => {
    const store = new S3CheckpointStore(new S3Transfer(s3.s3, { multipartThreshold: 1024 * 1024 }), run, path.join(s3.dir, "scratch"));
    const bytes = crypto.randomBytes(1024 * 1024 + 17);
    sent.length = 0;
    expect(await store.save(bytes)).toBe(bytes.length);
    expect(sent.map((s) => s.command)).toEqual(["CreateMultipartUploadCommand", "UploadPartCommand", "CompleteMultipartUploadCommand"]);
    expect(sent[0].tagging).toBe("ptyxrf-lifecycle=checkpoint");
    expect(Buffer.from((await s3.transfer.getBytes(store.loc))!).equals(bytes)).toBe(true);
    // the store's load reads what was saved (here not a checkpoint: refused as such, not thrown)
    expect((await store.load()).problem).toMatch(/./);
  });

  it("writes no tag on other objects the transfer puts", async () => {
    sent.length = 0;
    await new S3Transfer(s3.s3).putJson({ bucket: BUCKET, key: `${run.key}progress.json` }, { state: "running" });
    expect(sent).toEqual([{ command: "PutObjectCommand", tagging: undefined }]);
  });
});
