/**
 * `ptyxrf sweep SPEC`: a parameter sweep (scans x configurations) as one Batch array job plus an aggregation
 * job (--profile aws), or the same two jobs on the local job runner (--profile local); `--dry-run` prints the
 * tasks; `--aggregate s3://.../` (re)writes a sweep's summary from here. docs/sweeps.md.
 */
import fs from "node:fs";
import path from "node:path";
import { formatNumber, table } from "../format.js";
import { choiceOption, intOption, parse, UsageError, type Command, type Io } from "../args.js";
import { openClient, PROFILE_HELP, PROFILE_OPTIONS, userOf } from "./local.js";
import type { ServiceClient } from "../../pipeline/local/client.js";
import type { LocalStack } from "../../pipeline/local/stack.js";
import type { SweepSummaryFile } from "../../pipeline/sweep/aggregate.js";
import type { SweepPlan } from "../../pipeline/sweep/plan.js";
import type { TaskList } from "../../pipeline/sweep/tasks.js";

export const SWEEP_PROFILES = ["local", "aws"] as const;

export const LAUNCH_OPTIONS = {
  ...PROFILE_OPTIONS,
  "dry-run": { type: "boolean" }, parallel: { type: "string" }, json: { type: "boolean" },
  "job-queue": { type: "string" }, "job-definition": { type: "string" },
} as const;

export const LAUNCH_HELP = `  --dry-run           print what would run; write and submit nothing
  --parallel N        local profile: tasks at once (default 2)
  --job-queue Q, --job-definition D
                      aws profile: the stack's JobQueueArn and JobDefinitionArn outputs (or PTYXRF_JOB_QUEUE,
                      PTYXRF_JOB_DEFINITION)
  --json              machine-readable output
${PROFILE_HELP.replace("local (default), localstack or aws", "local (default) or aws")}`;

export const sweepCommand: Command = {
  name: "sweep",
  summary: "a parameter sweep: scans x solver configurations as one array job, ranked in one summary",
  usage: "ptyxrf sweep SPEC.yaml [--profile local|aws] [--dry-run] [--parallel N]  |  ptyxrf sweep --aggregate s3://BUCKET/.../sweeps/NAME-ID/",
  help: `SPEC (YAML or JSON) names the scans (s3:// URIs, local paths relative to the spec, or {prefix, pattern}), the
base config overrides, a grid (cartesian product) and/or a list of overrides (dotted config keys such as
noise.ptycho, weights.alpha, iterations), optional ground truth per scan and rankBy {metric, order}. Every
task's config is validated before anything is written. docs/sweeps.md has the format and an example.

The sweep's folder is s3://<results bucket>/results/<user>/sweeps/<name>-<id>/: tasks.json (the task list),
inputs/ (local scans, uploaded), tasks/<task>/ (each task's run, or failure.json), and, from the
aggregation, sweep.json, sweep.csv and report.html (metrics vs parameters, the best configuration per scan).
aws: one Batch array job (one child per task) and one aggregation job that depends on it; the command
returns at once. local: the same two jobs on this machine (a local stack is started when none runs); the
command waits and prints the summary. A task that fails is recorded as failed; the others go on.

Options:
  --aggregate S3URI   (re)write the summary of the sweep in that folder (e.g. when its aggregation job
                      could not run), without a SPEC
${LAUNCH_HELP}
  -h, --help          this help

Exit codes: 0 submitted (local: the summary was written), 2 invalid spec or arguments, 1 failure.`,
  async run(argv: string[], io: Io): Promise<number> {
    const { values: v, positionals } = parse("sweep", argv, { ...LAUNCH_OPTIONS, aggregate: { type: "string" } });
    const profile = choiceOption("sweep", "profile", v.profile, SWEEP_PROFILES) ?? "local";
    const parallel = intOption("sweep", "parallel", v.parallel, 1);
    const { SweepSpecError, loadSweepSpec } = await import("../../pipeline/sweep/spec.js");
    if (v.aggregate) {
      if (positionals.length) throw new UsageError("--aggregate takes no SPEC", "sweep");
      const { client, stack } = await openClient("sweep", { ...v, profile }, io, true);
      try {
        const { aggregateSweep } = await import("../../pipeline/sweep/aggregate.js");
        const { summary, uris } = await aggregateSweep(client.transfer, v.aggregate);
        io.out(v.json ? JSON.stringify({ ...uris, counts: summary.counts, best: summary.best }) : formatSummary(summary, uris));
        return 0;
      } finally {
        client.close();
        await stack?.stop();
      }
    }
    if (positionals.length !== 1) throw new UsageError("expected exactly one SPEC file (or --aggregate S3URI)", "sweep");
    try {
      const { spec, dir, raw } = loadSweepSpec(positionals[0]);
      const { planSweep } = await import("../../pipeline/sweep/plan.js");
      const needsS3 = spec.scans.some((s) => typeof s !== "string" || s.startsWith("s3://"));
      if (v["dry-run"]) {
        const opened = needsS3 ? await openClient("sweep", { ...v, profile }, io) : null;
        try {
          const plan = await planSweep(spec, raw, dir, opened?.client.transfer ?? null);
          io.out(v.json ? JSON.stringify(dryRunJson(plan)) : formatPlan(plan));
          return 0;
        } finally {
          opened?.client.close();
        }
      }
      const { client, stack } = await openClient("sweep", { ...v, profile }, io, true);
      try {
        const plan = await planSweep(spec, raw, dir, client.transfer);
        const { stageSweep } = await import("../../pipeline/sweep/plan.js");
        const { list, tasksUri } = await stageSweep(plan, { transfer: client.transfer, resultsBucket: client.profile.resultsBucket, user: userOf(v), profile });
        return await launchTaskList(client, list, tasksUri, { profile, parallel, json: Boolean(v.json), jobQueue: v["job-queue"], jobDefinition: v["job-definition"] }, io);
      } finally {
        client.close();
        await stack?.stop();
      }
    } catch (err) {
      if (err instanceof SweepSpecError) {
        io.err(`ptyxrf sweep: ${err.message}`);
        return 2;
      }
      throw err;
    }
  },
};

function dryRunJson(plan: SweepPlan) {
  return {
    name: plan.spec.name, tasks: plan.tasks.map((t) => ({ index: t.index, id: t.id, scan: t.scan.given, params: t.params, config: t.config })),
  };
}

function paramsText(params: Record<string, unknown>): string {
  const parts = Object.entries(params).map(([k, x]) => `${k}=${typeof x === "string" ? x : JSON.stringify(x)}`);
  return parts.length ? parts.join(" ") : "(base)";
}

export function formatPlan(plan: SweepPlan): string {
  const scans = new Set(plan.tasks.map((t) => t.scan)).size;
  const configs = plan.tasks.length / Math.max(1, scans);
  return [
    `sweep ${plan.spec.name}: ${plan.tasks.length} tasks (${scans} scan${scans === 1 ? "" : "s"} x ${configs} configuration${configs === 1 ? "" : "s"}); dry run: nothing written or submitted`,
    "",
    table(["task", "scan", "parameters", "mode", "iterations"], plan.tasks.map((t) => [t.id, t.scan.label, paramsText(t.params), t.config.mode, String(t.config.iterations)])),
  ].join("\n");
}

export function formatSummary(s: SweepSummaryFile, uris: { json: string; csv: string; report: string }): string {
  const c = s.counts;
  const m = s.rankBy.metric;
  return [
    `${s.purpose} ${s.name}-${s.sweepId}: ${c.succeeded} of ${c.tasks} tasks succeeded${c.failed ? `, ${c.failed} failed` : ""}${c.missing ? `, ${c.missing} missing` : ""}`,
    "",
    table(["task", "scan", "parameters", "status", "rank", m], s.tasks.map((t) => [
      t.id, t.scanLabel, paramsText(t.params), t.status, t.rank ? String(t.rank) : "", t.metrics[m] !== undefined ? formatNumber(t.metrics[m]) : "",
    ])),
    ...s.tasks.filter((t) => t.status !== "succeeded").map((t) => `  ${t.id} ${t.status}: ${t.error ?? ""}`),
    "",
    `best per scan (${m}, ${s.rankBy.order}):`,
    ...s.best.map((b) => `  ${b.scanLabel.padEnd(16)} ${b.task}  ${paramsText(b.params)}  ${formatNumber(b.value)}`),
    "",
    `  summary      ${uris.report}`,
    `               ${uris.json}`,
    `               ${uris.csv}`,
  ].join("\n");
}

export interface LaunchOptions {
  profile: (typeof SWEEP_PROFILES)[number];
  parallel?: number | undefined;
  json: boolean;
  jobQueue?: string | undefined;
  jobDefinition?: string | undefined;
}

/**
 * Runs a staged task list: on AWS Batch (submit the two jobs, print their ids) or locally (run them, wait,
 * print the summary). Shared by `sweep` and `reprocess`.
 */
export async function launchTaskList(client: ServiceClient, list: TaskList, tasksUri: string, o: LaunchOptions, io: Io): Promise<number> {
  if (o.profile === "aws") {
    const { batchSubmitterFor } = await import("../../pipeline/sweep/submitBatch.js");
    const { submitSweepJobs } = await import("../../pipeline/sweep/submit.js");
    const s = await submitSweepJobs(batchSubmitterFor(o), list, tasksUri);
    if (o.json) io.out(JSON.stringify({ tasks: tasksUri, prefix: list.prefix, arrayJob: s.arrayJob, aggregateJob: s.aggregateJob, size: s.size }));
    else {
      io.out([
        `${list.purpose} ${list.name}-${list.sweepId}: ${s.size} tasks submitted`,
        `  task list    ${tasksUri}`,
        `  tasks job    ${s.arrayJob.jobId} (${s.size > 1 ? `array of ${s.size}` : "one task"})`,
        `  aggregation  ${s.aggregateJob.jobId} (after the tasks): ${list.prefix}report.html, sweep.json, sweep.csv`,
        `  follow       aws batch describe-jobs --jobs ${s.arrayJob.jobId}`,
      ].join("\n"));
    }
    return 0;
  }
  const stack = client.profile.stack;
  if (!stack || !client.profile.dataDir) throw new UsageError("the local profile needs a running local stack", "sweep");
  const { runSweepLocally } = await import("../../pipeline/sweep/runLocal.js");
  let finished = 0;
  const run = await runSweepLocally(list, tasksUri, {
    endpoint: stack.endpoint, dataDir: client.profile.dataDir, ...(o.parallel ? { parallel: o.parallel } : {}),
    onStatus: (r) => {
      if (r.arrayIndex === undefined || (r.status !== "SUCCEEDED" && r.status !== "FAILED")) return;
      finished += 1;
      const task = list.tasks[r.arrayIndex];
      const outcome = r.status === "SUCCEEDED" ? "done" : `its job failed: ${r.statusReason ?? ""}`;
      if (!o.json) io.err(`[${finished}/${list.tasks.length}] ${task.id} ${task.scanLabel} ${paramsText(task.params)}: ${outcome}`);
    },
  });
  if (!o.json) io.err(`${list.purpose} ${list.name}-${list.sweepId}: ${list.tasks.length} tasks, ${run.runner.concurrency} at a time (jobs in ${client.profile.dataDir}/jobs/)`);
  const onSignal = () => {
    io.err(`\nstopping: running tasks checkpoint; they resume when \`ptyxrf local up\` starts on ${client.profile.dataDir}`);
    void run.runner.stop().then(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  try {
    const { aggregate } = await run.done;
    if (aggregate.status !== "SUCCEEDED") {
      io.err(`ptyxrf ${list.purpose}: the aggregation job ${aggregate.status.toLowerCase()}: ${aggregate.statusReason ?? ""} (log: ${aggregate.log})`);
      return 1;
    }
    const { locationIn, SWEEP_JSON, SWEEP_CSV, SWEEP_REPORT } = await import("../../pipeline/sweep/tasks.js");
    const summary = await client.transfer.getJson<SweepSummaryFile>(locationIn(list.prefix, SWEEP_JSON));
    if (!summary) throw new Error(`the aggregation ended but ${list.prefix}${SWEEP_JSON} is missing`);
    const uris = { json: `${list.prefix}${SWEEP_JSON}`, csv: `${list.prefix}${SWEEP_CSV}`, report: `${list.prefix}${SWEEP_REPORT}` };
    // a copy on disk to open in a browser (the local S3 server's files are not plain files)
    const local = path.join(client.profile.dataDir, list.purpose === "sweep" ? "sweeps" : "reprocess", `${list.name}-${list.sweepId}`);
    fs.mkdirSync(local, { recursive: true });
    // with each task's report, so that the summary's links to them work there too
    const taskReports = summary.tasks.flatMap((t) => (t.reportHref && !t.reportHref.includes("..") ? [t.reportHref] : []));
    for (const name of [SWEEP_JSON, SWEEP_CSV, SWEEP_REPORT, ...taskReports]) {
      fs.mkdirSync(path.dirname(path.join(local, name)), { recursive: true });
      await client.transfer.download(locationIn(list.prefix, name), path.join(local, name));
    }
    io.out(o.json ? JSON.stringify({ ...uris, local, counts: summary.counts, best: summary.best, tasks: summary.tasks }) : `${formatSummary(summary, uris)}\n  copied to    ${path.join(local, SWEEP_REPORT)}`);
    return 0;
  } finally {
    process.off("SIGINT", onSignal);
  }
}
