/**
 * The ingest path's validation of declared bombs under a Lambda-sized heap: a child process with a 1 GiB V8
 * heap (`--max-old-space-size=1024`, the ingest Lambda has 1 GB) validates small uploads that declare huge
 * datasets, by S3 ranged reads from a real S3-compatible server on 127.0.0.1 (the Lambda's own source,
 * ingest.ts rangeOpener). Each is rejected with the rule that decides it, within a memory bound far below the
 * heap, instead of running the Lambda (and with it its whole SQS batch) out of memory.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rewriteH5, writeValidScan, type DatasetSpec } from "../../scan/fixtures.js";
import { SCANS, startEnv, type Env } from "./helpers.js";

const ROOT = path.resolve(import.meta.dirname, "../../..");
let env: Env;
beforeAll(async () => {
  env = await startEnv("ptyxrf-heap-");
});
afterAll(async () => env?.close());

/** Declared, not written: a chunked dataset holding `first` in its first chunk, grown to `shape`. */
function declared(first: DatasetSpec["data"], firstShape: number[], shape: number[], dtype: string, chunks: number[]): DatasetSpec {
  return { data: first, shape: firstShape, dtype, chunks, maxshape: shape.map(() => null), resize: shape, compression: "gzip" } as DatasetSpec;
}

async function upload(name: string, put: Record<string, DatasetSpec>): Promise<{ key: string; bytes: number }> {
  const base = path.join(env.dir, `${name}.base.h5`), file = path.join(env.dir, `${name}.h5`);
  await writeValidScan(base);
  await rewriteH5(base, file, { put });
  const key = `incoming/u/${name}.h5`;
  await env.client.send(new PutObjectCommand({ Bucket: SCANS, Key: key, Body: fs.readFileSync(file) }));
  return { key, bytes: fs.statSync(file).size };
}

/** The child: the ingest's S3 source and validator from dist/ (built by the global setup), a 1 GiB heap. */
const CHILD = `
import { S3RangeReader, S3RangeSource } from ${JSON.stringify(path.join(ROOT, "dist/src/scan/s3Source.js"))};
import { validateScan } from ${JSON.stringify(path.join(ROOT, "dist/src/scan/validate.js"))};
const [bucket, key, size, etag] = process.argv.slice(-4);
const reader = new S3RangeReader(JSON.parse(process.env.PTYXRF_TEST_S3), { timeoutMs: 20000 });
try {
  const source = new S3RangeSource(reader, { bucket, key, size: Number(size), etag });
  const report = await validateScan(source);
  const u = process.resourceUsage();
  console.log(JSON.stringify({ errors: report.errors.map((e) => [e.code, e.path]), fetched: report.read.bytesFetched, maxRss: u.maxRSS * 1024, heap: process.memoryUsage().heapUsed }));
} finally {
  reader.close();
}
`;

async function validateInChild(key: string): Promise<{ errors: [string, string][]; fetched: number; maxRss: number; heap: number }> {
  const head = await env.client.send(new HeadObjectCommand({ Bucket: SCANS, Key: key })); // as the ingest does
  const args = [SCANS, key, String(head.ContentLength), head.ETag ?? ""];
  const r = spawnSync(process.execPath, ["--max-old-space-size=1024", "--input-type=module", "-e", CHILD, ...args], {
    encoding: "utf8", timeout: 60_000, env: { ...process.env, PTYXRF_TEST_S3: JSON.stringify(env.s3.settings) },
  });
  expect(r.signal, r.stderr).toBeNull();
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!);
}

describe("ingest validation of declared bombs under a 1 GiB heap", () => {
  it("positions declared 1e8 x 2 in gzip chunks: npos-mismatch, a few hundred KB fetched, well under the heap", async () => {
    const { key, bytes } = await upload("positions-bomb", {
      "/ptychography/positions": declared(new Float64Array(2 * 65536), [65536, 2], [100_000_000, 2], "<d", [65536, 2]),
    });
    expect(bytes).toBeLessThan(256 * 1024);
    const r = await validateInChild(key);
    expect(r.errors).toEqual([["npos-mismatch", "/ptychography/positions"]]);
    expect(r.fetched).toBeLessThanOrEqual(bytes);
    expect(r.maxRss).toBeLessThan(400e6);
  });

  it("1e6 frames of 4096 x 4096 declared in a few KB: capacity-limit before any data is read", async () => {
    const npos = 1_000_000;
    const { key } = await upload("frames-bomb", {
      "/ptychography/diffraction": declared(new Uint16Array(256).fill(3), [1, 16, 16], [npos, 4096, 4096], "<H", [1, 16, 16]),
      "/ptychography/positions": declared(new Float64Array(128), [64, 2], [npos, 2], "<d", [64, 2]),
      "/xrf/positions": declared(new Float64Array(128), [64, 2], [npos, 2], "<d", [64, 2]),
      "/xrf/elemental_maps/Fe": declared(new Float32Array(64), [64], [npos], "<f", [64]),
      "/xrf/elemental_maps/Zn": declared(new Float32Array(64), [64], [npos], "<f", [64]),
    });
    const r = await validateInChild(key);
    expect(r.errors).toEqual([["capacity-limit", "/ptychography/diffraction"]]);
    expect(r.maxRss).toBeLessThan(400e6);
  });
});
