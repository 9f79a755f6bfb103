/**
 * S3 transfers: which failures are transient, retries with exponential backoff, multipart uploads (real
 * HTTP to s3rver on 127.0.0.1), downloads pinned to an ETag, and a download that resumes with a ranged GET
 * after the connection broke mid-body.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { GetObjectCommand, S3Client, type S3Client as S3ClientType } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Server } from "../../../src/pipeline/local/s3server.js";
import { isTransient, ObjectMissingError, parseS3Uri, S3Transfer, TransientS3Error, withRetry } from "../../../src/pipeline/worker/transfer.js";
import { makeS3Client } from "../../../src/scan/s3Client.js";

const BUCKET = "ptyxrf-transfer";
let dir: string;
let server: S3Server;
let client: S3ClientType;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ptyxrf-transfer-"));
  server = new S3Server({ directory: path.join(dir, "s3"), buckets: [BUCKET] });
  await server.start();
  client = makeS3Client(server.settings);
});

afterAll(async () => {
  client?.destroy();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const http = (status: number, name = "Err") => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

describe("retries", () => {
  it("classifies failures: network, timeouts, throttling and 5xx are transient; missing, denied, bad requests are not", () => {
    expect(isTransient(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" }))).toBe(true);
    expect(isTransient(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }))).toBe(true);
    expect(isTransient(http(503, "ServiceUnavailable"))).toBe(true);
    expect(isTransient(http(500, "InternalError"))).toBe(true);
    expect(isTransient(http(429, "SlowDown"))).toBe(true);
    expect(isTransient(Object.assign(new Error("x"), { name: "TimeoutError" }))).toBe(true);
    expect(isTransient(new TransientS3Error("x"))).toBe(true);
    expect(isTransient(http(404, "NoSuchKey"))).toBe(false);
    expect(isTransient(http(403, "AccessDenied"))).toBe(false);
    expect(isTransient(http(400, "InvalidArgument"))).toBe(false);
    expect(isTransient(new ObjectMissingError("gone", "missing"))).toBe(false);
    expect(isTransient(new TypeError("bug"))).toBe(false);
  });

  it("backs off exponentially (capped, with jitter), gives up with TransientS3Error, never retries a permanent failure", async () => {
    const delays: number[] = [];
    const sleep = async (ms: number) => { delays.push(ms); };
    let n = 0;
    const v = await withRetry("op", async () => {
      if (++n < 4) throw http(503);
      return "ok";
    }, { sleep, random: () => 0.5, baseMs: 100, maxMs: 300 });
    expect(v).toBe("ok");
    expect(delays).toEqual([100, 200, 300]);
    delays.length = 0;
    await expect(withRetry("op", async () => { throw http(500); }, { sleep, attempts: 3, random: () => 0.5 })).rejects.toThrow(/op: still failing after 3 attempts/);
    expect(delays).toHaveLength(2);
    let calls = 0;
    await expect(withRetry("op", async () => { calls++; throw http(403, "AccessDenied"); }, { sleep })).rejects.toThrow("AccessDenied");
    expect(calls).toBe(1);
  });
});

describe("transfers against s3rver", () => {
  it("multipart upload in parallel parts, then a download, byte for byte, with progress", async () => {
    const t = new S3Transfer(client, { multipartThreshold: 5 * 1024 * 1024, partSize: 5 * 1024 * 1024, concurrency: 2 });
    const file = path.join(dir, "big.bin");
    const data = crypto.randomBytes(12 * 1024 * 1024 + 12345);
    fs.writeFileSync(file, data);
    const seen: number[] = [];
    await t.uploadFile({ bucket: BUCKET, key: "big.bin" }, file, { onProgress: (done) => seen.push(done), metadata: { a: "b" } });
    expect(seen[seen.length - 1]).toBe(data.length);
    expect(seen.length).toBe(3); // 3 parts
    const back = path.join(dir, "back.bin");
    const got = await t.download({ bucket: BUCKET, key: "big.bin" }, back);
    expect(got.bytes).toBe(data.length);
    expect(got.metadata.a).toBe("b");
    expect(fs.readFileSync(back).equals(data)).toBe(true);
    const listed = await t.list(BUCKET, "");
    expect(listed.objects.map((o) => o.key)).toContain("big.bin");
  });

  it("a download pinned to an ETag refuses other content; a missing object is ObjectMissingError", async () => {
    const t = new S3Transfer(client);
    const put = await t.putBytes({ bucket: BUCKET, key: "small.txt" }, "hello");
    await expect(t.download({ bucket: BUCKET, key: "small.txt" }, path.join(dir, "d1"), `etag:${put.etag}`)).resolves.toMatchObject({ bytes: 5 });
    await expect(t.download({ bucket: BUCKET, key: "small.txt" }, path.join(dir, "d2"), "etag:0123")).rejects.toMatchObject({ name: "ObjectMissingError", code: "changed" });
    await expect(t.download({ bucket: BUCKET, key: "nope" }, path.join(dir, "d3"))).rejects.toMatchObject({ name: "ObjectMissingError", code: "missing" });
    expect(await t.getBytes({ bucket: BUCKET, key: "nope" })).toBeNull();
    expect(await t.exists({ bucket: BUCKET, key: "small.txt" })).toBe(true);
    await t.delete({ bucket: BUCKET, key: "small.txt" });
    expect(await t.exists({ bucket: BUCKET, key: "small.txt" })).toBe(false);
    expect(parseS3Uri("s3://b/a/b/")).toEqual({ bucket: "b", key: "a/b/" });
    expect(parseS3Uri("http://x")).toBeNull();
  });

  it("a download broken mid-body resumes from the last byte with a ranged GET", async () => {
    const mock = mockClient(S3Client);
    try {
      const data = crypto.randomBytes(100_000);
      mock.on(GetObjectCommand).callsFake((input: { Range?: string }) => {
        if (!input.Range) {
          // the first answer announces everything, then the connection breaks after 40,000 bytes
          const body = new Readable({ read() {} });
          body.push(data.subarray(0, 40_000));
          setImmediate(() => body.destroy(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })));
          return { Body: body, ContentLength: data.length, ETag: '"e1"' };
        }
        const start = Number(/bytes=(\d+)-/.exec(input.Range)![1]);
        return { Body: Readable.from([data.subarray(start)]), ContentLength: data.length - start, ContentRange: `bytes ${start}-${data.length - 1}/${data.length}`, ETag: '"e1"' };
      });
      const t = new S3Transfer(new S3Client({ region: "us-east-1" }), { retry: { baseMs: 1 } });
      const out = path.join(dir, "resumed.bin");
      await t.download({ bucket: "b", key: "k" }, out, "etag:e1");
      expect(fs.readFileSync(out).equals(data)).toBe(true);
      const ranges = mock.commandCalls(GetObjectCommand).map((c) => c.args[0].input.Range);
      expect(ranges).toEqual([undefined, "bytes=40000-"]);
    } finally {
      mock.restore();
    }
  });
});
