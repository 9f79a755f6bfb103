/**
 * The ingest bar: validating a >= 1 GB scan through the S3 ranged-read path fetches <= 2 % of its bytes and
 * peaks under 400 MB RSS.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/ingest.js [--scan FILE] [--json]
 *
 * Without --scan it uses runs/large/scan.h5, simulating it first if missing (`ptyxrf simulate --preset large`,
 * 1 GiB, about 40 s). The scan is uploaded to s3rver (a child process on 127.0.0.1); then a fresh child
 * process runs the upload handler's logic on it (ingestUpload: HEAD, config sidecar lookup, validation by
 * ranged GETs through the worker-thread bridge, a local job submitter and notifier) and reports what it
 * fetched, its time and the peak RSS of that whole process (main thread + read worker), nothing else in it.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { uploadFromRecord } from "../src/pipeline/ingest/events.js";
import { DEFAULT_SETTINGS, ingestUpload, rangeOpener } from "../src/pipeline/ingest/ingest.js";
import { MemoryLogger } from "../src/pipeline/ingest/log.js";
import { MemoryNotifier } from "../src/pipeline/notify/notifier.js";
import { MemoryIdempotencyStore } from "../src/pipeline/storage/idempotency.js";
import { startLocalS3 } from "../src/pipeline/storage/localS3.js";
import { S3ObjectStore } from "../src/pipeline/storage/objectStore.js";
import { MemorySubmitter } from "../src/pipeline/submit/submitter.js";
import { makeS3Client } from "../src/scan/s3Client.js";
import { S3RangeReader, type S3ClientSettings } from "../src/scan/s3Source.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const BUCKET = "ptyxrf-scans";
const RESULTS = "ptyxrf-results";
const KEY = "incoming/bench/large.h5";
const here = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(here), here.includes(`${path.sep}dist${path.sep}`) ? "../.." : "..");

const { values } = parseArgs({
  options: { scan: { type: "string" }, json: { type: "boolean" }, child: { type: "string" } },
});

interface ChildResult {
  status: string;
  ms: number;
  ranged: { bytes: number; requests: number };
  validator: { bytesFetched: number; requests: number; framesChecked: number[] } | null;
  maxRssMB: number;
  log: string[];
}

async function child(arg: string): Promise<void> {
  const { settings, record } = JSON.parse(arg) as { settings: S3ClientSettings; record: Parameters<typeof uploadFromRecord>[0] };
  const reader = new S3RangeReader(settings, { timeoutMs: 60_000 });
  const client = makeS3Client(settings);
  const log = new MemoryLogger();
  const t0 = performance.now();
  const out = await ingestUpload(uploadFromRecord(record), {
    objects: new S3ObjectStore(client),
    openScan: rangeOpener(reader),
    submitter: new MemorySubmitter(),
    notifier: new MemoryNotifier(),
    uploads: new MemoryIdempotencyStore(),
    settings: { ...DEFAULT_SETTINGS, resultsBucket: RESULTS },
    log,
  });
  const ms = performance.now() - t0;
  const validated = log.lines.find((l) => l.message === "validated");
  const result: ChildResult = {
    status: out.status,
    ms,
    ranged: { bytes: reader.stats.bytesFetched, requests: reader.stats.requests },
    validator: validated ? { bytesFetched: validated.fields.bytesFetched as number, requests: validated.fields.requests as number, framesChecked: [] } : null,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
    log: log.lines.map((l) => `${l.level} ${l.message} ${JSON.stringify(l.fields)}`),
  };
  reader.close();
  client.destroy();
  process.stdout.write(JSON.stringify(result));
}

async function main(): Promise<void> {
  let scan = values.scan;
  if (!scan) {
    scan = path.join(root, "runs", "large", "scan.h5");
    if (!fs.existsSync(scan)) {
      console.error(`simulating the large preset into ${path.dirname(scan)} (about 40 s)...`);
      execFileSync(process.execPath, [path.join(root, "bin", "ptyxrf.js"), "simulate", "--preset", "large", "--seed", "1", "--out", path.dirname(scan)], { stdio: "inherit" });
    }
  }
  const size = fs.statSync(scan).size;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ptyxrf-bench-ingest-"));
  const s3 = await startLocalS3({ directory: dir, buckets: [BUCKET, RESULTS] });
  try {
    const client = makeS3Client(s3.settings);
    const t0 = performance.now();
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: fs.createReadStream(scan), ContentLength: size }));
    const uploadS = (performance.now() - t0) / 1000;
    client.destroy();
    const [record] = await s3.waitForEvents(1, 60_000);
    const r = spawnSync(process.execPath, [here, "--child", JSON.stringify({ settings: s3.settings, record })], { encoding: "utf8", maxBuffer: 1 << 24 });
    if (r.status !== 0) throw new Error(`the measuring process failed (${r.status}): ${r.stderr}`);
    const res = JSON.parse(r.stdout) as ChildResult;
    const fraction = res.ranged.bytes / size;
    const report = {
      scan, size_bytes: size, size_GiB: +(size / 2 ** 30).toFixed(3), upload_s: +uploadS.toFixed(1),
      outcome: res.status,
      ranged_get_bytes: res.ranged.bytes, ranged_get_requests: res.ranged.requests,
      fraction_fetched_pct: +(100 * fraction).toFixed(3),
      other_requests: "1 HEAD + 1 GET of the (absent) config sidecar",
      ingest_ms: +res.ms.toFixed(0),
      peak_rss_MB: +res.maxRssMB.toFixed(1),
      bars: { fetched_le_2pct: fraction <= 0.02, rss_lt_400MB: res.maxRssMB < 400, size_ge_1GB: size >= 1e9 },
    };
    if (values.json) console.log(JSON.stringify(report));
    else {
      for (const [k, v] of Object.entries(report)) console.log(`${k.padEnd(22)} ${typeof v === "object" ? JSON.stringify(v) : v}`);
      for (const line of res.log) console.log(`  ${line}`);
    }
    if (!report.bars.fetched_le_2pct || !report.bars.rss_lt_400MB) process.exitCode = 1;
  } finally {
    await s3.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (values.child) await child(values.child);
else await main();
