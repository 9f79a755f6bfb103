/**
 * report.html of a run (docs/reports.md): one self-contained page (inline CSS and SVG, PNGs as data: URIs, no
 * scripts, no external URLs) with the maps (colour and scale bars), each element over the phase, the
 * correlation analysis, the convergence histories, the metrics, the config and the provenance.
 */
import path from "node:path";
import { MIN_REGION_CONTRAST, type Correlation, type RegionStats } from "../metrics/correlation.js";
import { AREAL_DENSITY, PHASE, type Unit } from "../scan/units.js";
import { cropLabels } from "./crop.js";
import { esc } from "./html/escape.js";
import { fmt, fmtDuration, fmtLength } from "./html/format.js";
import { mapFigure, regionOutlineSvg } from "./html/mapFigure.js";
import { renderPage, type PageSection } from "./html/page.js";
import { linePlot, PALETTE, scatterPlot, type Series } from "./html/svgPlot.js";
import { flatten, htmlTable, keyValueTable, leafText, type Cell } from "./html/table.js";
import { lutRgb } from "./png.js";
import { COLORMAPS } from "./colormap.js";
import { elementWording, PHASE_LABEL, type PreviewPlan } from "./previews.js";

/** One history record as metrics.json holds it (non-finite numbers as null). */
export interface HistoryRecordJson {
  iteration: number;
  time_s: number;
  losses: Record<string, number | null>;
  weights: Record<string, number | null>;
  steps: Record<string, number | null>;
  errors?: Record<string, number | null>;
}

export interface RunReportInput {
  /** Facts of the run (the fields of metrics.json). */
  run: {
    mode: string;
    iterations: number;
    wall_s: number;
    ms_per_iter: number;
    engine: string;
    device: string;
    scan: string;
    truth: string | null;
    /** metrics.json "final": numbers and per-element records. */
    final: object;
    config: unknown;
    history: HistoryRecordJson[];
  };
  provenance: { version: string; created: string; scanSha256: string | null; configHash?: string };
  /** Config defaults: values that differ are highlighted. */
  configDefaults?: unknown;
  width: number;
  height: number;
  pixelSize_m: number;
  /** Previews to draw (planPreviews): their maps (cropped to the illuminated region) with HTML colour bars. */
  previews: PreviewPlan[];
  /** Unit of the element maps (units.ts elementMapUnit(link)); default µg/cm² areal density. */
  elementUnit?: Unit;
  /** Phase and element maps for the scatter plots of the correlation analysis. */
  phase?: ArrayLike<number>;
  elements: Record<string, ArrayLike<number>>;
  correlation?: { correlation: Correlation; labels: Int32Array } | null;
}

const num = (v: number | null | undefined) => (typeof v === "number" ? v : NaN);

function planNote(p: PreviewPlan): string {
  switch (p.kind) {
    case "phase": return p.note ?? "";
    case "amplitude": return "";
    case "element": return "element map";
    case "overlay": return "element in colour, phase in grey";
  }
}

function figureOf(p: PreviewPlan, input: RunReportInput, extra: { overlaySvg?: string; title?: string; note?: string } = {}): string {
  const r = p.image();
  const grey = (t: number) => lutRgb(COLORMAPS.grey, t);
  const bars = p.kind === "overlay" && p.phaseRange
    ? [{ range: p.phaseRange, colour: grey, label: p.phaseLabel ?? PHASE_LABEL }, { range: p.range, colour: p.barColour, label: p.label }]
    : [{ range: p.range, colour: p.barColour, label: p.label }];
  return mapFigure({
    title: extra.title ?? p.title, note: extra.note ?? planNote(p), png: r.png, width: p.crop.width, height: p.crop.height,
    pixelSize_m: input.pixelSize_m, colourBars: bars,
    ...(extra.overlaySvg ? { overlaySvg: extra.overlaySvg } : {}),
  });
}

function tile(k: string, v: string): string {
  return `<div class="tile"><div class="v">${esc(v)}</div><div class="k">${esc(k)}</div></div>`;
}

function summarySection(input: RunReportInput): PageSection {
  const f = input.run.final as Record<string, unknown>;
  const tiles: string[] = [];
  const n = (k: string) => (typeof f[k] === "number" ? (f[k] as number) : undefined);
  if (n("object_rel_error") !== undefined) tiles.push(tile("object error (relative)", fmt(n("object_rel_error"))));
  if (n("object_cpcc") !== undefined) tiles.push(tile("object cPCC", fmt(n("object_cpcc"))));
  for (const [el, e] of Object.entries((f.element_rel_error ?? {}) as Record<string, number>)) tiles.push(tile(`${el} map error`, fmt(e)));
  tiles.push(tile("final loss", fmt(n("loss_total"))));
  if (n("weight_ptycho") !== undefined && n("weight_xrf") !== undefined) tiles.push(tile("weights ptycho / xrf", `${fmt(n("weight_ptycho"))} / ${fmt(n("weight_xrf"))}`));
  tiles.push(tile("time per iteration", `${fmt(input.run.ms_per_iter)} ms`));
  tiles.push(tile("object", `${input.width} × ${input.height} px`));
  tiles.push(tile("pixel size", fmtLength(input.pixelSize_m)));
  const rows: Array<[string, Cell]> = flatten(f).map(([k, v]) => [k, typeof v === "number" ? v : leafText(v)]);
  return {
    id: "summary", title: "Summary",
    html: `<div class="tiles">${tiles.join("")}</div><h3>Final metrics</h3>${keyValueTable(rows)}`,
  };
}

function mapsSection(input: RunReportInput): PageSection | null {
  const maps = input.previews.filter((p) => p.kind !== "overlay");
  if (!maps.length) return null;
  return {
    id: "maps", title: "Maps",
    html: `<p class="note">Maps are cropped to the illuminated region (the full object is in result.h5); hatched pixels lie outside it. Colour bars span the robust range (1st–99th percentile) of the illuminated region.</p>` +
      `<div class="figures">${maps.map((p) => figureOf(p, input)).join("")}</div>`,
  };
}

function overlaysSection(input: RunReportInput): PageSection | null {
  const overlays = input.previews.filter((p) => p.kind === "overlay");
  if (!overlays.length) return null;
  return { id: "overlays", title: "Elements on the phase", html: `<div class="figures">${overlays.map((p) => figureOf(p, input)).join("")}</div>` };
}

function regionRow(r: RegionStats, elements: string[], colour: string | null): Cell[] {
  const swatch = colour ? `<span class="swatch" style="background:${colour}"></span>` : "";
  return [
    { html: `${swatch}${esc(r.name)}` }, r.pixels, r.area_um2, r.phase.mean, r.phase.std,
    ...elements.flatMap((e) => [r.elements[e].mean, r.elements[e].std, r.elements[e].pearson]),
    ...Object.values(r.ratios),
  ];
}

function correlationSection(input: RunReportInput): PageSection | null {
  const c = input.correlation;
  if (!c) return null;
  const { correlation: k, labels } = c;
  const phasePlan = input.previews.find((p) => p.kind === "phase");
  const regionIds = k.regions.filter((r) => r.label >= 1).map((r) => r.label);
  const colourOf = (label: number) => (label >= 1 ? PALETTE[regionIds.indexOf(label) % PALETTE.length] : null);
  // the figure shows the phase preview's crop: outlines and centroids in its pixels
  const crop = phasePlan?.crop ?? { x: 0, y: 0, width: input.width, height: input.height };
  const centroids = new Map(k.regions.map((r) => [r.label, [r.centroid_px[0] - crop.y, r.centroid_px[1] - crop.x]] as [number, [number, number]]));
  const figure = phasePlan
    ? figureOf(phasePlan, input, {
      title: "Regions", note: k.source === "mask" ? `label image ${path.basename(k.mask ?? "")}` : "Otsu segmentation of the phase",
      overlaySvg: regionOutlineSvg(cropLabels(labels, input.width, crop), crop.width, crop.height, centroids),
    })
    : "";
  const beam = k.beam_area_px !== null && k.beam_area_px !== undefined ? ` (the beam's area: ${esc(fmt(k.beam_area_px))} pixels, 86.5 % intensity diameter)` : "";
  const dropped = k.dropped && (k.dropped.too_small || k.dropped.unsupported)
    ? ` Not regions: ${[
      k.dropped.too_small ? `${k.dropped.too_small} component${k.dropped.too_small === 1 ? "" : "s"} smaller than that` : "",
      k.dropped.unsupported ? `${k.dropped.unsupported} whose phase contrast is within ${MIN_REGION_CONTRAST} standard errors of the background` : "",
    ].filter(Boolean).join(" and ")} (${k.dropped.pixels} pixels, unassigned).`
    : "";
  const how = k.source === "mask"
    ? `Regions from the label image <code>${esc(k.mask ?? "")}</code> (0 = background).`
    : `Regions: Otsu threshold of the phase at ${esc(fmt(k.threshold))} rad; background = the ${k.background_high ? "high" : "low"}-phase class (it holds the scan's border); connected components of at least ${k.region_min_pixels ?? k.min_region_pixels} pixels${beam} whose phase stands out of the background's are regions.${dropped}`;
  const els = k.elements;
  const unit = input.elementUnit ?? AREAL_DENSITY;
  const u = unit.label ? ` (${esc(unit.label)})` : "";
  const ratioKeys = Object.keys(k.overall.ratios);
  const header: Cell[] = ["region", { html: "pixels", className: "num" }, { html: "area (µm²)", className: "num" }, { html: `phase mean (${PHASE.label})`, className: "num" }, { html: `phase std (${PHASE.label})`, className: "num" },
    ...els.flatMap((e) => [{ html: `${esc(e)} mean${u}`, className: "num" }, { html: `${esc(e)} std${u}`, className: "num" }, { html: `r(phase, ${esc(e)})`, className: "num" }]),
    ...ratioKeys.map((r) => ({ html: esc(r), className: "num" }))];
  const rows = [...k.regions.map((r) => regionRow(r, els, colourOf(r.label))), regionRow(k.overall, els, null)];
  const table = htmlTable(header, rows, { rowClass: (i) => (i === rows.length - 1 ? "total" : undefined) });
  // one scatter plot per element: background grey, regions in their outline colours
  const plots = input.phase ? els.map((e) => {
    const m = input.elements[e];
    const groups = k.regions.map((r) => ({ r, idx: [] as number[] }));
    const byLabel = new Map(groups.map((g) => [g.r.label, g]));
    for (let i = 0; i < labels.length; i++) byLabel.get(labels[i])?.idx.push(i);
    const series: Series[] = groups.filter((g) => g.idx.length).map((g) => ({
      name: g.r.name, colour: colourOf(g.r.label) ?? "#c3c9d3",
      x: g.idx.map((i) => input.phase![i]), y: g.idx.map((i) => m[i]),
    }));
    return scatterPlot(series, { title: `Phase vs ${e}`, subtitle: `r = ${fmt(k.overall.elements[e].pearson)} overall`, xLabel: PHASE_LABEL, yLabel: elementWording(e, unit).label, maxPoints: 1500, width: 400, height: 300 });
  }) : [];
  const warnings = k.warnings.map((w) => `<div class="warn">${esc(w)}</div>`).join("");
  return {
    id: "correlation", title: "Correlation analysis",
    html: `${warnings}<p class="note">${how} Statistics over the illuminated region; r is Pearson's correlation of phase and element map within each region; ratios are ratios of the mean ${esc(unit === AREAL_DENSITY ? "areal densities" : "element map values")}.</p>` +
      `<div class="figures">${figure}<div class="plots">${plots.join("")}</div></div><h3>Regions</h3>${table}`,
  };
}

function convergenceSection(input: RunReportInput): PageSection {
  const h = input.run.history;
  if (!h.length) return { id: "convergence", title: "Convergence", html: `<p class="note">No history recorded.</p>` };
  const it = h.map((r) => r.iteration);
  const group = (g: "losses" | "weights" | "steps" | "errors"): Series[] => {
    const names: string[] = [];
    for (const r of h) for (const k of Object.keys(r[g] ?? {})) if (!names.includes(k)) names.push(k);
    return names.map((name) => ({ name, x: it, y: h.map((r) => num(r[g]?.[name])), ...(name === "total" ? { colour: "#1d2330", dashed: true } : {}) }));
  };
  const plots = [linePlot(group("losses"), { width: 410, title: "Loss terms", xLabel: "iteration", yLabel: "loss", logY: true })];
  const weights = group("weights");
  if (weights.length) plots.push(linePlot(weights, { width: 410, title: "Weights", xLabel: "iteration", yLabel: "weight" }));
  const errors = group("errors");
  if (errors.length) plots.push(linePlot(errors, { width: 410, title: "Errors against the truth", xLabel: "iteration", yLabel: "relative error / cPCC", logY: true }));
  const steps = group("steps");
  if (steps.length) plots.push(linePlot(steps, { width: 410, title: "Step sizes", xLabel: "iteration", yLabel: "step", logY: true }));
  const dt = h.map((r, i) => (i === 0 ? NaN : 1000 * (r.time_s - h[i - 1].time_s) / Math.max(1, r.iteration - h[i - 1].iteration)));
  plots.push(linePlot([{ name: "ms / iteration", x: it, y: dt }], { width: 410, title: "Time per iteration", xLabel: "iteration", yLabel: "ms" }));
  return { id: "convergence", title: "Convergence", html: `<div class="plots">${plots.join("")}</div>` };
}

function configSection(input: RunReportInput): PageSection {
  const defaults = new Map(input.configDefaults === undefined ? [] : flatten(input.configDefaults).map(([k, v]) => [k, JSON.stringify(v)]));
  const rows = flatten(input.run.config).map(([k, v]) => {
    const changed = defaults.size > 0 && defaults.get(k) !== JSON.stringify(v);
    return `<tr><th>${esc(k)}</th><td class="mono${changed ? " changed" : ""}">${esc(leafText(v))}</td></tr>`;
  });
  // three balanced columns of rows
  const per = Math.ceil(rows.length / 3) || 1;
  const cols = [0, 1, 2].map((c) => `<table class="kv"><tbody>${rows.slice(c * per, (c + 1) * per).join("")}</tbody></table>`).join("");
  const note = defaults.size ? `<p class="note">Values in <span class="changed">bold</span> differ from the defaults.</p>` : "";
  return { id: "config", title: "Config", html: `${note}<div class="cols">${cols}</div>` };
}

function provenanceSection(input: RunReportInput): PageSection {
  const p = input.provenance, r = input.run;
  const rows: Array<[string, Cell]> = [
    ["ptyxrf version", p.version], ["created", p.created], ["engine", r.engine], ["device", r.device],
    ["scan", r.scan], ["scan sha256", p.scanSha256 ?? "not computed"], ["ground truth", r.truth ?? "none"],
    ...(p.configHash ? [["config hash", p.configHash] as [string, Cell]] : []),
    ["object grid", `${input.width} × ${input.height} pixels of ${fmtLength(input.pixelSize_m)}`],
    ["wall time", fmtDuration(r.wall_s)],
  ];
  return { id: "provenance", title: "Provenance", html: keyValueTable(rows, "kv mono-values") };
}

/** "cell-A.h5 · joint reconstruction · 2026-05-01 14:03 UTC": the scan's file name, the mode and the date. */
export function reportTitle(scan: string, mode: string, created: string): string {
  const d = new Date(created);
  const when = Number.isNaN(d.getTime()) ? created : `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 16)} UTC`;
  return `${path.basename(scan) || scan} · ${mode} reconstruction · ${when}`;
}

/** The whole report page. */
export function renderRunReport(input: RunReportInput): string {
  const r = input.run;
  const sections = [
    summarySection(input), mapsSection(input), overlaysSection(input), correlationSection(input),
    convergenceSection(input), configSection(input), provenanceSection(input),
  ].filter((s): s is PageSection => s !== null);
  return renderPage({
    kicker: "ptyxrf run report",
    title: reportTitle(r.scan, r.mode, input.provenance.created),
    facts: [
      ["mode", r.mode], ["iterations", String(r.iterations)], ["wall time", fmtDuration(r.wall_s)],
      ["engine", `${r.engine} (${r.device})`], ["created", input.provenance.created],
    ],
    sections,
    footer: `ptyxrf ${esc(input.provenance.version)} · self-contained report: no scripts, no external resources`,
  });
}
