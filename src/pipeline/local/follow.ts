/** Following a run to its end, and showing runs to people (submit --wait, status, fetch, the demo). */
import type { RunMetrics } from "../outputs.js";
import { staleText } from "../worker/heartbeat.js";
import type { RunState, RunStatus, ServiceClient } from "./client.js";

export interface FollowOptions {
  intervalMs?: number;
  /** Give up after this long (default: never). */
  timeoutMs?: number;
  /** Every poll. */
  onUpdate?: (s: RunStatus, previous: RunStatus | null) => void;
}

export class FollowTimeout extends Error {
  constructor(readonly last: RunStatus | null, timeoutMs: number) {
    super(`the run did not finish within ${Math.round(timeoutMs / 1000)} s${last ? ` (last state: ${last.detail})` : ""}`);
    this.name = "FollowTimeout";
  }
}

/** Polls the run's folder (and local records) until it is succeeded, rejected or failed. */
export async function followRun(client: ServiceClient, prefix: string, o: FollowOptions = {}): Promise<RunStatus> {
  const t0 = Date.now();
  let previous: RunStatus | null = null;
  for (;;) {
    let s: RunStatus | null = null;
    try {
      s = await client.statusAt(prefix);
    } catch (err) {
      // the service may be briefly unreachable: keep following
      if (o.timeoutMs !== undefined && Date.now() - t0 > o.timeoutMs) throw err;
    }
    if (s) {
      o.onUpdate?.(s, previous);
      previous = s;
      if (s.terminal) return s;
    }
    if (o.timeoutMs !== undefined && Date.now() - t0 > o.timeoutMs) throw new FollowTimeout(previous, o.timeoutMs);
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 500));
  }
}

export function fmt(x: number | undefined | null, digits = 4): string {
  if (x === undefined || x === null || !Number.isFinite(x)) return "-";
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(2) : x.toFixed(digits);
}

/** One progress line: iteration bar, losses, errors. */
export function progressLine(s: RunStatus, width = 24): string {
  const p = s.progress;
  if (!p || !(s.state === "running" || s.state === "uploading" || s.state === "interrupted" || s.state === "retrying" || s.state === "stale")) return `${s.state}: ${s.detail}`;
  const filled = Math.round((width * p.iteration) / Math.max(1, p.iterations));
  const loss = p.losses?.total !== undefined ? `  loss ${fmt(p.losses.total, 4)}` : "";
  const err = p.errors?.object !== undefined ? `  object error ${fmt(p.errors.object)}` : "";
  const state = s.stale ? staleText(s.stale) : s.state;
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${p.iteration}/${p.iterations} ${state} (attempt ${p.attempt})${loss}${err}`;
}

export const TERMINAL_STATES: RunState[] = ["succeeded", "rejected", "failed"];

/** Rows "what  iteration 1  final" comparing the first iteration with the end (errors need a truth). */
export function accuracyRows(m: RunMetrics): [string, string, string][] {
  const first = (m.history[0] ?? {}) as { errors?: Record<string, number>; losses?: Record<string, number> };
  const e0 = first.errors ?? {};
  const f = m.final;
  const rows: [string, string, string][] = [];
  if (f.object_rel_error !== undefined) rows.push(["object, relative error", fmt(e0.object), fmt(f.object_rel_error)]);
  if (f.object_cpcc !== undefined) rows.push(["object, cPCC", fmt(e0.cpcc), fmt(f.object_cpcc)]);
  for (const [el, v] of Object.entries(f.element_rel_error ?? {})) rows.push([`${el} map, relative error`, fmt(e0[el]), fmt(v)]);
  rows.push(["loss (total)", fmt(first.losses?.total), fmt(f.loss_total)]);
  if (f.loss_ptycho !== undefined) rows.push(["  ptychography term", fmt(first.losses?.ptycho), fmt(f.loss_ptycho)]);
  if (f.loss_xrf !== undefined) rows.push(["  XRF term", fmt(first.losses?.xrf), fmt(f.loss_xrf)]);
  return rows;
}

export function table3(header: [string, string, string], rows: [string, string, string][]): string {
  const w = [0, 1, 2].map((i) => Math.max(header[i].length, ...rows.map((r) => r[i].length)));
  const line = (r: [string, string, string]) => `  ${r[0].padEnd(w[0])}  ${r[1].padStart(w[1])}  ${r[2].padStart(w[2])}`;
  return [line(header), `  ${"-".repeat(w[0])}  ${"-".repeat(w[1])}  ${"-".repeat(w[2])}`, ...rows.map(line)].join("\n");
}

/** A finished run for people: what ran, how long, how close to the truth (`header`: with run and scan lines). */
export function runSummary(s: RunStatus, header = true): string {
  const m = s.metrics;
  const lines: string[] = [];
  if (!m) return `  ${s.runId}  ${s.state}: ${s.detail}`;
  if (header) {
    lines.push(`  run          ${s.runId}  (${s.resultUri})`);
    lines.push(`  scan         ${m.scan}`);
  }
  lines.push(`  solver       ${m.mode}, ${m.iterations} iterations in ${m.wall_s.toFixed(1)} s (${m.ms_per_iter.toFixed(1)} ms/iteration), engine ${m.engine} (${m.device})`);
  const f = m.final;
  if (f.weight_ptycho !== undefined && f.weight_xrf !== undefined) lines.push(`  weights      ptycho ${fmt(f.weight_ptycho, 3)}, xrf ${fmt(f.weight_xrf, 3)} (${(m.config as { weights?: { strategy?: string } })?.weights?.strategy ?? "gradnorm"})`);
  if (s.progress?.resumedFrom) lines.push(`  resumed      from the checkpoint at iteration ${s.progress.resumedFrom} (attempt ${s.progress.attempt})`);
  lines.push("");
  lines.push(table3(["", "iteration 1", "final"], accuracyRows(m)));
  if (f.object_rel_error === undefined) lines.push("  (no ground truth given: errors need --truth)");
  return lines.join("\n");
}
