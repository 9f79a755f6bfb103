/**
 * The upload handler end to end against s3rver (real S3 HTTP, ranged reads through the worker-thread
 * bridge), with Batch and SNS mocked: valid uploads submit exactly one job however often they are delivered;
 * bad scans from the validator's corpus are rejected with a report naming every problem and stay
 * byte-identical; per-upload configs; keys that are not scans; failures that must be retried.
 */
import fs from "node:fs";
import path from "node:path";
import { ListJobsCommand, SubmitJobCommand } from "@aws-sdk/client-batch";
import { PublishCommand } from "@aws-sdk/client-sns";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ingestUpload, RetryableError, uploadId, type CheckedSource } from "../../../src/pipeline/ingest/ingest.js";
import { uploadFromRecord } from "../../../src/pipeline/ingest/events.js";
import type { RejectionReport } from "../../../src/pipeline/ingest/messages.js";
import { handleSqsBatch } from "../../../src/pipeline/ingest/sqs.js";
import { FileIdempotencyStore, MemoryIdempotencyStore, type IdempotencyStore } from "../../../src/pipeline/storage/idempotency.js";
import { resolveConfig } from "../../../src/solver/config.js";
import { S3RangeSource, S3ReadError } from "../../../src/scan/s3Source.js";
import { validateScan } from "../../../src/scan/validate.js";
import { editH5, rewriteH5, writeValidScan } from "../../scan/fixtures.js";
import {
  etagOf, getBytes, getJson, JOBDEF_ARN, makeDeps, mockServices, QUEUE_ARN, RESULTS, SCANS, sha256, sqsEvent, sqsRecord, startEnv, upload,
  type Env,
} from "./helpers.js";

let env: Env;
let files: string;
let validScan: Uint8Array;
let services: ReturnType<typeof mockServices>;

beforeAll(async () => {
  env = await startEnv();
  files = path.join(env.dir, "files");
  fs.mkdirSync(files);
  await writeValidScan(path.join(files, "valid.h5"));
  validScan = fs.readFileSync(path.join(files, "valid.h5"));
});
afterAll(async () => env?.close());
beforeEach(() => {
  services = mockServices();
});
afterEach(() => services.restore());

describe("valid uploads", () => {
  it("validates by ranged reads and submits one job with a deterministic name, the scan URI, result prefix and config", async () => {
    // A 32 MiB scan: 2000 frames of 64 x 64 uint32.
    const big = path.join(files, "big.h5");
    await writeValidScan(big, { npos: 2000, n: 64 });
    const bytes = fs.readFileSync(big);
    const rec = await upload(env, "incoming/alice/2026/run-17.h5", bytes);
    const deps = makeDeps(env);
    const { response, outcomes } = await handleSqsBatch(sqsEvent(sqsRecord([rec])), deps);
    expect(response.batchItemFailures).toEqual([]);
    expect(outcomes).toHaveLength(1);
    const out = outcomes[0];
    if (out.status !== "submitted") throw new Error(`expected submitted, got ${JSON.stringify(out)}`);

    // Only metadata and the sampled frames travelled.
    expect(out.read.bytesFetched).toBeLessThan(0.05 * bytes.length);
    expect(out.read.requests).toBeGreaterThan(0);
    const local = await validateScan(big);
    expect(local.ok).toBe(true);

    const submits = services.submits();
    expect(submits).toHaveLength(1);
    const id = uploadId(SCANS, "incoming/alice/2026/run-17.h5", `etag:${rec.s3.object.eTag}@${rec.s3.object.sequencer}`);
    expect(out.uploadId).toBe(id);
    const tag = id.slice(0, 16);
    expect(submits[0]).toEqual({
      jobName: `ptyxrf-alice-2026-run-17-${tag}`,
      jobQueue: QUEUE_ARN,
      jobDefinition: JOBDEF_ARN,
      parameters: {
        scanUri: `s3://${SCANS}/incoming/alice/2026/run-17.h5`,
        scanVersion: `etag:${rec.s3.object.eTag}`,
        resultPrefix: `s3://${RESULTS}/results/alice/2026/run-17/${tag}/`,
        config: JSON.stringify(resolveConfig({})),
        user: "alice",
      },
    });
    const pubs = services.publishes();
    expect(pubs).toHaveLength(1);
    expect(pubs[0].MessageAttributes).toEqual({ user: { DataType: "String", StringValue: "alice" }, event: { DataType: "String", StringValue: "submitted" } });
    expect(pubs[0].Subject).toBe("ptyxrf: submitted run-17.h5 (job job-1)");
    const message = JSON.parse(pubs[0].Message!);
    expect(message.email).toContain("job id       job-1");
    expect(JSON.parse(message.sqs)).toMatchObject({ user: "alice", event: "submitted", jobId: "job-1" });
    const record = await deps.uploads.get(id);
    expect(record).toMatchObject({ status: "submitted", jobId: "job-1", notified: true, user: "alice" });
    expect(deps.log.messages()).toEqual(["validated", "submitted", "notified"]);
  });

  it("the same upload delivered three times submits one job and notifies once", async () => {
    const rec = await upload(env, "incoming/bob/triple.h5", validScan);
    const deps = makeDeps(env);
    const statuses: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { response, outcomes } = await handleSqsBatch(sqsEvent(sqsRecord([rec])), deps);
      expect(response.batchItemFailures).toEqual([]);
      statuses.push(outcomes[0].status);
    }
    expect(statuses).toEqual(["submitted", "duplicate", "duplicate"]);
    expect(services.submits()).toHaveLength(1);
    expect(services.publishes()).toHaveLength(1);
  });

  it("three concurrent deliveries: one claims and submits, the others are retried and then find it done", async () => {
    const rec = await upload(env, "incoming/bob/concurrent.h5", validScan);
    const store = new FileIdempotencyStore(path.join(env.dir, "records"));
    // Hold every claim until all three deliveries have reached it: they race on the record itself.
    let arrived = 0;
    let release!: () => void;
    const barrier = new Promise<void>((r) => (release = r));
    const racing: IdempotencyStore = {
      claim: async (...args) => {
        if (++arrived === 3) release();
        await barrier;
        return store.claim(...args);
      },
      update: (...args) => store.update(...args),
      release: (...args) => store.release(...args),
      get: (id) => store.get(id),
    };
    const deps = makeDeps(env, { uploads: racing });
    const first = await Promise.all([0, 1, 2].map(() => handleSqsBatch(sqsEvent(sqsRecord([rec])), deps)));
    expect(first.flatMap((r) => r.outcomes.map((o) => o.status))).toEqual(["submitted"]);
    expect(first.filter((r) => r.response.batchItemFailures.length === 1)).toHaveLength(2);
    expect(deps.log.messages("info").filter((m) => m === "busy")).toHaveLength(2);
    // SQS redelivers the two failed messages after the visibility timeout.
    const again = await Promise.all([0, 1].map(() => handleSqsBatch(sqsEvent(sqsRecord([rec])), makeDeps(env, { uploads: store }))));
    expect(again.flatMap((r) => r.outcomes.map((o) => o.status))).toEqual(["duplicate", "duplicate"]);
    expect(services.submits()).toHaveLength(1);
    expect(services.publishes()).toHaveLength(1);
  });

  it("a recovered claim (the previous invocation died after submitting) adopts the job found by name", async () => {
    const rec = await upload(env, "incoming/carol/recover.h5", validScan);
    let clock = 1_000_000;
    const uploads = new MemoryIdempotencyStore();
    const deps = makeDeps(env, { uploads, now: () => clock });
    // First invocation "dies" right after SubmitJob: the record stays `processing`.
    services.batch.on(SubmitJobCommand).rejectsOnce(new Error("lost connection after submit"));
    const { response } = await handleSqsBatch(sqsEvent(sqsRecord([rec])), deps);
    expect(response.batchItemFailures).toHaveLength(1);
    const [record] = [...uploads.records.values()];
    expect(record.status).toBe("processing");
    // Batch did create the job; the retry after the lease finds it by name.
    services.batch.on(ListJobsCommand).callsFake((input: { filters: { values: string[] }[] }) => ({
      jobSummaryList: [{ jobId: "job-from-before", jobName: input.filters[0].values[0] }],
    }));
    const early = await handleSqsBatch(sqsEvent(sqsRecord([rec])), deps);
    expect(early.response.batchItemFailures).toHaveLength(1); // the lease is still held
    clock += deps.settings.leaseMs + 1;
    const later = await handleSqsBatch(sqsEvent(sqsRecord([rec])), deps);
    expect(later.outcomes[0]).toMatchObject({ status: "submitted", jobId: "job-from-before", adopted: true });
    expect(services.submits()).toHaveLength(1); // only the first (failed) call
    expect(services.batch.commandCalls(ListJobsCommand)[0].args[0].input).toMatchObject({ jobQueue: QUEUE_ARN });
  });

  it("a failed notification is retried without a second job", async () => {
    const rec = await upload(env, "incoming/dave/notify-fails.h5", validScan);
    const deps = makeDeps(env);
    services.sns.on(PublishCommand).rejectsOnce(new Error("SNS throttled")).resolves({ MessageId: "msg-2" });
    const a = await handleSqsBatch(sqsEvent(sqsRecord([rec])), deps);
    expect(a.response.batchItemFailures).toHaveLength(1);
    const b = await handleSqsBatch(sqsEvent(sqsRecord([rec])), deps);
    expect(b.response.batchItemFailures).toEqual([]);
    expect(b.outcomes[0].status).toBe("duplicate");
    expect(services.submits()).toHaveLength(1);
    expect(services.publishes()).toHaveLength(2);
    const record = (await deps.uploads.get(b.outcomes[0].status === "duplicate" ? b.outcomes[0].uploadId : ""))!;
    expect(record.notified).toBe(true);
  });

  it("a read failure during validation is retried, not reported as a bad scan", async () => {
    const rec = await upload(env, "incoming/erin/flaky.h5", validScan);
    let reads = 0;
    const deps = makeDeps(env, {
      openScan: (ref) => {
        const inner = new S3RangeSource(env.reader, ref);
        const flaky: CheckedSource = {
          name: inner.name, size: inner.size, stats: inner.stats, close: () => inner.close(),
          get error() { return inner.error; },
          readInto(position, target) {
            if (++reads === 2) {
              inner.error = new S3ReadError("injected: connection reset");
              return 0;
            }
            return inner.readInto(position, target);
          },
        };
        return flaky;
      },
    });
    await expect(ingestUpload(uploadFromRecord(rec), deps)).rejects.toThrow(RetryableError);
    expect(services.submits()).toHaveLength(0);
    expect(services.publishes()).toHaveLength(0);
    expect((deps.uploads as MemoryIdempotencyStore).records.size).toBe(0); // claim released
    const next = await ingestUpload(uploadFromRecord(rec), deps);
    expect(next.status).toBe("submitted");
  });

  it("a versioned upload is read and submitted at its version", async () => {
    const rec = await upload(env, "incoming/frank/versioned.hdf5", validScan);
    rec.s3.object.versionId = "3HL4kqtJvjVBH40Nrjfkd"; // s3rver has no versioning; it serves the object for any version id
    const deps = makeDeps(env);
    const out = await ingestUpload(uploadFromRecord(rec), deps);
    expect(out.status).toBe("submitted");
    expect(services.submits()[0].parameters).toMatchObject({ scanVersion: "3HL4kqtJvjVBH40Nrjfkd", scanUri: `s3://${SCANS}/incoming/frank/versioned.hdf5` });
  });

  it("an object overwritten before processing is skipped (its new content has its own event)", async () => {
    const rec = await upload(env, "incoming/frank/overwritten.h5", validScan);
    await upload(env, "incoming/frank/overwritten.h5", "not the scan any more");
    const out = await ingestUpload(uploadFromRecord(rec), makeDeps(env));
    expect(out).toMatchObject({ status: "gone", reason: "overwritten since the event" });
  });
});

describe("bad scans (the validator's corpus) are rejected and left untouched", () => {
  const MAPS = "/xrf/elemental_maps";
  const cases: { name: string; make(file: string): Promise<void> }[] = [
    {
      name: "energy in eV, a short Zn map and no /xrf/positions",
      make: async (f) => {
        const base = `${f}.base.h5`;
        await writeValidScan(base);
        await rewriteH5(base, f, {
          drop: ["/xrf/positions"],
          put: { [`${MAPS}/Zn`]: { data: new Float32Array(7), shape: [7], dtype: "<f" } },
        });
        await editH5(f, (h) => {
          const m = h.get("/metadata") as unknown as { delete_attribute(n: string): void; create_attribute(n: string, v: number, s: null, d: string): void };
          m.delete_attribute("energy_keV");
          m.create_attribute("energy_keV", 10000, null, "<d");
        });
      },
    },
    {
      name: "truncated upload (half of a valid file)",
      make: async (f) => fs.writeFileSync(f, validScan.subarray(0, validScan.length >> 1)),
    },
    {
      name: "not HDF5 (a CSV under a .h5 name)",
      make: async (f) => fs.writeFileSync(f, "y,x\n0,1.5e-7\n"),
    },
  ];

  for (const [i, c] of cases.entries()) {
    it(c.name, async () => {
      const file = path.join(files, `bad-${i}.h5`);
      await c.make(file);
      const bytes = fs.readFileSync(file);
      const local = await validateScan(file);
      expect(local.ok).toBe(false);
      const key = `incoming/grace/bad-${i}.h5`;
      const rec = await upload(env, key, bytes);
      const etagBefore = await etagOf(env, SCANS, key);
      const deps = makeDeps(env);
      const { outcomes } = await handleSqsBatch(sqsEvent(sqsRecord([rec])), deps);
      const out = outcomes[0];
      if (out.status !== "rejected") throw new Error(`expected rejected, got ${out.status}`);
      expect(services.submits()).toHaveLength(0);

      // The report, beside the results, names every problem the validator finds locally.
      expect(out.reportKey).toBe(`results/grace/bad-${i}/${out.uploadId.slice(0, 16)}/rejection.json`);
      const report = await getJson<RejectionReport>(env, RESULTS, out.reportKey);
      expect(report.problems.map((p) => [p.source, p.code, p.path])).toEqual(local.errors.map((e) => ["scan", e.code, e.path]));
      expect(report.problems.map((p) => p.message)).toEqual(local.errors.map((e) => e.message));
      expect(report).toMatchObject({ kind: "ptyxrf-rejection", user: "grace", scan: { uri: `s3://${SCANS}/${key}`, size: bytes.length } });

      // The uploader is told every reason.
      const pubs = services.publishes();
      expect(pubs).toHaveLength(1);
      expect(pubs[0].MessageAttributes?.user.StringValue).toBe("grace");
      expect(pubs[0].MessageAttributes?.event.StringValue).toBe("rejected");
      const text = JSON.parse(pubs[0].Message!).email as string;
      for (const e of local.errors) expect(text).toContain(e.message);
      expect(text).toContain(`s3://${RESULTS}/${out.reportKey}`);

      // The scan is byte-identical.
      expect(sha256(await getBytes(env, SCANS, key))).toBe(sha256(bytes));
      expect(await etagOf(env, SCANS, key)).toBe(etagBefore);

      // A redelivery does not reject twice.
      const again = await handleSqsBatch(sqsEvent(sqsRecord([rec])), deps);
      expect(again.outcomes[0].status).toBe("duplicate");
      expect(services.publishes()).toHaveLength(1);
    });
  }
});

describe("per-upload config", () => {
  it("a sidecar next to the scan is validated with the solver schema and passed to the job", async () => {
    await upload(env, "incoming/heidi/sweep-a.json", JSON.stringify({ iterations: 500, weights: { strategy: "fixed", ptycho: 1.5, xrf: 0.5 } }));
    const rec = await upload(env, "incoming/heidi/sweep-a.h5", validScan);
    const deps = makeDeps(env);
    const { outcomes } = await handleSqsBatch(sqsEvent(sqsRecord([rec])), deps);
    expect(outcomes[0].status).toBe("submitted");
    const config = JSON.parse(services.submits()[0].parameters!.config);
    expect(config).toEqual(resolveConfig({ iterations: 500, weights: { strategy: "fixed", ptycho: 1.5, xrf: 0.5 } }));
    expect(JSON.parse(services.publishes()[0].Message!).email).toContain(`sidecar: s3://${SCANS}/incoming/heidi/sweep-a.json`);
    // The sidecar is edited, then the scan's event is delivered again: still the same upload, no second job.
    await upload(env, "incoming/heidi/sweep-a.json", JSON.stringify({ iterations: 900 }));
    const again = await handleSqsBatch(sqsEvent(sqsRecord([rec])), deps);
    expect(again.outcomes[0].status).toBe("duplicate");
    expect(services.submits()).toHaveLength(1);
  });

  it("uploading the same bytes again (unversioned bucket) is a new upload; its redelivery is not", async () => {
    const key = "incoming/heidi/again.h5";
    const deps = makeDeps(env);
    const first = await upload(env, key, validScan);
    await new Promise((r) => setTimeout(r, 5)); // s3rver's sequencer is a millisecond clock
    const second = await upload(env, key, validScan);
    expect(second.s3.object.eTag).toBe(first.s3.object.eTag);
    const out = await handleSqsBatch(sqsEvent(sqsRecord([first]), sqsRecord([second]), sqsRecord([second]), sqsRecord([first])), deps);
    expect(out.outcomes.map((o) => o.status)).toEqual(["submitted", "submitted", "duplicate", "duplicate"]);
    expect(services.submits()).toHaveLength(2);
  });

  it("object metadata works too; the same scan with another config is another upload (another job)", async () => {
    const key = "incoming/heidi/meta.h5";
    const rec1 = await upload(env, key, validScan, { "ptyxrf-config": JSON.stringify({ iterations: 50 }) });
    const deps = makeDeps(env);
    const a = await ingestUpload(uploadFromRecord(rec1), deps);
    const rec2 = await upload(env, key, validScan, { "ptyxrf-config": JSON.stringify({ iterations: 60 }) });
    const b = await ingestUpload(uploadFromRecord(rec2), deps);
    expect([a.status, b.status]).toEqual(["submitted", "submitted"]);
    const [s1, s2] = services.submits();
    expect(JSON.parse(s1.parameters!.config).iterations).toBe(50);
    expect(JSON.parse(s2.parameters!.config).iterations).toBe(60);
    expect(s1.jobName).not.toBe(s2.jobName);
  });

  it("an invalid sidecar rejects the upload with every config problem (and the scan's own problems, if any)", async () => {
    await upload(env, "incoming/ivan/bad-config.json", JSON.stringify({ iterations: -3, mode: "fast", colour: "blue" }));
    const rec = await upload(env, "incoming/ivan/bad-config.h5", validScan);
    const deps = makeDeps(env);
    const out = await ingestUpload(uploadFromRecord(rec), deps);
    if (out.status !== "rejected") throw new Error(out.status);
    const where = `s3://${SCANS}/incoming/ivan/bad-config.json`;
    expect(out.report.problems.map((p) => [p.source, p.code, p.path])).toEqual([
      ["config", "config-invalid", where], ["config", "config-invalid", where], ["config", "config-invalid", where],
    ]);
    const found = out.report.problems.map((p) => p.found).join("\n");
    expect(found).toContain('"mode" must be one of joint, ptycho, xrf');
    expect(found).toContain('unknown field "colour"');
    expect(found).toContain('"iterations" must be an integer');
    expect(services.submits()).toHaveLength(0);
    expect(JSON.parse(services.publishes()[0].Message!).email).toContain('unknown field "colour"');
  });

  it("problems the validator counted but did not list are counted in the summary and rejection.json", async () => {
    const f = path.join(files, "many-problems.h5");
    const base = `${f}.base.h5`;
    await writeValidScan(base);
    await rewriteH5(base, f, { drop: ["/xrf/positions", "/ptychography/positions"], put: { "/xrf/elemental_maps/Zn": { data: new Float32Array(7), shape: [7], dtype: "<f" } } });
    const rec = await upload(env, "incoming/ivan/many-problems.h5", fs.readFileSync(f));
    const out = await ingestUpload(uploadFromRecord(rec), makeDeps(env, { settings: { limits: { maxProblems: 1 } } }));
    if (out.status !== "rejected") throw new Error(out.status);
    expect(out.report.problems).toHaveLength(1);
    expect(out.report.omitted!.errors).toBeGreaterThanOrEqual(2);
    expect(out.report.summary).toBe(`1 problem (scan: 1), and ${out.report.omitted!.errors} more scan problem(s) counted but not listed`);
    const stored = await getJson<RejectionReport>(env, RESULTS, out.reportKey);
    expect(stored.omitted).toEqual(out.report.omitted);
  });

  it("a sidecar that is not JSON, and a config given twice, are rejected clearly", async () => {
    await upload(env, "incoming/ivan/not-json.json", "{iterations: 5");
    const a = await ingestUpload(uploadFromRecord(await upload(env, "incoming/ivan/not-json.h5", validScan)), makeDeps(env));
    expect(a.status === "rejected" && a.report.problems.map((p) => p.code)).toEqual(["config-json"]);
    await upload(env, "incoming/ivan/twice.json", JSON.stringify({ iterations: 5 }));
    const b = await ingestUpload(uploadFromRecord(await upload(env, "incoming/ivan/twice.h5", validScan, { "ptyxrf-config": "{}" })), makeDeps(env));
    expect(b.status === "rejected" && b.report.problems.map((p) => p.code)).toEqual(["config-conflict"]);
  });
});

describe("keys", () => {
  it("ignores everything that is not a scan under incoming/, with a log line", async () => {
    const deps = makeDeps(env);
    const recs = [
      await upload(env, "incoming/judy/notes.txt", "hello"),
      await upload(env, "incoming/judy/later.json", "{}"),
      await upload(env, "elsewhere/judy/scan.h5", validScan),
      await upload(env, "incoming/judy/folder/", ""),
    ];
    const { response, outcomes } = await handleSqsBatch(sqsEvent(sqsRecord(recs)), deps);
    expect(response.batchItemFailures).toEqual([]);
    expect(outcomes.map((o) => o.status === "ignored" && o.reason)).toEqual([
      "not a scan (expected a key ending in .h5 or .hdf5)",
      "a config sidecar (read when its scan is uploaded)",
      "outside incoming/",
      "a folder marker",
    ]);
    expect(deps.log.lines.filter((l) => l.message === "ignored").map((l) => l.fields.key)).toEqual([
      "incoming/judy/notes.txt", "incoming/judy/later.json", "elsewhere/judy/scan.h5", "incoming/judy/folder/",
    ]);
    expect(services.submits()).toHaveLength(0);
    expect(services.publishes()).toHaveLength(0);
  });

  it("a scan outside a user folder is rejected (key-layout) and the operator is notified", async () => {
    const rec = await upload(env, "incoming/orphan.h5", validScan);
    const out = await ingestUpload(uploadFromRecord(rec), makeDeps(env));
    if (out.status !== "rejected") throw new Error(out.status);
    expect(out.report.problems.map((p) => [p.source, p.code])).toEqual([["upload", "key-layout"]]);
    expect(out.reportKey).toMatch(/^results\/_unknown\/orphan\/[0-9a-f]{16}\/rejection\.json$/);
    expect(services.publishes()[0].MessageAttributes?.user.StringValue).toBe("_unknown");
  });

  it("an S3 test event and an unparseable message: the first is skipped, the second goes back to the queue", async () => {
    const deps = makeDeps(env);
    const test = { ...sqsRecord([]), body: JSON.stringify({ Service: "Amazon S3", Event: "s3:TestEvent", Bucket: SCANS }) };
    const junk = { ...sqsRecord([]), messageId: "junk", body: "{not json" };
    const { response } = await handleSqsBatch(sqsEvent(test, junk), deps);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "junk" }]);
  });
});
