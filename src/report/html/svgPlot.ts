/**
 * Small inline-SVG charts for the reports (no JS, no external fonts): line plots (convergence histories),
 * scatter plots (phase vs element) and point plots over categorical x values (sweep parameters).
 *
 * Axes: linear with "nice" 1-2-5 ticks, or logarithmic (decades, plus 2x and 5x ticks when the data span less
 * than two decades). Non-finite values, and values <= 0 on a log axis, are skipped: a line breaks there (a gap)
 * instead of jumping. With no plottable point at all the chart says "no data". Text is escaped.
 */
import { esc } from "./escape.js";
import { fmt } from "./format.js";

/** Colour-blind-friendly categorical palette (Tableau 10). */
export const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

export interface Series {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** CSS colour; default from PALETTE by series index. */
  colour?: string;
  dashed?: boolean;
}

export interface PlotOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  logX?: boolean;
  logY?: boolean;
  /** Size of the SVG in CSS pixels (it scales down with its container). Default 460 x 280. */
  width?: number;
  height?: number;
  /** x values are indices into these labels (categorical axis). */
  xCategories?: string[];
  /** Scatter plots: at most this many points per series (evenly strided, deterministic). Default 2500. */
  maxPoints?: number;
  /** Point radius in pixels for scatter / point plots. Default 2. */
  pointRadius?: number;
  /** Extra note under the title (e.g. "r = 0.93"). */
  subtitle?: string;
  /** Marks drawn at these points (index into each series' points) with a ring, e.g. the best of a sweep. */
  highlight?: Array<{ series: number; index: number }>;
}

export interface Axis {
  lo: number;
  hi: number;
  log: boolean;
  ticks: number[];
}

const CHAR_W = 6.3; // approximate width of one character at the 11 px label size
// generous widths of one character of the 13 px semibold title and the 12 px subtitle (system sans fonts)
const TITLE_CHAR_W = 8;
const SUBTITLE_CHAR_W = 7;

/** Whether a title at `left` and a right-aligned subtitle ending at W - right would overlap on one line. */
export function subtitleNeedsOwnLine(title: string | undefined, subtitle: string | undefined, left: number, W: number, right: number): boolean {
  if (!title || !subtitle) return false;
  return left + title.length * TITLE_CHAR_W + 16 > W - right - subtitle.length * SUBTITLE_CHAR_W;
}

/** The largest 1, 2 or 5 x 10^k <= x. */
function nice125(x: number): number {
  const p = 10 ** Math.floor(Math.log10(x));
  const m = x / p;
  return (m >= 5 ? 5 : m >= 2 ? 2 : 1) * p;
}

/** Linear ticks covering [lo, hi] at a 1-2-5 step, about `count` of them; the domain is widened to the outer ticks. */
export function linearAxis(lo: number, hi: number, count = 5): Axis {
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) return { lo: 0, hi: 1, log: false, ticks: [0, 0.5, 1] };
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= d; hi += d;
  }
  let step = nice125((hi - lo) / Math.max(1, count - 1));
  // the rounded-down step can give too many ticks: take the next 1-2-5 step up while there are more than count + 2
  while ((Math.ceil(hi / step - 1e-9) - Math.floor(lo / step + 1e-9)) > count + 1) step = nice125(step * 2.5);
  const a = Math.floor(lo / step + 1e-9), b = Math.ceil(hi / step - 1e-9);
  const ticks: number[] = [];
  for (let k = a; k <= b; k++) ticks.push(Number((k * step).toPrecision(12)));
  return { lo: a * step, hi: b * step, log: false, ticks };
}

/** Log ticks for positive [lo, hi]: whole decades, plus 2 and 5 multiples when fewer than three decades show. */
export function logAxis(lo: number, hi: number): Axis {
  if (!(lo > 0 && hi > 0 && Number.isFinite(lo) && Number.isFinite(hi))) return { lo: 1, hi: 10, log: true, ticks: [1, 10] };
  if (hi < lo) [lo, hi] = [hi, lo];
  let a = Math.log10(lo), b = Math.log10(hi);
  if (b - a < 1e-9) { a -= 0.5; b += 0.5; }
  const pad = 0.04 * (b - a);
  a -= pad; b += pad;
  const ticks: number[] = [];
  const decades = Math.floor(b) - Math.ceil(a) + 1;
  const mults = decades >= 3 ? [1] : decades >= 1 ? [1, 2, 5] : [1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9];
  for (let k = Math.floor(a); k <= Math.ceil(b); k++) {
    for (const m of mults) {
      const v = m * 10 ** k, l = Math.log10(v);
      if (l >= a - 1e-9 && l <= b + 1e-9) ticks.push(Number(v.toPrecision(12)));
    }
  }
  // thin a long decade list so labels do not collide
  const stride = Math.ceil(ticks.length / 8);
  return { lo: 10 ** a, hi: 10 ** b, log: true, ticks: stride > 1 ? ticks.filter((_, i) => i % stride === 0) : ticks };
}

/**
 * Axis of the values. `tight` (point plots): the domain is the data range padded by 5 % on each side (points
 * never sit on the frame), with the nice ticks that fall inside it.
 */
function axisFor(values: number[], log: boolean, tight = false): Axis {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (log) return logAxis(lo, hi);
  const axis = linearAxis(lo, hi);
  if (!tight || !(hi > lo)) return axis;
  const d = 0.05 * (hi - lo);
  return { lo: lo - d, hi: hi + d, log: false, ticks: axis.ticks.filter((t) => t >= lo - d - 1e-12 && t <= hi + d + 1e-12) };
}

const usable = (v: number, log: boolean) => Number.isFinite(v) && (!log || v > 0);

interface Frame {
  W: number; H: number; left: number; right: number; top: number; bottom: number;
  /** The subtitle goes on its own line under the title (they would overlap on one); the legend's top. */
  subtitleBelow: boolean; legendTop: number;
  x: Axis; y: Axis;
  sx: (v: number) => number; sy: (v: number) => number;
}

function scaler(axis: Axis, from: number, to: number): (v: number) => number {
  const f = (v: number) => (axis.log ? Math.log10(v) : v);
  const a = f(axis.lo), b = f(axis.hi);
  return (v: number) => from + ((f(v) - a) / (b - a || 1)) * (to - from);
}

const n2 = (v: number) => (Math.round(v * 100) / 100).toString();

function legendHeight(series: Series[], width: number): number {
  if (series.length < 2) return 0;
  let x = 0, rows = 1;
  for (const s of series) {
    const w = 22 + s.name.length * CHAR_W + 14;
    if (x + w > width && x > 0) { rows++; x = 0; }
    x += w;
  }
  return rows * 16 + 4;
}

function legend(series: Series[], colours: string[], left: number, top: number, width: number, kind: "line" | "point"): string {
  if (series.length < 2) return "";
  let x = 0, y = 0;
  const items = series.map((s, i) => {
    const w = 22 + s.name.length * CHAR_W + 14;
    if (x + w > width && x > 0) { y += 16; x = 0; }
    const gx = left + x, gy = top + y + 8;
    x += w;
    const mark = kind === "line"
      ? `<line x1="${n2(gx)}" y1="${n2(gy)}" x2="${n2(gx + 16)}" y2="${n2(gy)}" stroke="${esc(colours[i])}" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 3"' : ""}/>`
      : `<circle cx="${n2(gx + 8)}" cy="${n2(gy)}" r="4" fill="${esc(colours[i])}"/>`;
    return `${mark}<text x="${n2(gx + 21)}" y="${n2(gy + 4)}" class="legend">${esc(s.name)}</text>`;
  });
  return `<g>${items.join("")}</g>`;
}

function tickLabel(v: number, axis: Axis, categories?: string[]): string {
  if (categories) return categories[Math.round(v)] ?? "";
  if (axis.log) {
    const k = Math.log10(v);
    if (Math.abs(k - Math.round(k)) < 1e-9 && (Math.abs(k) >= 3)) return `1e${Math.round(k)}`;
  }
  return fmt(v);
}

function frameSvg(f: Frame, o: PlotOptions, legendSvg: string, body: string, empty: boolean): string {
  const { W, H, left, right, top, bottom } = f;
  const parts: string[] = [];
  parts.push(`<rect x="${left}" y="${top}" width="${n2(W - left - right)}" height="${n2(H - top - bottom)}" class="plot-bg"/>`);
  if (!empty) {
    for (const t of f.y.ticks) {
      const y = f.sy(t);
      parts.push(`<line x1="${left}" x2="${n2(W - right)}" y1="${n2(y)}" y2="${n2(y)}" class="grid"/>`);
      parts.push(`<text x="${left - 5}" y="${n2(y + 3.5)}" text-anchor="end" class="tick">${esc(tickLabel(t, f.y))}</text>`);
    }
    const xt = o.xCategories ? o.xCategories.map((_, i) => i) : f.x.ticks;
    const every = o.xCategories ? Math.max(1, Math.ceil((xt.length * 60) / (W - left - right))) : 1;
    xt.forEach((t, i) => {
      const x = f.sx(t);
      parts.push(`<line y1="${top}" y2="${n2(H - bottom)}" x1="${n2(x)}" x2="${n2(x)}" class="grid"/>`);
      if (i % every === 0) parts.push(`<text x="${n2(x)}" y="${n2(H - bottom + 14)}" text-anchor="middle" class="tick">${esc(tickLabel(t, f.x, o.xCategories))}</text>`);
    });
    parts.push(body);
  } else {
    parts.push(`<text x="${n2((left + W - right) / 2)}" y="${n2((top + H - bottom) / 2)}" text-anchor="middle" class="nodata">no data</text>`);
  }
  parts.push(`<rect x="${left}" y="${top}" width="${n2(W - left - right)}" height="${n2(H - top - bottom)}" class="plot-frame"/>`);
  if (o.title) parts.push(`<text x="${left}" y="15" class="title">${esc(o.title)}</text>`);
  if (o.subtitle) {
    parts.push(f.subtitleBelow
      ? `<text x="${left}" y="31" class="subtitle">${esc(o.subtitle)}</text>`
      : `<text x="${n2(W - right)}" y="15" text-anchor="end" class="subtitle">${esc(o.subtitle)}</text>`);
  }
  if (o.xLabel) parts.push(`<text x="${n2((left + W - right) / 2)}" y="${H - 6}" text-anchor="middle" class="axis-label">${esc(o.xLabel)}</text>`);
  if (o.yLabel) parts.push(`<text transform="translate(13 ${n2((top + H - bottom) / 2)}) rotate(-90)" text-anchor="middle" class="axis-label">${esc(o.yLabel)}</text>`);
  parts.push(legendSvg);
  const label = [o.title, o.subtitle].filter(Boolean).join(": ") || "plot";
  return `<svg class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(label)}">${parts.join("")}</svg>`;
}

/** Lays out the frame: y tick label widths set the left margin, the legend sits between title and plot. */
function makeFrame(series: Series[], o: PlotOptions, xs: number[], ys: number[], tight = false): Frame {
  const W = o.width ?? 460, H = o.height ?? 280;
  const x = o.xCategories ? { lo: -0.5, hi: Math.max(0.5, o.xCategories.length - 0.5), log: false, ticks: [] } : axisFor(xs, !!o.logX, tight);
  const y = axisFor(ys, !!o.logY, tight);
  const labelW = Math.max(...y.ticks.map((t) => tickLabel(t, y).length), 1) * CHAR_W;
  const left = Math.ceil((o.yLabel ? 20 : 4) + labelW + 8);
  const right = 12;
  const subtitleBelow = subtitleNeedsOwnLine(o.title, o.subtitle, left, W, right);
  const head = subtitleBelow ? 40 : 24;
  const top = head + legendHeight(series, W - left - right);
  const bottom = o.xLabel ? 36 : 22;
  return {
    W, H, left, right, top, bottom, x, y, subtitleBelow, legendTop: head - 2,
    sx: scaler(x, left, W - right), sy: scaler(y, H - bottom, top),
  };
}

function colours(series: Series[]): string[] {
  return series.map((s, i) => s.colour ?? PALETTE[i % PALETTE.length]);
}

/** Line chart: each series a polyline, broken at unusable (non-finite, or <= 0 on a log axis) points. */
export function linePlot(series: Series[], o: PlotOptions = {}): string {
  const logX = !!o.logX, logY = !!o.logY;
  const xs: number[] = [], ys: number[] = [];
  for (const s of series) {
    const n = Math.min(s.x.length, s.y.length);
    for (let i = 0; i < n; i++) if (usable(s.x[i], logX) && usable(s.y[i], logY)) { xs.push(s.x[i]); ys.push(s.y[i]); }
  }
  const f = makeFrame(series, o, xs, ys);
  const cs = colours(series);
  const body = series.map((s, k) => {
    const n = Math.min(s.x.length, s.y.length);
    let d = "", pen = false, count = 0, lastX = 0, lastY = 0;
    for (let i = 0; i < n; i++) {
      if (!(usable(s.x[i], logX) && usable(s.y[i], logY))) { pen = false; continue; }
      lastX = f.sx(s.x[i]); lastY = f.sy(s.y[i]);
      d += `${pen ? "L" : "M"}${n2(lastX)} ${n2(lastY)}`;
      pen = true; count++;
    }
    if (count === 0) return "";
    // a single point (or isolated points) would be invisible as a path: mark the last one
    const dot = count === 1 ? `<circle cx="${n2(lastX)}" cy="${n2(lastY)}" r="2.5" fill="${esc(cs[k])}"/>` : "";
    return `<path d="${d}" fill="none" stroke="${esc(cs[k])}" stroke-width="1.8" stroke-linejoin="round"${s.dashed ? ' stroke-dasharray="5 3"' : ""}/>${dot}`;
  }).join("");
  return frameSvg(f, o, legend(series, cs, f.left, f.legendTop, f.W - f.left - f.right, "line"), body, xs.length === 0);
}

/** Scatter chart: points of each series (at most maxPoints per series, evenly strided), translucent. */
export function scatterPlot(series: Series[], o: PlotOptions = {}): string {
  const logX = !!o.logX, logY = !!o.logY;
  const maxPoints = o.maxPoints ?? 2500;
  const kept = series.map((s) => {
    const n = Math.min(s.x.length, s.y.length);
    const idx: number[] = [];
    for (let i = 0; i < n; i++) if (usable(s.x[i], logX) && usable(s.y[i], logY)) idx.push(i);
    const stride = Math.max(1, Math.ceil(idx.length / maxPoints));
    return stride > 1 ? idx.filter((_, j) => j % stride === 0) : idx;
  });
  const xs = series.flatMap((s, k) => kept[k].map((i) => s.x[i]));
  const ys = series.flatMap((s, k) => kept[k].map((i) => s.y[i]));
  const f = makeFrame(series, o, xs, ys, true);
  const cs = colours(series);
  const r = o.pointRadius ?? 2;
  const body = series.map((s, k) => {
    if (!kept[k].length) return "";
    // one path of zero-length round-capped segments: cheap to draw even with thousands of points
    const d = kept[k].map((i) => `M${n2(f.sx(s.x[i]))} ${n2(f.sy(s.y[i]))}h0`).join("");
    return `<path d="${d}" stroke="${esc(cs[k])}" stroke-width="${2 * r}" stroke-linecap="round" stroke-opacity="${kept[k].length > 300 ? 0.6 : 0.85}" fill="none"/>`;
  }).join("");
  const rings = (o.highlight ?? []).map(({ series: k, index }) => {
    const s = series[k];
    if (!s || !(index < Math.min(s.x.length, s.y.length)) || !usable(s.x[index], logX) || !usable(s.y[index], logY)) return "";
    return `<circle cx="${n2(f.sx(s.x[index]))}" cy="${n2(f.sy(s.y[index]))}" r="${r + 4}" class="highlight"/>`;
  }).join("");
  return frameSvg(f, o, legend(series, cs, f.left, f.legendTop, f.W - f.left - f.right, "point"), body + rings, xs.length === 0);
}
