/**
 * S3 objects as synchronous byte sources (src/scan/s3Source.ts) against s3rver on 127.0.0.1: exact bytes
 * for any range, the validator reads a scan through them exactly as it reads the local file, failures are
 * recorded (never thrown into HDF5), a server that never answers times out.
 */
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PagedSource } from "../../src/scan/byteSource.js";
import { S3RangeReader, S3RangeSource, S3ReadError, rangeWorkerUrl, s3Uri } from "../../src/scan/s3Source.js";
import { validateScan } from "../../src/scan/validate.js";
import { SCANS, startEnv, type Env } from "../pipeline/ingest/helpers.js";
import { writeValidScan } from "./fixtures.js";

let env: Env;
const data = new Uint8Array(300_001).map((_, i) => (i * 2654435761) >>> 24);

beforeAll(async () => {
  env = await startEnv("ptyxrf-s3source-");
  await env.client.send(new PutObjectCommand({ Bucket: SCANS, Key: "bytes.bin", Body: data }));
});
afterAll(async () => env?.close());

describe("S3RangeSource", () => {
  it("reads exactly the bytes asked for, short at the end of the object, one GET per read", () => {
    const src = new S3RangeSource(env.reader, { bucket: SCANS, key: "bytes.bin", size: data.length });
    expect(src.name).toBe(`s3://${SCANS}/bytes.bin`);
    for (const [pos, len] of [[0, 1], [0, 8], [12_345, 70_000], [data.length - 10, 10], [data.length - 5, 64], [299_000, 1]]) {
      const buf = new Uint8Array(len).fill(0xee);
      const n = src.readInto(pos, buf);
      const want = Math.min(len, data.length - pos);
      expect(n).toBe(want);
      expect(Buffer.from(buf.subarray(0, n)).equals(Buffer.from(data.subarray(pos, pos + want)))).toBe(true);
    }
    expect(src.readInto(data.length, new Uint8Array(4))).toBe(0); // past the end: no request
    expect(src.stats).toEqual({ requests: 6, bytesFetched: 1 + 8 + 70_000 + 10 + 5 + 1 });
    expect(src.error).toBeNull();
  });

  it("behind a PagedSource, fetches whole pages once", () => {
    const inner = new S3RangeSource(env.reader, { bucket: SCANS, key: "bytes.bin", size: data.length });
    const paged = new PagedSource(inner, 64 * 1024);
    const buf = new Uint8Array(100);
    for (let i = 0; i < 5; i++) paged.readInto(1000 + i * 100, buf);
    paged.readInto(65_500, buf); // straddles pages 0 and 1
    expect(inner.stats.requests).toBe(2);
    expect(Buffer.from(buf).equals(Buffer.from(data.subarray(65_500, 65_600)))).toBe(true);
  });

  it("a missing object: the read returns 0 and the error names the object and range; the reader stays usable", () => {
    const src = new S3RangeSource(env.reader, { bucket: SCANS, key: "no-such-key.h5", size: 1000 });
    expect(src.readInto(0, new Uint8Array(10))).toBe(0);
    expect(src.error).toBeInstanceOf(S3ReadError);
    expect(src.error!.message).toMatch(new RegExp(`^s3://${SCANS}/no-such-key\\.h5 bytes 0-9: NoSuchKey`));
    expect(src.readInto(0, new Uint8Array(10))).toBe(0); // stays failed: no further requests
    const ok = new S3RangeSource(env.reader, { bucket: SCANS, key: "bytes.bin", size: data.length });
    expect(ok.readInto(0, new Uint8Array(4))).toBe(4);
  });

  it("validating a scan by ranged reads gives the local file's report", async () => {
    const file = path.join(env.dir, "scan.h5");
    await writeValidScan(file, { compression: "bitshuffle-lz4" });
    const bytes = fs.readFileSync(file);
    await env.client.send(new PutObjectCommand({ Bucket: SCANS, Key: "incoming/x/scan.h5", Body: bytes }));
    const src = new S3RangeSource(env.reader, { bucket: SCANS, key: "incoming/x/scan.h5", size: bytes.length });
    const remote = await validateScan(src);
    const local = await validateScan(file);
    expect(src.error).toBeNull();
    expect(remote.ok).toBe(true);
    expect({ ...remote, source: "" }).toEqual({ ...local, source: "" });
    expect(remote.source).toBe(s3Uri({ bucket: SCANS, key: "incoming/x/scan.h5" }));
  });

  it("the worker script resolves to the compiled file (tests run from TypeScript sources)", () => {
    const url = rangeWorkerUrl();
    expect(url.pathname).toMatch(/dist\/src\/scan\/s3ReadWorker\.js$/);
    expect(rangeWorkerUrl("file:///var/task/ingest.js").href).toBe("file:///var/task/s3ReadWorker.js");
  });
});

describe("S3RangeReader", () => {
  it("a server that never answers: the read times out, and the reader recovers on the next read", async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => {
      sockets.add(s);
      s.on("error", () => {});
    });
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as net.AddressInfo).port;
    const reader = new S3RangeReader({ ...env.s3.settings, endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1 }, { timeoutMs: 1_500 });
    try {
      const t0 = Date.now();
      expect(() => reader.read({ bucket: SCANS, key: "bytes.bin", size: 100 }, 0, new Uint8Array(10))).toThrow(/no answer within 1500 ms/);
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      reader.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
    const good = new S3RangeReader(env.s3.settings);
    try {
      const buf = new Uint8Array(3);
      expect(good.read({ bucket: SCANS, key: "bytes.bin", size: data.length }, 5, buf)).toBe(3);
      expect([...buf]).toEqual([...data.subarray(5, 8)]);
      expect(good.stats).toEqual({ bytesFetched: 3, requests: 1 });
    } finally {
      good.close();
    }
  });
});
