/**
 * Presigned links in notifications, end to end on loopback: s3rver on 127.0.0.1, the worker process
 * (dist/container/worker.js, Batch's arguments and environment, PTYXRF_LINK_EXPIRY_SECONDS) and the
 * upload handler's rejection path. Every link is fetched with Node's fetch and compared byte for byte
 * with the object; an expired link is refused.
 *
 * s3rver 3.7.1 checks a V4 presigned URL's access key and its expiry (X-Amz-Date + X-Amz-Expires against
 * its clock), but not the signature itself ("Signature version 4 calculation is unimplemented"): a
 * tampered signature is accepted there, so it is not asserted here (S3 refuses it with SignatureDoesNotMatch).
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingestUpload, DEFAULT_SETTINGS, rangeOpener } from "../../src/pipeline/ingest/ingest.js";
import { MemoryLogger } from "../../src/pipeline/ingest/log.js";
import { readNotifications, type NotificationLine } from "../../src/pipeline/local/notifications.js";
import { cleanEnv, workerArgv } from "../../src/pipeline/local/runner.js";
import { LOCAL_CREDENTIALS, S3Server } from "../../src/pipeline/local/s3server.js";
import { handleJobStateChange, type BatchJobEvent } from "../../src/pipeline/notify/batchEvents.js";
import { presignGet, type FailureLinks, type RejectionLinks, type RunLinks } from "../../src/pipeline/notify/links.js";
import { MemoryNotifier } from "../../src/pipeline/notify/notifier.js";
import { MemoryIdempotencyStore } from "../../src/pipeline/storage/idempotency.js";
import { S3ObjectStore } from "../../src/pipeline/storage/objectStore.js";
import { EXIT } from "../../src/pipeline/worker/exitCodes.js";
import { makeS3Client } from "../../src/scan/s3Client.js";
import { S3RangeReader } from "../../src/scan/s3Source.js";
import { reader, writer } from "../../src/scan/h5runtime.js";
import { writeScan } from "../../src/scan/write.js";
import { simulate } from "../../src/sim/simulate.js";
import { packageRoot } from "../../src/version.js";
import { rewriteH5 } from "../scan/fixtures.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const SCANS = "ptyxrf-scans", RESULTS = "ptyxrf-results";
const RUN = "results/u/good/0123456789abcdef/";
let dir: string;
let server: S3Server;
let s3: S3Client;
let etag: string;
let badBytes: Buffer;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ptyxrf-links-"));
  server = new S3Server({ directory: path.join(dir, "s3"), buckets: [SCANS, RESULTS] });
  await server.start();
  expect(new URL(server.endpoint).hostname).toBe("127.0.0.1");
  s3 = makeS3Client(server.settings);
  await Promise.all([reader(), writer()]);
  const sim = simulate({ preset: "small", seed: 3 });
  const scan = path.join(dir, "scan.h5");
  await writeScan(scan, sim.header, sim.frames, { compression: "none" });
  const put = await s3.send(new PutObjectCommand({ Bucket: SCANS, Key: "incoming/u/good.h5", Body: fs.readFileSync(scan) }));
  etag = (put.ETag ?? "").replace(/"/g, "");
  await rewriteH5(scan, path.join(dir, "bad.h5"), { drop: ["/xrf/positions"] });
  badBytes = fs.readFileSync(path.join(dir, "bad.h5"));
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const notifications = () => path.join(dir, "notifications.jsonl");

/** The worker as Batch runs it (the job definition's command), against s3rver; returns its exit code. */
function worker(env: Record<string, string>): Promise<number | null> {
  const [, ...args] = workerArgv({
    scanUri: `s3://${SCANS}/incoming/u/good.h5`, scanVersion: `etag:${etag}`, resultPrefix: `s3://${RESULTS}/${RUN}`,
    config: JSON.stringify({ iterations: 4 }), user: "u",
  });
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: packageRoot(),
      env: {
        ...cleanEnv(), AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        PTYXRF_S3_ENDPOINT: server.endpoint, PTYXRF_S3_CHECKSUMS: "WHEN_REQUIRED", PTYXRF_SCRATCH: path.join(dir, "scratch"),
        PTYXRF_NOTIFY_FILE: notifications(), AWS_BATCH_JOB_ID: "job-links", AWS_BATCH_JOB_ATTEMPT: "1",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", PTYXRF_S3_ATTEMPTS: "2", PTYXRF_PROGRESS_SECONDS: "0", ...env,
      },
      stdio: ["ignore", "ignore", "ignore"],
    });
    child.on("close", resolve);
  });
}

function lastSucceeded(): NotificationLine {
  const all = readNotifications(notifications()).filter((n) => n.kind === "succeeded");
  expect(all.length).toBeGreaterThan(0);
  return all[all.length - 1]!;
}

async function objectBytes(bucket: string, key: string): Promise<Buffer> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

/** GET a link from loopback only; its status and body. */
async function fetchLink(url: string): Promise<{ status: number; body: Buffer }> {
  expect(new URL(url).hostname).toBe("127.0.0.1");
  const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
}

async function expectLinkServes(url: string, bucket: string, key: string): Promise<void> {
  expect(new URL(url).pathname).toBe(`/${bucket}/${key}`);
  const got = await fetchLink(url);
  expect(got.status, got.body.toString("utf8").slice(0, 300)).toBe(200);
  expect(got.body.equals(await objectBytes(bucket, key)), key).toBe(true);
}

describe("presigned links on the local profile (s3rver on 127.0.0.1)", () => {
  it("the worker's notification links result.h5, metrics.json, manifest.json (and report.html when there), each fetchable", async () => {
    expect(await worker({ PTYXRF_LINK_EXPIRY_SECONDS: "3600" })).toBe(EXIT.ok);
    const n = lastSucceeded();
    const links = n.details.links as RunLinks;
    expect(links, JSON.stringify(n.details.linksError)).toBeDefined();
    for (const [field, name] of [["result", "result.h5"], ["metrics", "metrics.json"], ["manifest", "manifest.json"]] as const) {
      await expectLinkServes(links[field], RESULTS, `${RUN}${name}`);
      expect(new URL(links[field]).searchParams.get("X-Amz-Expires")).toBe("3600");
      expect(n.text).toContain(links[field]);
    }
    const expiresIn = (Date.parse(links.expiresAt) - Date.now()) / 1000;
    expect(expiresIn).toBeGreaterThan(3000);
    expect(expiresIn).toBeLessThanOrEqual(3600);
    expect(n.text).toContain(`Download links, valid until ${links.expiresAt.replace("T", " ").replace("Z", " UTC")} (in `);
    // report.html comes from the run's outputs where they include it: linked exactly when the object exists
    const report = await s3.send(new GetObjectCommand({ Bucket: RESULTS, Key: `${RUN}report.html` })).then(() => true, () => false);
    if (report) await expectLinkServes(links.report!, RESULTS, `${RUN}report.html`);
    else {
      expect(links.report).toBeNull();
      expect(n.text).toContain("report.html    (none: this run folder has no report.html)");
    }
  });

  it("a retry of a complete run re-notifies with links, report.html included once it exists; a bad expiry setting: no links, said why, still exit 0", async () => {
    const html = Buffer.from("<!doctype html><title>run</title><p>report of this run</p>\n");
    await s3.send(new PutObjectCommand({ Bucket: RESULTS, Key: `${RUN}report.html`, Body: html, ContentType: "text/html" }));
    expect(await worker({})).toBe(EXIT.ok);
    const n = lastSucceeded();
    const links = n.details.links as RunLinks;
    await expectLinkServes(links.report!, RESULTS, `${RUN}report.html`);
    expect((await fetchLink(links.report!)).body.equals(html)).toBe(true);
    expect(new URL(links.result).searchParams.get("X-Amz-Expires")).toBe("604800"); // the default: 7 days
    expect(n.text).toContain(`report.html    ${links.report}`);

    expect(await worker({ PTYXRF_LINK_EXPIRY_SECONDS: "604801" })).toBe(EXIT.ok);
    const bad = lastSucceeded();
    expect(bad.details.links).toBeUndefined();
    expect(bad.details.linksError).toMatch(/PTYXRF_LINK_EXPIRY_SECONDS must be a whole number of seconds from 1 to 604800.*"604801"/);
    expect(bad.text).toContain("Download links: none (PTYXRF_LINK_EXPIRY_SECONDS must be");
  });

  it("an expired link is refused (AccessDenied, 'Request has expired'); a valid one to the same object is served", async () => {
    const key = `${RUN}metrics.json`;
    const expired = await presignGet(s3, RESULTS, key, { expirySeconds: 60, now: Date.now() - 3600_000 });
    const r = await fetchLink(expired.url);
    expect(r.status).toBe(403);
    expect(r.body.toString("utf8")).toMatch(/AccessDenied[\s\S]*Request has expired/);
    const fresh = await presignGet(s3, RESULTS, key, { expirySeconds: 60 });
    await expectLinkServes(fresh.url, RESULTS, key);
  });

  it("a failed job's notification (the notifier Lambda's code) links the worker's error.json, or says there is none", async () => {
    const failed = (resultPrefix: string): BatchJobEvent => ({
      version: "0", id: "e", "detail-type": "Batch Job State Change", source: "aws.batch", account: "1", time: "", region: "us-east-1", resources: [],
      detail: { jobName: "ptyxrf-u-x", jobId: "j", status: "FAILED", container: { exitCode: 2 }, parameters: { user: "u", scanUri: `s3://${SCANS}/incoming/u/x.h5`, resultPrefix } },
    });
    const prefix = "results/u/failed/00112233aabbccdd/";
    await s3.send(new PutObjectCommand({ Bucket: RESULTS, Key: `${prefix}error.json`, Body: JSON.stringify({ kind: "ptyxrf-error", message: "invalid scan" }) }));
    const notifier = new MemoryNotifier();
    const n = (await handleJobStateChange(failed(`s3://${RESULTS}/${prefix}`), notifier, new MemoryLogger(), { s3, expirySeconds: 600 }))!;
    const links = n.details.links as FailureLinks;
    await expectLinkServes(links.error!, RESULTS, `${prefix}error.json`);
    expect(n.text).toMatch(new RegExp(`error\\.json\\s+${links.error!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    const none = (await handleJobStateChange(failed(`s3://${RESULTS}/results/u/lost/0000000000000000/`), notifier, new MemoryLogger(), { s3 }))!;
    expect((none.details.links as FailureLinks).error).toBeNull();
    expect(none.text).toMatch(/error\.json\s+\(none: the worker wrote no error report\)/);
  });

  it("a rejected upload's notification links its rejection.json", async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket: SCANS, Key: "incoming/u/broken.h5", Body: badBytes }));
    const notifier = new MemoryNotifier();
    const rangeReader = new S3RangeReader(server.settings, { timeoutMs: 20_000 });
    try {
      const out = await ingestUpload(
        { bucket: SCANS, key: "incoming/u/broken.h5", etag: (put.ETag ?? "").replace(/"/g, ""), eventName: "ObjectCreated:Put", sequencer: "01" },
        {
          objects: new S3ObjectStore(s3), openScan: rangeOpener(rangeReader), notifier, uploads: new MemoryIdempotencyStore(), log: new MemoryLogger(),
          submitter: { findJob: async () => null, submit: async () => { throw new Error("a rejected upload submits no job"); } },
          settings: { ...DEFAULT_SETTINGS, resultsBucket: RESULTS, scanBuckets: [SCANS] },
        },
      );
      expect(out.status).toBe("rejected");
      const reportKey = (out as { reportKey: string }).reportKey;
      const [n] = notifier.sent;
      expect(n!.kind).toBe("rejected");
      const links = n!.details.links as RejectionLinks;
      await expectLinkServes(links.report, RESULTS, reportKey);
      expect(JSON.parse((await fetchLink(links.report)).body.toString("utf8"))).toMatchObject({ kind: "ptyxrf-rejection", user: "u" });
      expect(n!.text).toContain(`rejection.json ${links.report}`);
      expect(Date.parse(links.expiresAt)).toBeGreaterThan(Date.now());
    } finally {
      rangeReader.close();
    }
  });
});
