/**
 * The sweep summary page (docs/reports.md): one self-contained HTML page (inline CSS and SVG, thumbnails as
 * data: URIs, no scripts, no external URLs) for a parameter sweep. The sweep aggregation builds a SweepSummary
 * and calls renderSweepReport. The page: per scan, a table of its tasks ranked by the rank metric (the best
 * highlighted), the failed and missing tasks with their errors, the rank metric against each varied parameter
 * (one series per scan, each scan's best ringed), the spec and the provenance.
 */
import { esc } from "./html/escape.js";
import { fmt } from "./html/format.js";
import { pngDataUri, renderPage, type PageSection } from "./html/page.js";
import { PALETTE, scatterPlot, type Series } from "./html/svgPlot.js";
import { htmlTable, keyValueTable, type Cell } from "./html/table.js";

export interface SweepTaskRow {
  index: number;                 // array index of the task
  id: string;                    // stable task id, e.g. "t003"
  scan: string;                  // the scan URI or path as given in the spec
  scanLabel: string;             // short name for tables
  params: Record<string, string | number | boolean>; // this task's overrides, dotted keys ("noise.ptycho")
  status: "succeeded" | "failed" | "missing";
  error?: string;                // failed/missing: what went wrong
  metrics: Record<string, number>; // flattened numeric metrics (e.g. "object_rel_error", "cpcc", "final_loss", "wall_s")
  rank?: number;                 // 1 = best configuration for its scan (succeeded tasks only)
  reportHref?: string;           // relative link to the task's report.html
  preview?: Uint8Array;          // optional PNG thumbnail (phase)
}

export interface SweepSummary {
  name: string;
  createdAt: string;             // ISO time
  rankBy: { metric: string; order: "min" | "max" };
  spec: unknown;                 // the sweep spec as given
  tasks: SweepTaskRow[];
  provenance: { version: string; profile: string };
}

type ParamValue = string | number | boolean;

/** Parameters in order of first appearance, split into varied (more than one value, or absent somewhere) and fixed. */
function parameters(tasks: SweepTaskRow[]): { varied: string[]; fixed: Array<[string, ParamValue]> } {
  const names: string[] = [];
  for (const t of tasks) for (const k of Object.keys(t.params)) if (!names.includes(k)) names.push(k);
  const varied: string[] = [], fixed: Array<[string, ParamValue]> = [];
  for (const k of names) {
    const values = new Set(tasks.map((t) => (k in t.params ? JSON.stringify(t.params[k]) : "(unset)")));
    if (values.size > 1) varied.push(k);
    else fixed.push([k, tasks[0].params[k]]);
  }
  return { varied, fixed };
}

/** Metric names: the rank metric first, then the others in order of first appearance. */
function metricNames(tasks: SweepTaskRow[], rankMetric: string): string[] {
  const names = [rankMetric];
  for (const t of tasks) for (const k of Object.keys(t.metrics)) if (!names.includes(k)) names.push(k);
  return names;
}

/**
 * Metrics with one value in every succeeded task (e.g. iterations), of two or more: they tell nothing apart, so
 * the page states them once instead of giving each a table column (the table must fit a laptop's window).
 */
function constantMetrics(tasks: SweepTaskRow[], names: string[], rankMetric: string): Array<[string, number]> {
  const done = tasks.filter((t) => t.status === "succeeded");
  if (done.length < 2) return [];
  return names.filter((m) => m !== rankMetric && done.every((t) => t.metrics[m] !== undefined && t.metrics[m] === done[0].metrics[m]))
    .map((m) => [m, done[0].metrics[m]] as [string, number]);
}

/** A header text that may break after "_" and "." (long metric and parameter names wrap instead of widening the table). */
function breakable(text: string): string {
  return esc(text).replace(/([_.])/g, "$1<wbr>");
}

/** Succeeded tasks by rank (unranked after, by the rank metric), then failed and missing ones by index. */
function ordered(tasks: SweepTaskRow[], s: SweepSummary): SweepTaskRow[] {
  const m = s.rankBy.metric, sign = s.rankBy.order === "min" ? 1 : -1;
  const key = (t: SweepTaskRow) => (t.status !== "succeeded" ? 2 : t.rank !== undefined ? 0 : 1);
  return [...tasks].sort((a, b) => key(a) - key(b)
    || (a.rank ?? 0) - (b.rank ?? 0)
    || sign * ((a.metrics[m] ?? Infinity) - (b.metrics[m] ?? Infinity))
    || a.index - b.index);
}

function statusBadge(t: SweepTaskRow): string {
  const cls = t.status === "succeeded" ? "ok" : t.status === "failed" ? "bad" : "miss";
  return `<span class="badge ${cls}">${esc(t.status)}</span>`;
}

function taskLink(t: SweepTaskRow): Cell {
  return { html: t.reportHref ? `<a href="${esc(t.reportHref)}">${esc(t.id)}</a>` : esc(t.id), className: "mono" };
}

const paramCell = (v: ParamValue | undefined): Cell => (v === undefined ? "" : typeof v === "number" ? v : String(v));

function scanTable(tasks: SweepTaskRow[], s: SweepSummary, varied: string[], metrics: string[]): string {
  const rows = ordered(tasks, s);
  const thumbs = rows.some((t) => t.preview);
  const header: Cell[] = [
    { html: "rank", className: "num" }, "task", ...(thumbs ? ["phase"] : []), ...varied.map((p) => ({ html: breakable(p) })),
    ...metrics.map((m) => ({ html: m === s.rankBy.metric ? `${breakable(m)} ${s.rankBy.order === "min" ? "↓" : "↑"}` : breakable(m), className: "num" })),
    "status",
  ];
  const body: Cell[][] = rows.map((t) => [
    t.rank ?? "", taskLink(t),
    ...(thumbs ? [t.preview ? { html: `<img class="thumb" src="${pngDataUri(t.preview)}" alt="phase of ${esc(t.id)}">` } : ""] : []),
    ...varied.map((p) => paramCell(t.params[p])),
    ...metrics.map((m) => (t.metrics[m] !== undefined ? t.metrics[m] : "")),
    { html: statusBadge(t) },
  ]);
  return htmlTable(header, body, {
    className: "data compact",
    rowClass: (i) => (rows[i].rank === 1 ? "best" : rows[i].status !== "succeeded" ? "failed" : undefined),
  });
}

function rankingSection(s: SweepSummary, varied: string[], metrics: string[], constant: Array<[string, number]>): PageSection {
  const scans = [...new Set(s.tasks.map((t) => t.scan))];
  const html = scans.map((scan) => {
    const tasks = s.tasks.filter((t) => t.scan === scan);
    const label = tasks[0].scanLabel;
    const best = tasks.find((t) => t.rank === 1);
    const bestNote = best
      ? `best: <b>${esc(best.id)}</b> (${esc(s.rankBy.metric)} ${esc(fmt(best.metrics[s.rankBy.metric]))}${varied.length ? `; ${varied.map((p) => `${esc(p)} = ${esc(String(best.params[p] ?? "—"))}`).join(", ")}` : ""})`
      : "no succeeded task";
    return `<h3>${esc(label)} <span class="mono" style="font-weight:400;color:#5b6475">${esc(scan)}</span></h3><p class="note">${bestNote}</p>${scanTable(tasks, s, varied, metrics)}`;
  }).join("");
  const same = constant.length
    ? `<p class="note">The same in every succeeded task, so not in the tables: ${constant.map(([k, v]) => `<code>${esc(k)} = ${esc(fmt(v))}</code>`).join(", ")}.</p>`
    : "";
  return { id: "ranking", title: `Ranking by ${s.rankBy.metric} (${s.rankBy.order === "min" ? "lower" : "higher"} is better)`, html: same + html };
}

function failuresSection(s: SweepSummary, varied: string[]): PageSection | null {
  const failed = s.tasks.filter((t) => t.status !== "succeeded");
  if (!failed.length) return null;
  const rows: Cell[][] = failed.map((t) => [taskLink(t), t.scanLabel, ...varied.map((p) => paramCell(t.params[p])), { html: statusBadge(t) }, { html: `<span class="mono">${esc(t.error ?? "(no error recorded)")}</span>` }]);
  return { id: "failures", title: `Failed and missing tasks (${failed.length})`, html: htmlTable(["task", "scan", ...varied, "status", "error"], rows, { rowClass: () => "failed" }) };
}

/** Rank metric against one parameter: numeric x when every value is a number (log x over a wide positive range), else categories. */
function parameterPlot(s: SweepSummary, param: string, scans: string[]): string {
  const metric = s.rankBy.metric;
  const done = s.tasks.filter((t) => t.status === "succeeded" && param in t.params && Number.isFinite(t.metrics[metric]));
  const numeric = done.length > 0 && done.every((t) => typeof t.params[param] === "number");
  const categories = numeric ? undefined : [...new Set(done.map((t) => String(t.params[param])))].sort();
  const xs = done.map((t) => (numeric ? (t.params[param] as number) : categories!.indexOf(String(t.params[param]))));
  const positive = numeric && xs.every((x) => x > 0);
  const logX = positive && Math.max(...xs) / Math.min(...xs) >= 20;
  const highlight: Array<{ series: number; index: number }> = [];
  const series: Series[] = scans.map((scan, k) => {
    const ts = done.filter((t) => t.scan === scan);
    const best = ts.findIndex((t) => t.rank === 1);
    if (best >= 0) highlight.push({ series: k, index: best });
    return {
      name: ts[0]?.scanLabel ?? s.tasks.find((t) => t.scan === scan)?.scanLabel ?? scan, colour: PALETTE[k % PALETTE.length],
      x: ts.map((t) => (numeric ? (t.params[param] as number) : categories!.indexOf(String(t.params[param])))),
      y: ts.map((t) => t.metrics[metric]),
    };
  });
  return scatterPlot(series, {
    title: `${metric} vs ${param}`, subtitle: "ring: best of its scan", xLabel: param, yLabel: metric, logX,
    ...(categories ? { xCategories: categories } : {}), pointRadius: 4, highlight, width: 440, height: 290,
  });
}

function plotsSection(s: SweepSummary, varied: string[]): PageSection | null {
  if (!varied.length) return null;
  const scans = [...new Set(s.tasks.map((t) => t.scan))];
  return { id: "plots", title: `${s.rankBy.metric} against the parameters`, html: `<div class="plots">${varied.map((p) => parameterPlot(s, p, scans)).join("")}</div>` };
}

/** The whole self-contained HTML page of a sweep. */
export function renderSweepReport(summary: SweepSummary): string {
  const s = summary;
  const { varied, fixed } = parameters(s.tasks);
  const allMetrics = metricNames(s.tasks, s.rankBy.metric);
  const constant = constantMetrics(s.tasks, allMetrics, s.rankBy.metric);
  const metrics = allMetrics.filter((m) => !constant.some(([c]) => c === m));
  const count = (st: SweepTaskRow["status"]) => s.tasks.filter((t) => t.status === st).length;
  const scans = new Set(s.tasks.map((t) => t.scan)).size;
  const sections = [
    rankingSection(s, varied, metrics, constant),
    failuresSection(s, varied),
    plotsSection(s, varied),
    {
      id: "spec", title: "Spec",
      html: `${fixed.length ? `<p class="note">Same in every task: ${fixed.map(([k, v]) => `<code>${esc(k)} = ${esc(String(v))}</code>`).join(", ")}</p>` : ""}` +
        `<pre>${esc(JSON.stringify(s.spec, null, 2) ?? "")}</pre>`,
    },
    {
      id: "provenance", title: "Provenance",
      html: keyValueTable([["ptyxrf version", s.provenance.version], ["profile", s.provenance.profile], ["created", s.createdAt], ["tasks", String(s.tasks.length)], ["ranked by", `${s.rankBy.metric} (${s.rankBy.order})`]]),
    },
  ].filter((x): x is PageSection => x !== null);
  return renderPage({
    kicker: "ptyxrf sweep summary",
    title: s.name,
    facts: [
      ["tasks", `${s.tasks.length} (${scans} scan${scans === 1 ? "" : "s"})`], ["succeeded", String(count("succeeded"))],
      ["failed", String(count("failed"))], ["missing", String(count("missing"))],
      ["ranked by", `${s.rankBy.metric} (${s.rankBy.order})`], ["profile", s.provenance.profile], ["created", s.createdAt],
    ],
    sections,
    footer: `ptyxrf ${esc(s.provenance.version)} · self-contained report: no scripts, no external resources`,
  });
}
