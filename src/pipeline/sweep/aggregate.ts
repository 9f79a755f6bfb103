/**
 * The aggregation of a sweep (the job that depends on the array job, or `ptyxrf sweep --aggregate`): reads
 * every task's folder (manifest.json + metrics.json: succeeded; failure.json or the worker's error.json:
 * failed; anything else: missing), ranks the succeeded tasks of each scan, and writes sweep.json,
 * sweep.csv and report.html into the sweep's folder. It reads only; a re-run rewrites the three files.
 */
import type { SweepSummary, SweepTaskRow } from "../../report/sweepReport.js";
import { renderSweepReport } from "../../report/sweepReport.js";
import { version } from "../../version.js";
import { MANIFEST, type RunMetrics } from "../outputs.js";
import type { Notification } from "../notify/notifier.js";
import { ERROR_FILE, PROGRESS_FILE, type Progress } from "../worker/worker.js";
import { s3UriOf, type S3Transfer } from "../worker/transfer.js";
import type { TaskFailure } from "./child.js";
import { mapLimit } from "./concurrency.js";
import { describeParams } from "./expand.js";
import type { RankBy } from "./spec.js";
import { locationIn, readTaskList, SWEEP_CSV, SWEEP_JSON, SWEEP_REPORT, TASK_FAILURE, TASKS_FILE, type SweepTask, type TaskList } from "./tasks.js";

/** Previews are embedded in report.html for sweeps up to this many tasks (each at most PREVIEW_MAX_BYTES). */
export const PREVIEW_MAX_TASKS = 64;
export const PREVIEW_MAX_BYTES = 256 * 1024;

export interface SweepSummaryFile {
  kind: "ptyxrf-sweep-summary";
  name: string;
  sweepId: string;
  purpose: TaskList["purpose"];
  createdAt: string;
  prefix: string;
  rankBy: RankBy;
  counts: { tasks: number; succeeded: number; failed: number; missing: number };
  /** The best task of each scan (rank 1). */
  best: { scan: string; scanLabel: string; task: string; params: SweepTaskRow["params"]; value: number }[];
  tasks: (Omit<SweepTaskRow, "preview"> & { out: string })[];
  spec: unknown;
  provenance: { version: string; profile: string };
}

/** metrics.json's numbers, flat: final_loss, loss_*, weight_*, object_rel_error, object_cpcc, <El>_rel_error, wall_s, ms_per_iter, iterations. */
export function flattenMetrics(m: RunMetrics): Record<string, number> {
  const f = m.final;
  const out: Record<string, number> = {};
  const put = (k: string, v: unknown) => {
    if (typeof v === "number" && Number.isFinite(v)) out[k] = v;
  };
  put("final_loss", f.loss_total);
  put("loss_ptycho", f.loss_ptycho);
  put("loss_xrf", f.loss_xrf);
  put("weight_ptycho", f.weight_ptycho);
  put("weight_xrf", f.weight_xrf);
  put("object_rel_error", f.object_rel_error);
  put("object_cpcc", f.object_cpcc);
  for (const [el, v] of Object.entries(f.element_rel_error ?? {})) put(`${el}_rel_error`, v);
  put("wall_s", m.wall_s);
  put("ms_per_iter", m.ms_per_iter);
  put("iterations", m.iterations);
  return out;
}

/** The ranking metric: the spec's, else the object's error when any task has a truth, else the final loss. */
export function defaultRankBy(rows: SweepTaskRow[], given: RankBy | null): RankBy {
  if (given) return given;
  return rows.some((r) => r.metrics.object_rel_error !== undefined) ? { metric: "object_rel_error", order: "min" } : { metric: "final_loss", order: "min" };
}

/** Ranks 1..k per scan among the succeeded tasks that have the metric (ties: the earlier task first). */
export function rankRows(rows: SweepTaskRow[], rankBy: RankBy): void {
  const byScan = new Map<string, SweepTaskRow[]>();
  for (const r of rows) {
    delete r.rank;
    if (r.status !== "succeeded" || r.metrics[rankBy.metric] === undefined) continue;
    const list = byScan.get(r.scan) ?? [];
    list.push(r);
    byScan.set(r.scan, list);
  }
  const sign = rankBy.order === "min" ? 1 : -1;
  for (const list of byScan.values()) {
    list.sort((a, b) => sign * (a.metrics[rankBy.metric] - b.metrics[rankBy.metric]) || a.index - b.index);
    list.forEach((r, i) => (r.rank = i + 1));
  }
}

function describeProgress(p: Progress): string {
  return `${p.state} at iteration ${p.iteration}/${p.iterations}, attempt ${p.attempt}${p.message ? `: ${p.message}` : ""}`;
}

/** One task's row from its folder. */
export async function readTaskRow(transfer: S3Transfer, list: TaskList, task: SweepTask, withPreview: boolean): Promise<SweepTaskRow & { out: string }> {
  const base = { index: task.index, id: task.id, scan: task.scan, scanLabel: task.scanLabel, params: task.params, metrics: {}, out: task.out };
  const manifest = await transfer.getJson<{ files?: { name: string; bytes: number }[] }>(locationIn(task.out, MANIFEST));
  if (manifest) {
    const metrics = await transfer.getJson<RunMetrics>(locationIn(task.out, "metrics.json"));
    if (!metrics) return { ...base, status: "failed", error: "the run has a manifest but no metrics.json" };
    const files = manifest.files ?? [];
    const row: SweepTaskRow & { out: string } = { ...base, status: "succeeded", metrics: flattenMetrics(metrics) };
    if (task.out.startsWith(list.prefix)) {
      const rel = task.out.slice(list.prefix.length);
      if (files.some((f) => f.name === SWEEP_REPORT)) row.reportHref = `${rel}${SWEEP_REPORT}`;
    }
    const phase = files.find((f) => f.name === "phase.png");
    if (withPreview && phase && phase.bytes <= PREVIEW_MAX_BYTES) {
      const png = await transfer.getBytes(locationIn(task.out, "phase.png"));
      if (png) row.preview = png;
    }
    return row;
  }
  const failure = await transfer.getJson<TaskFailure>(locationIn(task.out, TASK_FAILURE));
  if (failure) {
    const problems = failure.problems?.length ? `: ${failure.problems.join("; ")}` : "";
    return { ...base, status: "failed", error: failure.problems?.length ? `${failure.reason}${problems}` : failure.error };
  }
  const error = await transfer.getJson<{ problems?: string[] }>(locationIn(task.out, ERROR_FILE));
  if (error) return { ...base, status: "failed", error: `invalid-input: ${(error.problems ?? []).join("; ")}` };
  const progress = await transfer.getJson<Progress>(locationIn(task.out, PROGRESS_FILE));
  return {
    ...base, status: "missing",
    error: progress
      ? `no result yet: ${describeProgress(progress)}`
      : "no outputs: the task has not run, or its Batch job failed without a record (timeout, lost host, image)",
  };
}

function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? "" : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** sweep.csv: one row per task; the parameters and metrics of every task as columns. */
export function sweepCsv(rows: (SweepTaskRow & { out: string })[]): string {
  const params = [...new Set(rows.flatMap((r) => Object.keys(r.params)))];
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))];
  const header = ["index", "task", "scan", "status", "rank", ...params, ...metrics, "error", "out"];
  const lines = rows.map((r) => [r.index, r.id, r.scan, r.status, r.rank, ...params.map((p) => r.params[p]), ...metrics.map((m) => r.metrics[m]), r.error, r.out].map(csvCell).join(","));
  return `${[header.map(csvCell).join(","), ...lines].join("\n")}\n`;
}

export interface AggregateResult {
  summary: SweepSummaryFile;
  uris: { json: string; csv: string; report: string };
  notification: Notification;
}

/** Aggregates the sweep whose folder is `prefix` (s3://bucket/prefix/, holding tasks.json). */
export async function aggregateSweep(transfer: S3Transfer, prefix: string, o: { now?: () => Date; concurrency?: number } = {}): Promise<AggregateResult> {
  const folder = prefix.endsWith("/") ? prefix : `${prefix}/`;
  const list = await readTaskList(transfer, `${folder}${TASKS_FILE}`);
  const withPreview = list.tasks.length <= PREVIEW_MAX_TASKS;
  const rows = await mapLimit(list.tasks, o.concurrency ?? 16, (t) => readTaskRow(transfer, list, t, withPreview));
  const rankBy = defaultRankBy(rows, list.rankBy);
  rankRows(rows, rankBy);
  const createdAt = (o.now?.() ?? new Date()).toISOString();
  const provenance = { version: version(), profile: list.profile };
  const report: SweepSummary = { name: `${list.name}-${list.sweepId}`, createdAt, rankBy, spec: list.spec, tasks: rows, provenance };
  const counts = {
    tasks: rows.length,
    succeeded: rows.filter((r) => r.status === "succeeded").length,
    failed: rows.filter((r) => r.status === "failed").length,
    missing: rows.filter((r) => r.status === "missing").length,
  };
  const best = rows.filter((r) => r.rank === 1).map((r) => ({ scan: r.scan, scanLabel: r.scanLabel, task: r.id, params: r.params, value: r.metrics[rankBy.metric] }));
  const summary: SweepSummaryFile = {
    kind: "ptyxrf-sweep-summary", name: list.name, sweepId: list.sweepId, purpose: list.purpose, createdAt, prefix: folder, rankBy, counts, best,
    tasks: rows.map(({ preview: _preview, ...r }) => r), spec: list.spec, provenance,
  };
  const json = locationIn(folder, SWEEP_JSON), csv = locationIn(folder, SWEEP_CSV), html = locationIn(folder, SWEEP_REPORT);
  await transfer.putBytes(csv, sweepCsv(rows), { contentType: "text/csv" });
  await transfer.putBytes(html, renderSweepReport(report), { contentType: "text/html; charset=utf-8" });
  await transfer.putJson(json, summary); // last: its presence means the summary is complete
  const uris = { json: s3UriOf(json), csv: s3UriOf(csv), report: s3UriOf(html) };
  return { summary, uris, notification: sweepNotification(list, summary, uris) };
}

/** The one notification of a finished sweep (its tasks do not notify one by one). */
export function sweepNotification(list: TaskList, s: SweepSummaryFile, uris: AggregateResult["uris"]): Notification {
  const c = s.counts;
  const what = list.purpose === "sweep" ? "sweep" : "reprocessing";
  const problems = s.tasks.filter((t) => t.status !== "succeeded").slice(0, 10);
  return {
    user: list.user,
    kind: c.succeeded === 0 ? "failed" : "succeeded",
    subject: `ptyxrf: ${what} ${list.name} finished: ${c.succeeded} of ${c.tasks} tasks succeeded`,
    text: [
      `The ${what} ${list.name}-${list.sweepId} finished: ${c.succeeded} succeeded, ${c.failed} failed, ${c.missing} missing, of ${c.tasks} tasks.`,
      "",
      `Best configuration per scan (by ${s.rankBy.metric}, ${s.rankBy.order}):`,
      ...(s.best.length ? s.best.map((b) => `  ${b.scanLabel}: ${b.task} (${describeParams(b.params)}) ${s.rankBy.metric} ${b.value.toPrecision(4)}`) : ["  none"]),
      ...(problems.length ? ["", "Not succeeded:", ...problems.map((t) => `  ${t.id} ${t.scanLabel}: ${t.status}: ${t.error ?? ""}`)] : []),
      "",
      `  summary   ${uris.report}`,
      `            ${uris.json}, ${uris.csv}`,
    ].join("\n"),
    details: { sweep: `${list.name}-${list.sweepId}`, prefix: s.prefix, counts: c, rankBy: s.rankBy, best: s.best, ...uris },
  };
}
