/**
 * Correlated analysis of structure and composition (beamline note, "Correlated Analysis"): regions of the
 * object, and per region the phase and every element's concentration, how they co-vary and the element ratios.
 *
 * Regions come from
 *   - a segmentation of the phase (source "otsu"): Otsu's threshold (256-bin histogram of the analysed pixels)
 *     splits the pixels into two classes; the background is the class that holds most of the analysed area's
 *     border pixels (ties: the larger class), since a sample's features rarely touch every edge of the scan;
 *     the other class is split into 8-connected components. A component is a region (numbered 1, 2, ... by
 *     decreasing area) when it is
 *       - at least as large as the beam (`beamAreaPixels`: the area of the probe's 86.5 % intensity diameter,
 *         beamArea below) and `minRegionPixels`: the element maps cannot resolve anything smaller than the beam,
 *         so a smaller speck's "composition" is mostly its surroundings';
 *       - supported by the data: its mean phase differs from the background's by at least MIN_REGION_CONTRAST
 *         standard errors, z = |mean - mean_bg| / (std_bg sqrt(A / n)) with n its pixels and A the beam area
 *         (pixels closer than a beam are not independent measurements; A = 1 without a beam area);
 *     other components belong to no region, and how many were dropped for each reason is reported;
 *   - or a label image given by the user (source "mask"): 0 = background, each positive integer a region,
 *     negative = no region. The user's regions are kept as given; those smaller than the beam get a warning.
 * Only pixels inside the analysis mask (the illuminated region) with a finite phase are analysed.
 *
 * Per region (and "overall": every analysed pixel): pixel count and area, centroid, mean and standard
 * deviation (population, ddof 0) of the phase and of each element, Pearson's r between the phase and each
 * element over the region's pixels, and the ratio of the mean concentrations of each element pair (element
 * order, "Fe/Zn"). Undefined values (r of a constant map, a ratio over a zero mean) are NaN (null in JSON).
 *
 * Label map convention of the result: -1 = not analysed / no region, 0 = background, k >= 1 = region k.
 */
import { PNG } from "pngjs";
import { checkMask, type MaskLike } from "./mask.js";

export const DEFAULT_MIN_REGION_PIXELS = 16;
/** A segmented component is a region only if its phase contrast against the background is at least this many standard errors. */
export const MIN_REGION_CONTRAST = 3;

export interface Stat {
  mean: number;
  std: number;
}

export interface ElementStat extends Stat {
  /** Pearson's r of the phase and this element over the region's pixels. */
  pearson: number;
}

export interface RegionStats {
  /** 0 = background, k >= 1 = region k; -1 for "overall". */
  label: number;
  name: string;
  pixels: number;
  /** Area in square micrometres (pixels x pixel size^2). */
  area_um2: number;
  /** Centre of mass of the region's pixels, [y, x] in object pixels. */
  centroid_px: [number, number];
  phase: Stat;
  elements: Record<string, ElementStat>;
  /** Ratio of mean concentrations per element pair, "A/B" in element order. */
  ratios: Record<string, number>;
}

export interface Correlation {
  source: "otsu" | "mask";
  /** The label image used (source "mask"). */
  mask?: string;
  /** Otsu's phase threshold in radians (source "otsu"; NaN when the phase is constant). */
  threshold?: number;
  /** Whether the background is the class above the threshold (source "otsu"). */
  background_high?: boolean;
  min_region_pixels: number;
  /** The beam's area in object pixels (86.5 % intensity diameter); null when not given. */
  beam_area_px: number | null;
  /** Source "otsu": the smallest region, max(min_region_pixels, beam area rounded up), in pixels. */
  region_min_pixels?: number;
  /** Source "otsu": components of the segmentation that are not regions (their pixels are unassigned). */
  dropped?: { too_small: number; unsupported: number; pixels: number };
  pixel_size_m: number;
  elements: string[];
  overall: RegionStats;
  /** Background first (when present), then regions by label. */
  regions: RegionStats[];
  /** Analysed pixels in no region (specks below the minimum size, negative user labels). */
  unassigned_pixels: number;
  warnings: string[];
}

export interface CorrelationInput {
  phase: ArrayLike<number>;
  width: number;
  height: number;
  elements: Record<string, ArrayLike<number>>;
  pixelSize_m: number;
  /** Analysed pixels (e.g. the illuminated region); all when absent. */
  mask?: MaskLike;
  /** User label image (object size, row-major): 0 background, k >= 1 region k, negative none. */
  labels?: { data: ArrayLike<number>; source: string };
  minRegionPixels?: number;
  /** The beam's area in object pixels (beamAreaPixels in src/metrics/beam.ts): no region is smaller. */
  beamAreaPixels?: number;
  /** Warnings to carry into the result (e.g. why a user mask was not used). */
  warnings?: string[];
}

export interface CorrelationResult {
  correlation: Correlation;
  /** Label per pixel: -1 none, 0 background, k region k. */
  labels: Int32Array;
}

/**
 * Otsu's threshold of the values where `use` is set: the boundary between histogram bins (256 bins over the
 * values' range) that maximises the between-class variance. NaN when fewer than two distinct values.
 */
export function otsuThreshold(values: ArrayLike<number>, use?: ArrayLike<number | boolean>, bins = 256): number {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (use && !use[i]) continue;
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi > lo)) return NaN;
  const hist = new Float64Array(bins);
  const w = (hi - lo) / bins;
  let total = 0, sumAll = 0;
  for (let i = 0; i < values.length; i++) {
    if (use && !use[i]) continue;
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    const b = Math.min(bins - 1, Math.floor((v - lo) / w));
    hist[b]++;
    total++;
    sumAll += b;
  }
  let best = -1, bestK = 0, n0 = 0, s0 = 0;
  for (let k = 0; k < bins - 1; k++) {
    n0 += hist[k];
    s0 += k * hist[k];
    const n1 = total - n0;
    if (n0 === 0 || n1 === 0) continue;
    const m0 = s0 / n0, m1 = (sumAll - s0) / n1;
    const between = n0 * n1 * (m0 - m1) ** 2;
    if (between > best) { best = between; bestK = k; }
  }
  return lo + (bestK + 1) * w;
}

/**
 * 8-connected components of the set pixels: labels 1..n (in scan order of their first pixel), 0 elsewhere,
 * and the pixel count of each (index 0 unused).
 */
export function connectedComponents(set: ArrayLike<number | boolean>, width: number, height: number): { labels: Int32Array; sizes: number[] } {
  const labels = new Int32Array(width * height);
  const sizes = [0];
  const stack = new Int32Array(width * height);
  for (let start = 0; start < width * height; start++) {
    if (!set[start] || labels[start]) continue;
    const id = sizes.length;
    let top = 0, size = 0;
    stack[top++] = start;
    labels[start] = id;
    while (top > 0) {
      const p = stack[--top];
      size++;
      const y = Math.floor(p / width), x = p - y * width;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if ((dx === 0 && dy === 0) || xx < 0 || xx >= width) continue;
          const q = yy * width + xx;
          if (set[q] && !labels[q]) { labels[q] = id; stack[top++] = q; }
        }
      }
    }
    sizes.push(size);
  }
  return { labels, sizes };
}

/** The analysed pixels: inside the mask with a finite phase. */
function analysedPixels(phase: ArrayLike<number>, mask: MaskLike | undefined): Uint8Array {
  const use = new Uint8Array(phase.length);
  for (let i = 0; i < phase.length; i++) use[i] = (!mask || mask[i]) && Number.isFinite(phase[i]) ? 1 : 0;
  return use;
}

/** Phase segmentation (see the module comment): labels -1 / 0 / 1..n, the threshold and the background side. */
export interface Segmentation {
  labels: Int32Array;
  threshold: number;
  backgroundHigh: boolean;
  /** The smallest region in pixels: max(minRegionPixels, ceil(beamAreaPixels)). */
  minPixels: number;
  /** Components that are not regions, by reason, and their pixels (labelled -1). */
  dropped: { tooSmall: number; unsupported: number; pixels: number };
}

export function segmentPhase(
  phase: ArrayLike<number>, width: number, height: number, o: { mask?: MaskLike; minRegionPixels?: number; beamAreaPixels?: number } = {},
): Segmentation {
  const use = analysedPixels(phase, o.mask);
  const beam = o.beamAreaPixels !== undefined && o.beamAreaPixels > 0 ? o.beamAreaPixels : 1;
  const minPixels = Math.max(o.minRegionPixels ?? DEFAULT_MIN_REGION_PIXELS, Math.ceil(beam - 1e-9));
  const labels = new Int32Array(width * height).fill(-1);
  const dropped = { tooSmall: 0, unsupported: 0, pixels: 0 };
  const t = otsuThreshold(phase, use);
  for (let i = 0; i < labels.length; i++) if (use[i]) labels[i] = 0;
  if (Number.isNaN(t)) return { labels, threshold: t, backgroundHigh: false, minPixels, dropped };
  // which class holds the border of the analysed area
  let borderHigh = 0, borderLow = 0, nHigh = 0, nLow = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!use[i]) continue;
      const high = phase[i] >= t;
      if (high) nHigh++; else nLow++;
      const border = x === 0 || y === 0 || x === width - 1 || y === height - 1 ||
        !use[i - 1] || !use[i + 1] || !use[i - width] || !use[i + width];
      if (border) { if (high) borderHigh++; else borderLow++; }
    }
  }
  const backgroundHigh = borderHigh !== borderLow ? borderHigh > borderLow : nHigh > nLow;
  const fg = new Uint8Array(width * height);
  for (let i = 0; i < fg.length; i++) fg[i] = use[i] && (phase[i] >= t) !== backgroundHigh ? 1 : 0;
  const { labels: comp, sizes } = connectedComponents(fg, width, height);
  // the background's phase statistics, and each component's phase sum, for the support test
  let nb = 0, sb = 0, sbb = 0;
  const sums = new Float64Array(sizes.length);
  for (let i = 0; i < fg.length; i++) {
    if (!use[i]) continue;
    if (fg[i]) sums[comp[i]] += phase[i];
    else { nb++; sb += phase[i]; sbb += phase[i] * phase[i]; }
  }
  const meanBg = nb ? sb / nb : NaN;
  const stdBg = nb ? Math.sqrt(Math.max(0, sbb / nb - meanBg * meanBg)) : NaN;
  const supported = (id: number): boolean => {
    const n = sizes[id], contrast = Math.abs(sums[id] / n - meanBg);
    if (!(nb > 0) || !(stdBg > 0)) return true; // a flat (or absent) background: every contrast stands out
    return contrast >= MIN_REGION_CONTRAST * stdBg * Math.sqrt(beam / n);
  };
  const keep: Array<{ s: number; id: number }> = [];
  for (let id = 1; id < sizes.length; id++) {
    if (sizes[id] < minPixels) { dropped.tooSmall++; dropped.pixels += sizes[id]; }
    else if (!supported(id)) { dropped.unsupported++; dropped.pixels += sizes[id]; }
    else keep.push({ s: sizes[id], id });
  }
  // regions by decreasing area (ties: first seen first)
  keep.sort((a, b) => b.s - a.s || a.id - b.id);
  const rename = new Int32Array(sizes.length).fill(-1);
  keep.forEach((c, k) => { rename[c.id] = k + 1; });
  for (let i = 0; i < labels.length; i++) if (fg[i]) labels[i] = rename[comp[i]];
  return { labels, threshold: t, backgroundHigh, minPixels, dropped };
}

function pairKeys(elements: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let a = 0; a < elements.length; a++) for (let b = a + 1; b < elements.length; b++) out.push([elements[a], elements[b]]);
  return out;
}

/** Statistics of the pixels listed in `idx`. */
function regionStats(
  label: number, name: string, idx: Int32Array | number[], input: CorrelationInput, elements: string[], bounds: { width: number },
): RegionStats {
  const n = idx.length;
  const px = input.pixelSize_m;
  let sy = 0, sx = 0, sp = 0;
  for (const i of idx) { sy += Math.floor(i / bounds.width); sx += i % bounds.width; sp += input.phase[i]; }
  const mp = n ? sp / n : NaN;
  let vp = 0;
  for (const i of idx) vp += (input.phase[i] - mp) ** 2;
  const el: Record<string, ElementStat> = {};
  for (const e of elements) {
    const m = input.elements[e];
    let s = 0, cnt = 0;
    for (const i of idx) if (Number.isFinite(m[i])) { s += m[i]; cnt++; }
    const me = cnt ? s / cnt : NaN;
    let ve = 0, vpe = 0, cov = 0;
    for (const i of idx) {
      if (!Number.isFinite(m[i])) continue;
      const de = m[i] - me, dp = input.phase[i] - mp;
      ve += de * de; vpe += dp * dp; cov += de * dp;
    }
    const den = Math.sqrt(ve * vpe);
    el[e] = { mean: me, std: cnt ? Math.sqrt(ve / cnt) : NaN, pearson: den > 0 ? Math.max(-1, Math.min(1, cov / den)) : NaN };
  }
  const ratios: Record<string, number> = {};
  for (const [a, b] of pairKeys(elements)) ratios[`${a}/${b}`] = el[b].mean !== 0 ? el[a].mean / el[b].mean : NaN;
  return {
    label, name, pixels: n, area_um2: n * (px * 1e6) ** 2,
    centroid_px: n ? [sy / n, sx / n] : [NaN, NaN],
    phase: { mean: mp, std: n ? Math.sqrt(vp / n) : NaN },
    elements: el, ratios,
  };
}

/** Regions and their statistics (see the module comment). */
export function correlate(input: CorrelationInput): CorrelationResult {
  const { width, height } = input;
  const N = width * height;
  if (input.phase.length !== N) throw new Error(`correlate: phase has ${input.phase.length} values for a ${width} x ${height} object`);
  for (const [e, m] of Object.entries(input.elements)) {
    if (m.length !== N) throw new Error(`correlate: element map ${e} has ${m.length} values for a ${width} x ${height} object`);
  }
  checkMask(input.mask, N, "correlate");
  const minRegionPixels = input.minRegionPixels ?? DEFAULT_MIN_REGION_PIXELS;
  if (!(Number.isInteger(minRegionPixels) && minRegionPixels >= 1)) throw new Error(`correlate: minRegionPixels must be an integer >= 1, got ${minRegionPixels}`);
  const elements = Object.keys(input.elements);
  const warnings = [...(input.warnings ?? [])];
  const use = analysedPixels(input.phase, input.mask);

  const beam = input.beamAreaPixels;
  if (beam !== undefined && !(Number.isFinite(beam) && beam > 0)) throw new Error(`correlate: beamAreaPixels must be a positive number, got ${beam}`);
  let labels: Int32Array;
  let seg: Segmentation | null = null;
  if (input.labels) {
    if (input.labels.data.length !== N) throw new Error(`correlate: label image has ${input.labels.data.length} values for a ${width} x ${height} object`);
    labels = new Int32Array(N).fill(-1);
    for (let i = 0; i < N; i++) {
      const v = input.labels.data[i];
      if (use[i] && Number.isInteger(v) && v >= 0) labels[i] = v;
    }
  } else {
    seg = segmentPhase(input.phase, width, height, { ...(input.mask ? { mask: input.mask } : {}), minRegionPixels, ...(beam ? { beamAreaPixels: beam } : {}) });
    labels = seg.labels;
    if (Number.isNaN(seg.threshold)) warnings.push("the phase is constant over the analysed area: no regions");
  }

  const members = new Map<number, number[]>();
  const all: number[] = [];
  let unassigned = 0;
  for (let i = 0; i < N; i++) {
    if (!use[i]) continue;
    all.push(i);
    const l = labels[i];
    if (l < 0) { unassigned++; continue; }
    let list = members.get(l);
    if (!list) members.set(l, (list = []));
    list.push(i);
  }
  const bounds = { width };
  const regions = [...members.keys()].sort((a, b) => a - b).map((l) =>
    regionStats(l, l === 0 ? "background" : input.labels ? `label ${l}` : `region ${l}`, members.get(l)!, input, elements, bounds));
  if (input.labels && beam) {
    for (const r of regions) {
      if (r.label >= 1 && r.pixels < beam) {
        warnings.push(`${r.name} has ${r.pixels} analysed pixels, fewer than the beam's area (${Math.round(beam)} pixels): its element statistics mostly measure its surroundings`);
      }
    }
  }
  const correlation: Correlation = {
    source: input.labels ? "mask" : "otsu",
    ...(input.labels ? { mask: input.labels.source } : {}),
    ...(seg ? { threshold: seg.threshold, background_high: seg.backgroundHigh } : {}),
    min_region_pixels: minRegionPixels,
    beam_area_px: beam ?? null,
    ...(seg ? {
      region_min_pixels: seg.minPixels,
      dropped: { too_small: seg.dropped.tooSmall, unsupported: seg.dropped.unsupported, pixels: seg.dropped.pixels },
    } : {}),
    pixel_size_m: input.pixelSize_m,
    elements,
    overall: regionStats(-1, "overall", all, input, elements, bounds),
    regions,
    unassigned_pixels: unassigned,
    warnings,
  };
  return { correlation, labels };
}

/**
 * A label image from a PNG: the grey value (red channel of a colour PNG, 8-bit) of each pixel is its label,
 * 0 = background; fully transparent pixels are -1 (no region).
 */
export function labelsFromPng(png: Uint8Array): { data: Int32Array; width: number; height: number } {
  const img = PNG.sync.read(Buffer.from(png.buffer, png.byteOffset, png.byteLength));
  const data = new Int32Array(img.width * img.height);
  for (let i = 0; i < data.length; i++) data[i] = img.data[4 * i + 3] === 0 ? -1 : img.data[4 * i];
  return { data, width: img.width, height: img.height };
}
