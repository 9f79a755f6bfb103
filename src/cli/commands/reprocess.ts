/**
 * `ptyxrf reprocess s3://BUCKET/PREFIX`: every scan under a prefix that has no complete run with this config
 * yet, with an estimate of the GPU time, submitted as array jobs with the sweep machinery. docs/sweeps.md.
 */
import { formatBytes, table } from "../format.js";
import { choiceOption, intOption, numberOption, parse, UsageError, type Command, type Io } from "../args.js";
import { solverConfigInput } from "./configOptions.js";
import { openClient, userOf } from "./local.js";
import { LAUNCH_HELP, LAUNCH_OPTIONS, launchTaskList, SWEEP_PROFILES } from "./sweep.js";
import { resolveConfig } from "../../solver/config.js";
import type { ReprocessPlan } from "../../pipeline/reprocess/plan.js";

export const reprocessCommand: Command = {
  name: "reprocess",
  summary: "reprocess an archive: every scan under an S3 prefix not yet reconstructed with this config",
  usage: "ptyxrf reprocess s3://BUCKET/PREFIX [--config FILE] [--since DATE] [--max-jobs N] [--dry-run] [--throughput MS] [--profile local|aws]",
  help: `Lists the scans (.h5, .hdf5) under the prefix (every page of ListObjectsV2), keeps those modified since
--since, and skips every scan that already has a complete run (a manifest.json) whose config_hash is this
config's: runs of incoming/<user>/<path>.h5 live in results/<user>/<path>/<tag>/ (as uploads' runs), of any
other key in results/<user>/<bucket>/<key>/<tag>/. A run folder without a manifest is partial: its scan is
reprocessed. Prints every scan's state and an estimate of the GPU-hours, then submits the rest, at most
--max-jobs scans, as Batch array jobs (10,000 scans per array job) with an aggregation each, like a sweep;
each scan's run lands in its own results folder. Scans are only read.

The estimate: detector pixels ~ scan bytes / 4, time = iterations x pixels / 1,638,400 (the bench preset's
400 frames of 64x64) x the milliseconds per bench iteration: --throughput MS, else the cpu engine's measured
39 ms (npm run bench on a 2-core machine; no GPU figure has been measured yet).

Options:
  --config FILE       solver config (JSON; defaults otherwise); --iterations N overrides its iterations
  --since DATE        only scans modified at or after DATE (ISO 8601, e.g. 2026-01-01)
  --max-jobs N        submit at most N scans (in key order)
  --throughput MS     ms per bench iteration on the target GPU, for the estimate
  --name NAME         names the task lists' folders results/<user>/reprocess/<NAME>-<id>/ (default reprocess)
${LAUNCH_HELP}
  -h, --help          this help

Exit codes: 0 listed (and submitted), 2 bad arguments or config, 1 failure.`,
  async run(argv: string[], io: Io): Promise<number> {
    const { values: v, positionals } = parse("reprocess", argv, {
      ...LAUNCH_OPTIONS, config: { type: "string" }, iterations: { type: "string" }, since: { type: "string" }, "max-jobs": { type: "string" },
      throughput: { type: "string" }, name: { type: "string" },
    });
    if (positionals.length !== 1 || !/^s3:\/\/[^/]+(\/.*)?$/.test(positionals[0])) throw new UsageError("expected one s3://BUCKET/PREFIX", "reprocess");
    const source = positionals[0].replace(/^(s3:\/\/[^/]+)$/, "$1/");
    const profile = choiceOption("reprocess", "profile", v.profile, SWEEP_PROFILES) ?? "local";
    const maxJobs = intOption("reprocess", "max-jobs", v["max-jobs"], 1);
    const parallel = intOption("reprocess", "parallel", v.parallel, 1);
    const throughputMs = numberOption("reprocess", "throughput", v.throughput, 1e-6);
    let since: Date | undefined;
    if (v.since !== undefined) {
      since = new Date(v.since);
      if (Number.isNaN(since.getTime())) throw new UsageError(`--since expects a date (ISO 8601, e.g. 2026-01-01), got "${v.since}"`, "reprocess");
    }
    if (v.name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(v.name)) throw new UsageError(`--name expects letters, digits, . _ -, got "${v.name}"`, "reprocess");
    const config = resolveConfig(solverConfigInput("reprocess", { config: v.config, iterations: v.iterations })); // ConfigError: exit 2
    const user = userOf(v);
    const { client, stack } = await openClient("reprocess", { ...v, profile }, io, !v["dry-run"]);
    try {
      const { planReprocess, stageReprocess } = await import("../../pipeline/reprocess/plan.js");
      const plan = await planReprocess({
        transfer: client.transfer, source, resultsBucket: client.profile.resultsBucket, config, user,
        ...(since ? { since } : {}), ...(maxJobs ? { maxJobs } : {}), ...(throughputMs ? { throughputMs } : {}),
      });
      if (v.json && v["dry-run"]) {
        io.out(JSON.stringify(planJson(plan)));
        return 0;
      }
      if (!v.json) io.out(formatReprocessPlan(plan, Boolean(v["dry-run"])));
      if (v["dry-run"] || !plan.toSubmit.length) return 0;
      const lists = await stageReprocess(plan, { transfer: client.transfer, resultsBucket: client.profile.resultsBucket, user, profile, ...(v.name ? { name: v.name } : {}) });
      let code = 0;
      for (const { list, tasksUri } of lists) {
        code = Math.max(code, await launchTaskList(client, list, tasksUri, { profile, parallel, json: Boolean(v.json), jobQueue: v["job-queue"], jobDefinition: v["job-definition"] }, io));
      }
      return code;
    } finally {
      client.close();
      await stack?.stop();
    }
  },
};

function stateText(s: ReprocessPlan["scans"][number]): string {
  switch (s.state.status) {
    case "processed": return `done with this config (${s.state.run.split("/").slice(-2, -1)[0]})`;
    case "other-config": return `${s.state.runs.length} run${s.state.runs.length > 1 ? "s" : ""} with another config`;
    case "partial": return `partial run${s.state.runs.length > 1 ? "s" : ""} only (no manifest)`;
    default: return "never processed";
  }
}

export function formatReprocessPlan(plan: ReprocessPlan, dryRun: boolean): string {
  const skipped = plan.scans.length - plan.toSubmit.length - plan.overCap;
  return [
    `${plan.scans.length} scan${plan.scans.length === 1 ? "" : "s"} under ${plan.source}: ${plan.toSubmit.length} to process, ${skipped} already processed with this config${plan.overCap ? `, ${plan.overCap} left for later (--max-jobs)` : ""}`,
    "",
    table(["scan", "size", "modified", "state", "action"], plan.scans.map((s) => [
      s.key, formatBytes(s.bytes), s.lastModified?.toISOString().slice(0, 19) ?? "", stateText(s),
      s.submit ? (dryRun ? "would process" : "process") : s.state.status === "processed" ? "skip" : "later (--max-jobs)",
    ])),
    "",
    `estimate: ${plan.estimate.text}`,
    ...(dryRun ? ["dry run: nothing written or submitted"] : []),
  ].join("\n");
}

function planJson(plan: ReprocessPlan) {
  return {
    source: plan.source, estimate: plan.estimate, overCap: plan.overCap,
    scans: plan.scans.map((s) => ({ uri: s.uri, bytes: s.bytes, lastModified: s.lastModified?.toISOString() ?? null, state: s.state, submit: s.submit })),
  };
}
