/**
 * Presigned links in notifications: the expiry setting, the signed keys and their X-Amz-* parameters, the
 * cap at the signing credentials' expiration, and how the links appear in the message text and JSON.
 * No network: signing is local, and the one HEAD request (is there a report.html?) goes to a mocked S3.
 */
import { HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { rejectionLinks, rejectionNotification, type RejectionReport } from "../../../src/pipeline/ingest/messages.js";
import {
  DEFAULT_LINK_EXPIRY_SECONDS, expiryText, LinkExpiryError, linkExpiryFromEnv, parseLinkExpiry, presignGet, runLinks, type RunLinks,
} from "../../../src/pipeline/notify/links.js";
import { S3ObjectStore, type ObjectStore } from "../../../src/pipeline/storage/objectStore.js";
import type { WorkerJob } from "../../../src/pipeline/worker/job.js";
import { runDownloadLinks, succeededNotification, type RunSummary } from "../../../src/pipeline/worker/messages.js";
import { resolveConfig } from "../../../src/solver/config.js";

const NOW = Date.parse("2026-11-20T10:00:00.000Z");
const ENDPOINT = "http://127.0.0.1:4568";
const BUCKET = "ptyxrf-results";
const PREFIX = "results/alice/run-17/0123456789abcdef/";

type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: Date };
const client = (credentials: Creds = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" }) =>
  new S3Client({ region: "eu-west-1", endpoint: ENDPOINT, forcePathStyle: true, credentials });

function query(url: string): URLSearchParams {
  return new URL(url).searchParams;
}

const s3mock = mockClient(S3Client);
afterEach(() => s3mock.reset());

describe("link expiry setting", () => {
  it("defaults to 7 days, the SigV4 maximum; accepts whole seconds 1..604800", () => {
    expect(DEFAULT_LINK_EXPIRY_SECONDS).toBe(604_800);
    expect(parseLinkExpiry(undefined)).toBe(604_800);
    expect(parseLinkExpiry("")).toBe(604_800);
    expect(parseLinkExpiry("1")).toBe(1);
    expect(parseLinkExpiry(" 3600 ")).toBe(3600);
    expect(parseLinkExpiry(604_800)).toBe(604_800);
    expect(linkExpiryFromEnv({ PTYXRF_LINK_EXPIRY_SECONDS: "86400" })).toBe(86_400);
    expect(linkExpiryFromEnv({})).toBe(604_800);
  });

  it("rejects values outside 1..604800 and non-integers, naming the setting and the value", () => {
    for (const bad of ["0", "604801", "1.5", "-5", "7d", "1e3", "abc"]) {
      expect(() => linkExpiryFromEnv({ PTYXRF_LINK_EXPIRY_SECONDS: bad }), bad).toThrow(LinkExpiryError);
      expect(() => linkExpiryFromEnv({ PTYXRF_LINK_EXPIRY_SECONDS: bad }), bad).toThrow(new RegExp(`PTYXRF_LINK_EXPIRY_SECONDS must be a whole number of seconds from 1 to 604800.*"${bad.replace(/[.+]/g, "\\$&")}"`));
    }
    expect(() => parseLinkExpiry(0.5, "--link-expiry")).toThrow(/--link-expiry must be/);
  });
});

describe("signing", () => {
  it("signs a GET of the object's key, X-Amz-Expires as asked, dated at the signing time", async () => {
    const link = await presignGet(client(), BUCKET, `${PREFIX}result.h5`, { expirySeconds: 3600, now: NOW + 400 });
    const url = new URL(link.url);
    expect(`${url.origin}${url.pathname}`).toBe(`${ENDPOINT}/${BUCKET}/${PREFIX}result.h5`);
    const q = url.searchParams;
    expect(q.get("X-Amz-Algorithm")).toBe("AWS4-HMAC-SHA256");
    expect(q.get("X-Amz-Expires")).toBe("3600");
    expect(q.get("X-Amz-Date")).toBe("20261120T100000Z");
    expect(q.get("X-Amz-Credential")).toBe("AKIDEXAMPLE/20261120/eu-west-1/s3/aws4_request");
    expect(q.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
    expect(link).toMatchObject({ expiresAt: "2026-11-20T11:00:00Z" });
    expect(link.limitedBy).toBeUndefined();
    expect(link.mayExpireEarlier).toBeUndefined();
  });

  it("caps the expiry at the signing credentials' expiration, and says so", async () => {
    const expiration = new Date(NOW + 5 * 3600_000 + 30_500);
    const link = await presignGet(client({ accessKeyId: "ASIAX", secretAccessKey: "s", sessionToken: "tok", expiration }), BUCKET, "k", { expirySeconds: 604_800, now: NOW });
    expect(query(link.url).get("X-Amz-Expires")).toBe(String(5 * 3600 + 30));
    expect(query(link.url).get("X-Amz-Security-Token")).toBe("tok");
    expect(link).toMatchObject({ expiresAt: "2026-11-20T15:00:30Z", limitedBy: "credentials" });
    // credentials outliving the setting: the setting wins
    const short = await presignGet(client({ accessKeyId: "ASIAX", secretAccessKey: "s", sessionToken: "tok", expiration }), BUCKET, "k", { expirySeconds: 60, now: NOW });
    expect(query(short.url).get("X-Amz-Expires")).toBe("60");
    expect(short.limitedBy).toBeUndefined();
  });

  it("temporary credentials without an expiration: the links may stop working sooner", async () => {
    const link = await presignGet(client({ accessKeyId: "ASIAX", secretAccessKey: "s", sessionToken: "tok" }), BUCKET, "k", { expirySeconds: 7200, now: NOW });
    expect(link).toMatchObject({ expiresAt: "2026-11-20T12:00:00Z", mayExpireEarlier: true });
  });

  it("rejects an invalid expiry before signing anything", async () => {
    await expect(presignGet(client(), BUCKET, "k", { expirySeconds: 604_801, now: NOW })).rejects.toThrow(LinkExpiryError);
  });

  it("a run's links: report.html, result.h5, metrics.json, manifest.json in the run folder, one expiry", async () => {
    const links = await runLinks(client(), BUCKET, PREFIX, ["result.h5", "metrics.json", "report.html", "manifest.json"], { expirySeconds: 86_400, now: NOW });
    expect(s3mock.commandCalls(HeadObjectCommand)).toHaveLength(0); // report.html is in the list: no lookup
    const paths = Object.fromEntries((["report", "result", "metrics", "manifest"] as const).map((k) => [k, new URL(links[k]!).pathname]));
    expect(paths).toEqual({
      report: `/${BUCKET}/${PREFIX}report.html`, result: `/${BUCKET}/${PREFIX}result.h5`,
      metrics: `/${BUCKET}/${PREFIX}metrics.json`, manifest: `/${BUCKET}/${PREFIX}manifest.json`,
    });
    expect(links.expiresAt).toBe("2026-11-21T10:00:00Z");
    for (const k of ["report", "result", "metrics", "manifest"] as const) expect(query(links[k]!).get("X-Amz-Expires")).toBe("86400");
  });

  it("report.html not among the files: looked up; absent -> null, present -> linked", async () => {
    s3mock.on(HeadObjectCommand).rejects(Object.assign(new Error("NotFound"), { name: "NotFound", $metadata: { httpStatusCode: 404 } }));
    const none = await runLinks(client(), BUCKET, PREFIX, ["result.h5"], { expirySeconds: 60, now: NOW });
    expect(none.report).toBeNull();
    expect(s3mock.commandCalls(HeadObjectCommand)[0]!.args[0].input).toEqual({ Bucket: BUCKET, Key: `${PREFIX}report.html` });
    s3mock.reset();
    s3mock.on(HeadObjectCommand).resolves({ ContentLength: 10 });
    const some = await runLinks(client(), BUCKET, PREFIX, ["result.h5"], { expirySeconds: 60, now: NOW });
    expect(new URL(some.report!).pathname).toBe(`/${BUCKET}/${PREFIX}report.html`);
  });

  it("a failed lookup (access denied) becomes the reason in the message, not a failed notification", async () => {
    s3mock.on(HeadObjectCommand).rejects(Object.assign(new Error("Access Denied"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } }));
    const outcome = await runDownloadLinks(client(), { bucket: BUCKET, key: PREFIX }, ["result.h5"], 60, NOW);
    expect(outcome).toEqual({ error: "Access Denied" });
  });
});

const job: WorkerJob = {
  scan: { bucket: "ptyxrf-scans", key: "incoming/alice/run-17.h5" }, scanUri: "s3://ptyxrf-scans/incoming/alice/run-17.h5", scanVersion: "v1",
  out: { bucket: BUCKET, key: PREFIX }, outUri: `s3://${BUCKET}/${PREFIX}`, config: resolveConfig({ iterations: 10 }), user: "alice",
  truth: null, jobId: "job-1", attempt: 1,
};
const summary: RunSummary = {
  runId: "0123456789abcdef", mode: "joint", iterations: 10, wall_s: 1.5, ms_per_iter: 150, engine: "cpu", device: "cpu",
  final: { loss_total: 0.5 }, initialErrors: null, resumedFrom: 0, attempt: 1, jobWall_s: 3,
};
const files = ["result.h5", "metrics.json", "manifest.json"].map((name) => ({ name, bytes: 10, uri: `${job.outUri}${name}` }));

describe("expiry for people", () => {
  it("the time in UTC, how long from now, and why it may be shorter than configured", () => {
    expect(expiryText({ expiresAt: "2026-11-27T10:00:00Z" }, NOW)).toBe("2026-11-27 10:00:00 UTC (in 7 days)");
    expect(expiryText({ expiresAt: "2026-11-20T15:54:00Z", limitedBy: "credentials" }, NOW))
      .toBe("2026-11-20 15:54:00 UTC (in 5.9 hours; capped at the expiry of the credentials that signed them)");
    expect(expiryText({ expiresAt: "2026-11-20T10:30:00Z", mayExpireEarlier: true }, NOW))
      .toBe("2026-11-20 10:30:00 UTC (in 30 minutes; signed with temporary credentials, they may stop working sooner)");
  });
});

describe("the finished-run message", () => {
  it("lists the links with their expiry in the text, and carries them as `links` in the JSON", async () => {
    s3mock.on(HeadObjectCommand).rejects(Object.assign(new Error("NotFound"), { name: "NotFound", $metadata: { httpStatusCode: 404 } }));
    const download = await runDownloadLinks(client(), job.out, files.map((f) => f.name), 604_800, NOW);
    expect("links" in download).toBe(true);
    const links = (download as { links: RunLinks }).links;
    const n = succeededNotification(job, summary, files, { download });
    expect(n.details.links).toEqual(links);
    expect(Object.keys(n.details.links as object).sort()).toEqual(["expiresAt", "manifest", "metrics", "report", "result"]);
    expect(n.details.linksError).toBeUndefined();
    const text = n.text.split("\n");
    const at = text.findIndex((l) => l.startsWith("Download links, valid until 2026-11-27 10:00:00 UTC (in "));
    expect(at).toBeGreaterThan(0);
    expect(text.slice(at + 1, at + 5)).toEqual([
      "  report.html    (none: this run folder has no report.html)",
      `  result.h5      ${links.result}`,
      `  metrics.json   ${links.metrics}`,
      `  manifest.json  ${links.manifest}`,
    ]);
    // the existing fields are still there
    expect(n.details).toMatchObject({ runId: "0123456789abcdef", resultPrefix: job.outUri, files });
  });

  it("without links: says why, `linksError` in the JSON; without a link outcome: no links section at all", () => {
    const n = succeededNotification(job, summary, files, { download: { error: "PTYXRF_LINK_EXPIRY_SECONDS must be a whole number" } });
    expect(n.text).toContain("Download links: none (PTYXRF_LINK_EXPIRY_SECONDS must be a whole number).");
    expect(n.details).toMatchObject({ linksError: "PTYXRF_LINK_EXPIRY_SECONDS must be a whole number" });
    expect(n.details.links).toBeUndefined();
    const plain = succeededNotification(job, summary, files);
    expect(plain.text).not.toContain("Download links");
    expect(plain.details.links).toBeUndefined();
    expect(plain.details.linksError).toBeUndefined();
  });
});

describe("the rejection message", () => {
  const report: RejectionReport = {
    kind: "ptyxrf-rejection", version: 1,
    scan: { uri: "s3://ptyxrf-scans/incoming/alice/bad.h5", bucket: "ptyxrf-scans", key: "incoming/alice/bad.h5", etag: "e", size: 10 },
    user: "alice", uploadId: "u", resultPrefix: `s3://${BUCKET}/${PREFIX}`, rejectedAt: "2026-11-20T10:00:00Z", summary: "1 problem (scan: 1)",
    problems: [{ source: "scan", code: "missing-dataset", path: "/xrf/positions", message: "/xrf/positions is missing", expected: "dataset", found: "nothing" } as RejectionReport["problems"][number]],
    warnings: [], config: { source: "defaults", origin: null }, read: null,
  };

  it("links the rejection report (S3 object stores), with its expiry", async () => {
    const key = `${PREFIX}rejection.json`;
    const links = await rejectionLinks(new S3ObjectStore(client()), BUCKET, key, 3600, NOW);
    expect(links && "links" in links).toBe(true);
    const url = (links as { links: { report: string } }).links.report;
    expect(new URL(url).pathname).toBe(`/${BUCKET}/${key}`);
    const n = rejectionNotification(report, `s3://${BUCKET}/${key}`, links);
    expect(n.details).toMatchObject({ report: `s3://${BUCKET}/${key}`, links: { report: url, expiresAt: "2026-11-20T11:00:00Z" } });
    expect(n.text).toContain("Download links, valid until 2026-11-20 11:00:00 UTC (in ");
    expect(n.text).toContain(`  rejection.json ${url}`);
    expect(n.text.indexOf("Full report:")).toBeLessThan(n.text.indexOf("Download links"));
  });

  it("other object stores (tests' memory stores): no links, and the message is as before", async () => {
    const memory: ObjectStore = { head: async () => null, getText: async () => null, putJson: async () => undefined };
    expect(await rejectionLinks(memory, BUCKET, "k")).toBeUndefined();
    const n = rejectionNotification(report, "s3://b/k", undefined);
    expect(n.text).not.toContain("Download links");
    expect(n.details.links).toBeUndefined();
  });
});
