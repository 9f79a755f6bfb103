/**
 * Loading a scan for reconstruction: the diffraction stack read once into shared memory (float32), the
 * object grid and scan windows, the XRF data, and the link the scan's metadata supports.
 */
import { firstNonFinite } from "./finite.js";
import { objectShapeFor, pixelSize_m, positionsToPixels, wavelength_m, type ScanWindows } from "../physics/geometry.js";
import { PATHS } from "../scan/layout.js";
import type { DiffractionArray, LinkSpec, ScanHeader } from "../scan/model.js";
import { ScanFormatError, ScanReader } from "../scan/read.js";
import type { Problem } from "../scan/validate.js";
import { ConfigError, type LinkChoice } from "./config.js";

export interface LoadedScan {
  header: ScanHeader;
  /** [npos, N, N] counts as float32 on a SharedArrayBuffer (held once; engines adopt it). */
  diffraction: Float32Array;
  source: string;
}

/**
 * The scan's data, read whole for a run, breaks a rule that validation checks on a sample only (the
 * diffraction counts of every frame) or that the solver relies on (finite positions, maps, probe guess).
 * Callers report it as an invalid scan (exit 2, never retried): reconstructRun.ts prepare.
 */
export class ScanDataError extends ScanFormatError {
  constructor(readonly source: string, readonly problems: Problem[]) {
    super(`${source}: ${problems.map((p) => p.message).join("; ")}`);
    this.name = "ScanDataError";
  }
}

function dataProblem(code: string, path: string, expected: string, found: string, hint?: string): Problem {
  return { code, path, expected, found, message: `${path}: expected ${expected}, found ${found}${hint ? ` (${hint})` : ""}` };
}

/** First bad pixel of a class of frames, and how many frames have one. */
interface Tally {
  frames: number;
  first: { frame: number; pixel: number; value: number } | null;
}

/**
 * Every frame's counts as they load, block by block in their stored dtype (no second pass over the file):
 * NaN, infinite and negative counts. Integer dtypes cannot hold any of them and are not looked at.
 */
export class FrameCheck {
  readonly nonFinite: Tally = { frames: 0, first: null };
  readonly negative: Tally = { frames: 0, first: null };

  constructor(readonly npos: number, readonly frameSize: number) {}

  add(block: DiffractionArray, start: number): void {
    if (!(block instanceof Float32Array)) return;
    const nn = this.frameSize * this.frameSize;
    for (let f = 0; f * nn < block.length; f++) {
      let nonFinite = -1, negative = -1;
      for (let i = f * nn, end = i + nn; i < end; i++) {
        const v = block[i];
        if (v >= 0 && v < Infinity) continue;
        if (v < 0 && v > -Infinity) { if (negative < 0) negative = i - f * nn; }
        else if (nonFinite < 0) nonFinite = i - f * nn;
      }
      if (nonFinite >= 0) this.count(this.nonFinite, start + f, nonFinite, block[f * nn + nonFinite]);
      if (negative >= 0) this.count(this.negative, start + f, negative, block[f * nn + negative]);
    }
  }

  private count(t: Tally, frame: number, pixel: number, value: number): void {
    t.frames++;
    t.first ??= { frame, pixel, value };
  }

  problems(): Problem[] {
    const n = this.frameSize;
    const first = (t: Tally) => {
      const { frame, pixel, value } = t.first!;
      return `${t.frames} of ${this.npos} frames (the first: frame ${frame}, pixel [${Math.floor(pixel / n)}, ${pixel % n}] = ${value})`;
    };
    const out: Problem[] = [];
    if (this.nonFinite.frames) out.push(dataProblem("non-finite-counts", PATHS.diffraction, "finite counts in every frame", `NaN or infinite values in ${first(this.nonFinite)}`));
    if (this.negative.frames) out.push(dataProblem("negative-counts", PATHS.diffraction, "non-negative counts in every frame", `negative counts in ${first(this.negative)}`, "subtract dark frames with clipping at 0, or mask"));
    return out;
  }
}

/** The header's arrays and coefficients the solver uses: all finite. */
export function headerProblems(header: ScanHeader): Problem[] {
  const out: Problem[] = [];
  const arrays: [string, string, ArrayLike<number>, string][] = [
    ["non-finite-positions", PATHS.positions, header.positions, "values"],
    ...header.xrf.elements.map((e): [string, string, ArrayLike<number>, string] => ["non-finite-xrf", `${PATHS.xrfMaps}/${e.symbol}`, header.xrf.maps[e.symbol] ?? [], "positions"]),
    ...(header.probeGuess ? [["non-finite-probe", PATHS.probeGuess, header.probeGuess.data, "values"] as [string, string, ArrayLike<number>, string]] : []),
  ];
  for (const [code, path, values, what] of arrays) {
    const bad = firstNonFinite(values);
    if (bad.count) out.push(dataProblem(code, path, "finite values", `NaN or infinite values at ${bad.count} of ${values.length} ${what} (the first: index ${bad.first})`));
  }
  for (const e of header.xrf.elements) {
    for (const a of ["sensitivity", "beta", "delta"] as const) {
      const v = e[a];
      if (v !== undefined && !Number.isFinite(v)) out.push(dataProblem("bad-attribute", `${PATHS.xrfMaps}/${e.symbol}@${a}`, "a finite number", String(v)));
    }
  }
  for (const a of ["matrix_beta", "matrix_delta"] as const) {
    const v = header.metadata[a];
    if (v !== undefined && !Number.isFinite(v)) out.push(dataProblem("bad-attribute", `${PATHS.metadata}@${a}`, "a finite number", String(v)));
  }
  return out;
}

/**
 * Reads a scan file: header and the whole diffraction stack, block by block into shared memory, checking
 * every frame as it loads (FrameCheck) and the header's arrays (headerProblems). Throws ScanDataError
 * naming the first bad frame and the number of bad frames.
 */
export async function loadScan(path: string, blockFrames = 64): Promise<LoadedScan> {
  const r = await ScanReader.open(path);
  try {
    const header = r.header();
    const n = header.frameSize, nn = n * n, npos = header.npos;
    const diffraction = new Float32Array(new SharedArrayBuffer(4 * npos * nn));
    const check = new FrameCheck(npos, n);
    for (let s = 0; s < npos; s += blockFrames) {
      const block = r.readFrames(s, Math.min(blockFrames, npos - s));
      check.add(block, s);
      diffraction.set(block, s * nn);
    }
    const problems = [...headerProblems(header), ...check.problems()];
    if (problems.length) throw new ScanDataError(path, problems);
    return { header, diffraction, source: path };
  } finally {
    r.close();
  }
}

export interface Geometry {
  pixelSize: number;
  height: number;
  width: number;
  windows: ScanWindows;
  /** Whole-pixel offset subtracted from the positions (metres) to centre the scan on the object. */
  offset_m: [number, number];
}

/**
 * Object grid and windows. Positions are centred on the scanned area by a whole number of pixels (a stage
 * offset is removed; a centred scan is left as it is). `grid` forces the object size (e.g. the truth's).
 */
export function scanGeometry(header: ScanHeader, subpixel: boolean, grid?: { height: number; width: number }): Geometry {
  const md = header.metadata;
  const n = header.frameSize;
  const dx = pixelSize_m(md.energy_keV, md.detector_distance_m, n, md.detector_pixel_size_m);
  const p = header.positions;
  let miny = Infinity, maxy = -Infinity, minx = Infinity, maxx = -Infinity;
  for (let i = 0; i < p.length; i += 2) {
    miny = Math.min(miny, p[i]); maxy = Math.max(maxy, p[i]);
    minx = Math.min(minx, p[i + 1]); maxx = Math.max(maxx, p[i + 1]);
  }
  const offset_m: [number, number] = [Math.round((miny + maxy) / 2 / dx) * dx, Math.round((minx + maxx) / 2 / dx) * dx];
  const centred = new Float64Array(p.length);
  for (let i = 0; i < p.length; i += 2) {
    centred[i] = p[i] - offset_m[0];
    centred[i + 1] = p[i + 1] - offset_m[1];
  }
  const shape = grid ?? objectShapeFor(centred, dx, n);
  const windows = positionsToPixels(centred, dx, shape, n, { subpixel });
  return { pixelSize: dx, height: shape.height, width: shape.width, windows, offset_m };
}

/** The link for this scan: linear (a_e = 1), or exponential from the per-element beta/delta of the scan. */
export function linkFor(header: ScanHeader, choice: LinkChoice): LinkSpec {
  const els = header.xrf.elements;
  const hasCoefficients = els.every((e) => e.beta !== undefined && e.delta !== undefined);
  const type = choice === "auto" ? (hasCoefficients ? "exponential" : "linear") : choice;
  if (type === "linear") return { type, weights: Object.fromEntries(els.map((e) => [e.symbol, 1])) };
  const missing = els.filter((e) => e.beta === undefined || e.delta === undefined).map((e) => e.symbol);
  if (missing.length) {
    throw new ConfigError([`the exponential link needs beta and delta for every element; the scan has none for ${missing.join(", ")} (attributes on /xrf/elemental_maps/<El>)`]);
  }
  return {
    type,
    k: (2 * Math.PI) / wavelength_m(header.metadata.energy_keV),
    coefficients: Object.fromEntries(els.map((e) => [e.symbol, { beta: e.beta!, delta: e.delta! }])),
    matrix: { beta: header.metadata.matrix_beta ?? 0, delta: header.metadata.matrix_delta ?? 0 },
  };
}

/** Measured fluorescence [E, npos] and sensitivities, in the scan's element order. */
export function xrfData(header: ScanHeader): { elements: string[]; sensitivity: Float32Array; measured: Float32Array } {
  const elements = header.xrf.elements.map((e) => e.symbol);
  const measured = new Float32Array(elements.length * header.npos);
  elements.forEach((el, e) => measured.set(header.xrf.maps[el], e * header.npos));
  const sensitivity = Float32Array.from(header.xrf.elements.map((e) => e.sensitivity ?? 1));
  return { elements, sensitivity, measured };
}
