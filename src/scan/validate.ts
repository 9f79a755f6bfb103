/**
 * Scan validation: one function for the CLI and the upload Lambda.
 *
 * Returns every problem found, each naming the dataset or attribute (`/metadata@energy_keV` names an
 * attribute), what was expected and what was found. Errors make a scan unusable; warnings are oddities
 * a user should see. Diffraction counts are checked on a bounded sample of frames, so validating a
 * multi-GB file reads a bounded number of bytes. Reads go through a read-only byte source: the file is
 * never modified.
 */
import { FileSource, type FetchStats, type RandomAccessSource } from "./byteSource.js";
import { elementOf } from "./elements.js";
import { pixelSizeFromGeometry } from "./geometryFacts.js";
import { describeDtype, entityKind, getDataset, getGroup, numericAttr, toNumber } from "./h5access.js";
import { BUILTIN_FILTERS, PLUGIN_FILTERS, h5ErrorMessage, type H5Dataset, type H5File } from "./h5runtime.js";
import { ELEMENT_ATTRS, PATHS, REQUIRED_ATTRS } from "./layout.js";
import { diffractionKind, metadataAttr, openH5 } from "./read.js";

export type Severity = "error" | "warning";

export interface Problem {
  /** Stable machine-readable code, e.g. "npos-mismatch". */
  code: string;
  /** Dataset or group path; attributes as `<object>@<attribute>`; "/" for the file itself. */
  path: string;
  expected: string;
  found: string;
  /** One line for people: path, expected, found, and a hint where one helps. */
  message: string;
}

export interface ValidationLimits {
  maxPositions: number;
  minFrameSize: number;
  maxFrameSize: number;
  maxElements: number;
  /** Largest allowed |position| in metres (a stage does not travel further). */
  maxAbsPosition_m: number;
  /** Largest object the positions and frame size may imply, in pixels per side. */
  maxObjectPixels: number;
  maxFileBytes: number;
  /** Diffraction frames whose counts are checked. */
  sampleFrames: number;
  /** Tolerance for XRF positions to equal ptychography positions, metres. */
  positionTolerance_m: number;
}

export const DEFAULT_LIMITS: ValidationLimits = {
  maxPositions: 1_000_000,
  minFrameSize: 16,
  maxFrameSize: 4096,
  maxElements: 32,
  maxAbsPosition_m: 0.05,
  maxObjectPixels: 32_768,
  maxFileBytes: 2 ** 41, // 2 TiB
  sampleFrames: 8,
  positionTolerance_m: 1e-9,
};

export interface ValidationReport {
  source: string;
  ok: boolean;
  errors: Problem[];
  warnings: Problem[];
  /** What the validator read: bytes and requests against the source, frames whose counts were checked. */
  read: FetchStats & { fileBytes: number; framesChecked: number[] };
}

const RANGES = {
  energy_keV: { lo: 0.1, hi: 150, unit: "keV" },
  detector_distance_m: { lo: 0.01, hi: 50, unit: "m" },
  detector_pixel_size_m: { lo: 1e-6, hi: 1e-3, unit: "m" },
} as const;

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

class Collector {
  readonly errors: Problem[] = [];
  readonly warnings: Problem[] = [];
  add(severity: Severity, code: string, path: string, expected: string, found: string, hint?: string): void {
    const message = `${path}: expected ${expected}, found ${found}${hint ? ` (${hint})` : ""}`;
    (severity === "error" ? this.errors : this.warnings).push({ code, path, expected, found, message });
  }
  error(code: string, path: string, expected: string, found: string, hint?: string): void {
    this.add("error", code, path, expected, found, hint);
  }
  warn(code: string, path: string, expected: string, found: string, hint?: string): void {
    this.add("warning", code, path, expected, found, hint);
  }
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(4);
}

function shapeText(shape: number[] | null | undefined): string {
  return shape ? `[${shape.join(", ")}]` : "a scalar";
}

function listIndices(idx: number[], max = 5): string {
  return idx.slice(0, max).join(", ") + (idx.length > max ? `, ... (${idx.length} in all)` : "");
}

function hasSignature(source: RandomAccessSource): boolean {
  const buf = new Uint8Array(8);
  for (let off = 0; off + 8 <= source.size && off <= 1 << 20; off = off === 0 ? 512 : off * 2) {
    if (source.readInto(off, buf) === 8 && HDF5_SIGNATURE.every((b, i) => buf[i] === b)) return true;
  }
  return false;
}

/** Validates a scan given by path or byte source. */
export async function validateScan(
  src: string | RandomAccessSource,
  limits: Partial<ValidationLimits> = {},
): Promise<ValidationReport> {
  const lim = { ...DEFAULT_LIMITS, ...limits };
  const c = new Collector();
  let source: RandomAccessSource;
  try {
    source = typeof src === "string" ? new FileSource(src) : src;
  } catch (err) {
    c.error("unreadable-file", "/", "a readable file", String((err as Error).message));
    return { source: String(src), ok: false, errors: c.errors, warnings: c.warnings, read: { bytesFetched: 0, requests: 0, fileBytes: 0, framesChecked: [] } };
  }
  const name = source.name;
  const fileBytes = source.size;
  const framesChecked: number[] = [];
  const done = (stats: FetchStats): ValidationReport => ({
    source: name,
    ok: c.errors.length === 0,
    errors: c.errors,
    warnings: c.warnings,
    read: { ...stats, fileBytes, framesChecked },
  });

  if (fileBytes === 0) {
    source.close();
    c.error("empty-file", "/", "an HDF5 file", "an empty file (0 bytes)");
    return done({ bytesFetched: 0, requests: 0 });
  }
  if (fileBytes > lim.maxFileBytes) {
    c.error("size-limit", "/", `a file of at most ${lim.maxFileBytes} bytes`, `${fileBytes} bytes`);
  }

  // Look for the signature before opening: openH5 closes `source` when it fails, and a closed
  // FileSource (or any closed source) cannot be read again.
  let isH5 = false;
  try {
    isH5 = hasSignature(source);
  } catch {
    /* unreadable: reported as not HDF5 below if HDF5 cannot open it either */
  }
  let opened: Awaited<ReturnType<typeof openH5>>;
  try {
    opened = await openH5(source);
  } catch (err) {
    source.close();
    if (!isH5) {
      c.error("not-hdf5", "/", "an HDF5 file (signature \\x89HDF\\r\\n\\x1a\\n at offset 0)", "no HDF5 signature", "is this the right file?");
    } else {
      c.error("unreadable-hdf5", "/", "a complete HDF5 file", `one HDF5 cannot open: ${h5ErrorMessage(err).replace(/^.*cannot open as HDF5: /, "")}`, "truncated or corrupt: was the upload or copy complete?");
    }
    return done({ bytesFetched: 0, requests: 0 });
  }
  const { paged, dev } = opened;
  try {
    checkFile(dev.file, c, lim, framesChecked);
  } catch (err) {
    c.error("unreadable-hdf5", "/", "a readable HDF5 file", `an error while reading: ${h5ErrorMessage(err)}`, "truncated or corrupt?");
  } finally {
    dev.close();
    paged.close();
  }
  return done(paged.stats);
}

function requireDataset(file: H5File, path: string, c: Collector): H5Dataset | null {
  const kind = entityKind(file, path);
  if (kind === "dataset") return file.get(path) as H5Dataset;
  if (kind === null) c.error("missing-dataset", path, "a dataset", "nothing");
  else c.error("wrong-kind", path, "a dataset", `a ${kind}`);
  return null;
}

function checkFile(file: H5File, c: Collector, lim: ValidationLimits, framesChecked: number[]): void {
  checkMetadata(file, c);
  const diffraction = requireDataset(file, PATHS.diffraction, c);
  const positions = requireDataset(file, PATHS.positions, c);
  const xrfPositions = requireDataset(file, PATHS.xrfPositions, c);
  const mapsKind = entityKind(file, PATHS.xrfMaps);
  if (mapsKind === null) c.error("missing-group", PATHS.xrfMaps, "a group with one dataset per element", "nothing");
  else if (mapsKind !== "group") c.error("wrong-kind", PATHS.xrfMaps, "a group", `a ${mapsKind}`);

  const npos = diffraction ? checkDiffraction(diffraction, c, lim) : null;
  const nref = npos ?? (positions?.shape?.[0] ?? null);
  let pos: Float64Array | null = null;
  if (positions) pos = checkPositions(positions, nref, npos !== null ? "diffraction" : null, c, lim);
  if (xrfPositions) {
    const xpos = checkPositions(xrfPositions, nref, npos !== null ? "diffraction" : null, c, lim, false);
    if (pos && xpos && pos.length === xpos.length) comparePositions(pos, xpos, c, lim);
  }
  if (pos && diffraction && npos !== null) checkExtent(file, pos, diffraction, c, lim);
  if (mapsKind === "group") checkMaps(file, nref, c, lim);
  checkOptional(file, nref, diffraction, c);
  if (diffraction && npos !== null && npos > 0) checkSampledFrames(diffraction, npos, c, lim, framesChecked);
}

function checkMetadata(file: H5File, c: Collector): void {
  for (const a of REQUIRED_ATTRS) {
    const raw = metadataAttr(file, a);
    const meta = getGroup(file, PATHS.metadata);
    const onRoot = raw !== undefined && !(meta && Object.keys(meta.attrs).includes(a));
    const where = onRoot ? `/@${a}` : `${PATHS.metadata}@${a}`;
    const r = RANGES[a];
    if (raw === undefined) {
      c.error("missing-attribute", where, `a number in ${r.unit} (in ${PATHS.metadata} or on the root group)`, "nothing");
      continue;
    }
    const v = toNumber(raw);
    if (v === undefined) {
      c.error("bad-attribute", where, `a scalar number in ${r.unit}`, typeof raw === "string" ? `the string "${raw}"` : `a ${typeof raw}`);
      continue;
    }
    if (!Number.isFinite(v) || v < r.lo || v > r.hi) {
      let hint: string | undefined;
      if (a === "energy_keV" && v >= 100 && v <= 150_000) hint = "looks like eV: give keV";
      if (a === "detector_pixel_size_m" && v >= 1 && v <= 1000) hint = "looks like micrometres: give metres";
      if (a === "detector_distance_m" && v >= 50 && v <= 50_000) hint = "looks like millimetres: give metres";
      c.error("implausible-value", where, `a value in [${r.lo}, ${r.hi}] ${r.unit}`, fmt(v), hint);
    }
  }
}

function checkDiffraction(ds: H5Dataset, c: Collector, lim: ValidationLimits): number | null {
  const p = PATHS.diffraction;
  const shape = ds.shape ?? [];
  if (shape.length !== 3) {
    c.error("bad-shape", p, "3 dimensions [Npos, N, N]", `${shape.length} dimensions ${shapeText(shape)}`);
    return null;
  }
  const [npos, ny, nx] = shape;
  if (!diffractionKind(ds)) {
    c.error("bad-dtype", p, "uint16, uint32 or float32 counts", describeDtype(ds));
  }
  if (ny !== nx) c.error("non-square-frames", p, "square frames [Npos, N, N]", `frames of ${ny} x ${nx}`, "crop the frames to a square around the beam centre");
  else if ((ny & (ny - 1)) !== 0) c.error("frame-size", p, "frames whose side is a power of two (64, 128, 256...)", `${ny} x ${nx}`, "crop or bin the frames");
  if (Math.max(ny, nx) > lim.maxFrameSize || Math.min(ny, nx) < lim.minFrameSize) {
    c.error("size-limit", p, `frames between ${lim.minFrameSize} and ${lim.maxFrameSize} pixels a side`, `${ny} x ${nx}`);
  }
  if (npos < 1 || npos > lim.maxPositions) c.error("size-limit", p, `between 1 and ${lim.maxPositions} positions`, `${npos}`);
  for (const f of ds.filters ?? []) {
    if (!(f.id in BUILTIN_FILTERS) && !(f.id in PLUGIN_FILTERS)) {
      c.error("missing-filter", p, "compression filters this reader has (gzip, shuffle, bitshuffle/LZ4, blosc, zstd, lz4, ...)", `filter ${f.id}${f.name ? ` "${f.name}"` : ""}`, "the counts cannot be decoded; recompress with a standard filter");
    }
  }
  return npos;
}

function readNumbers(ds: H5Dataset, c: Collector): Float64Array | null {
  try {
    return Float64Array.from(ds.value as ArrayLike<number>);
  } catch (err) {
    c.error("unreadable-data", ds.path, "readable numbers", `an error: ${h5ErrorMessage(err)}`);
    return null;
  }
}

function isNumeric(ds: H5Dataset): boolean {
  const dt = ds.dtype;
  return typeof dt === "string" && /^[<>]?[bBhHiIqQefd]$/.test(dt);
}

function checkPositions(
  ds: H5Dataset, nref: number | null, refName: string | null, c: Collector, lim: ValidationLimits, checkValues = true,
): Float64Array | null {
  const shape = ds.shape ?? [];
  if (shape.length !== 2 || shape[1] !== 2) {
    c.error("bad-shape", ds.path, "[Npos, 2] (y, x) in metres", shapeText(shape));
    return null;
  }
  if (!isNumeric(ds)) {
    c.error("bad-dtype", ds.path, "float64 or float32 metres", describeDtype(ds));
    return null;
  }
  if (nref !== null && shape[0] !== nref) {
    c.error("npos-mismatch", ds.path, `${nref} positions (as ${refName ?? PATHS.positions})`, `${shape[0]}`);
  }
  const v = readNumbers(ds, c);
  if (!v) return null;
  const nonFinite: number[] = [];
  const outside: number[] = [];
  for (let i = 0; i < shape[0]; i++) {
    const y = v[2 * i], x = v[2 * i + 1];
    if (!Number.isFinite(y) || !Number.isFinite(x)) nonFinite.push(i);
    else if (Math.abs(y) > lim.maxAbsPosition_m || Math.abs(x) > lim.maxAbsPosition_m) outside.push(i);
  }
  if (nonFinite.length) c.error("non-finite-positions", ds.path, "finite positions", `NaN or infinite values at positions ${listIndices(nonFinite)}`);
  if (checkValues && outside.length) {
    c.error("position-range", ds.path, `|y|, |x| <= ${lim.maxAbsPosition_m} m`, `larger values at positions ${listIndices(outside)}`, "positions must be in metres");
  }
  return nonFinite.length ? null : v;
}

function comparePositions(a: Float64Array, b: Float64Array, c: Collector, lim: ValidationLimits): void {
  let worst = 0, first = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > lim.positionTolerance_m && first < 0) first = i >> 1;
    worst = Math.max(worst, d);
  }
  if (first >= 0) {
    c.error("positions-mismatch", PATHS.xrfPositions, `the same positions as ${PATHS.positions} (within ${lim.positionTolerance_m} m)`, `a difference of up to ${worst.toExponential(2)} m, first at position ${first}`);
  }
}

function checkExtent(file: H5File, pos: Float64Array, diffraction: H5Dataset, c: Collector, lim: ValidationLimits): void {
  const e = toNumber(metadataAttr(file, "energy_keV"));
  const z = toNumber(metadataAttr(file, "detector_distance_m"));
  const p = toNumber(metadataAttr(file, "detector_pixel_size_m"));
  const n = diffraction.shape?.[1];
  if (!e || !z || !p || !n || e <= 0 || z <= 0 || p <= 0) return;
  const dx = pixelSizeFromGeometry(e, z, n, p);
  let miny = Infinity, maxy = -Infinity, minx = Infinity, maxx = -Infinity;
  for (let i = 0; i < pos.length; i += 2) {
    miny = Math.min(miny, pos[i]); maxy = Math.max(maxy, pos[i]);
    minx = Math.min(minx, pos[i + 1]); maxx = Math.max(maxx, pos[i + 1]);
  }
  const side = Math.ceil(Math.max(maxy - miny, maxx - minx) / dx) + n;
  if (side > lim.maxObjectPixels) {
    c.error("size-limit", PATHS.positions, `a scan that fits an object of at most ${lim.maxObjectPixels} pixels a side (object pixel ${dx.toExponential(3)} m)`, `an object of ${side} pixels a side`, "are the positions in metres and the geometry attributes right?");
  }
  if (pos.length >= 4 && maxy - miny === 0 && maxx - minx === 0) {
    c.warn("identical-positions", PATHS.positions, "distinct scan positions", "all positions identical");
  }
}

function checkMaps(file: H5File, nref: number | null, c: Collector, lim: ValidationLimits): void {
  const group = getGroup(file, PATHS.xrfMaps)!;
  const names = group.keys();
  if (names.length === 0) c.error("missing-dataset", PATHS.xrfMaps, "at least one element map", "an empty group");
  if (names.length > lim.maxElements) c.error("size-limit", PATHS.xrfMaps, `at most ${lim.maxElements} element maps`, `${names.length}`);
  for (const name of names) {
    const path = `${PATHS.xrfMaps}/${name}`;
    if (!elementOf(name)) c.error("unknown-element", path, "a chemical symbol as the map name (e.g. Fe, Zn, or Fe_K)", `"${name}"`);
    const ds = getDataset(file, path);
    if (!ds) {
      c.error("wrong-kind", path, "a dataset", `a ${entityKind(file, path)}`);
      continue;
    }
    const shape = ds.shape ?? [];
    const count = shape.reduce((a, b) => a * b, 1);
    if (shape.length !== 1 && shape.length !== 2) {
      c.error("bad-shape", path, "[Npos] or [Ny, Nx] (raster order)", shapeText(shape));
      continue;
    }
    if (nref !== null && count !== nref) {
      const expected = shape.length === 1 ? `${nref} values ([Npos])` : `Ny * Nx = ${nref} ([Ny, Nx] raster)`;
      c.error("npos-mismatch", path, expected, `${shapeText(shape)} = ${count} values`);
    }
    if (!isNumeric(ds)) {
      c.error("bad-dtype", path, "numbers (float32 recommended)", describeDtype(ds));
      continue;
    }
    const v = readNumbers(ds, c);
    if (v) {
      const bad: number[] = [];
      let negatives = 0;
      for (let i = 0; i < v.length; i++) {
        if (!Number.isFinite(v[i])) bad.push(i);
        else if (v[i] < 0) negatives++;
      }
      if (bad.length) c.error("non-finite-xrf", path, "finite values", `NaN or infinite values at positions ${listIndices(bad)}`);
      if (negatives) c.warn("negative-xrf", path, "non-negative fluorescence counts", `${negatives} negative values`, "background over-subtracted? they will be fitted as they are");
    }
    for (const a of ELEMENT_ATTRS) {
      const raw = numericAttr(ds, a);
      if (raw === undefined) continue;
      if (!Number.isFinite(raw) || (a === "sensitivity" ? raw <= 0 : raw < 0)) {
        c.error("bad-attribute", `${path}@${a}`, a === "sensitivity" ? "a positive number" : "a non-negative number", fmt(raw));
      }
    }
  }
}

function checkOptional(file: H5File, nref: number | null, diffraction: H5Dataset | null, c: Collector): void {
  const probe = getDataset(file, PATHS.probeGuess);
  if (probe) {
    const s = probe.shape ?? [];
    const n = diffraction?.shape?.[1];
    const ok = (s.length === 4 || s.length === 3) && s[s.length - 1] === 2 && s[s.length - 2] === s[s.length - 3] && (n === undefined || s[s.length - 2] === n);
    if (!ok) c.error("bad-shape", PATHS.probeGuess, `[K, N, N, 2] (re, im) with N the frame size${n ? ` (${n})` : ""}`, shapeText(s));
  }
  const spectra = getDataset(file, PATHS.xrfSpectra);
  if (spectra) {
    const s = spectra.shape ?? [];
    if (s.length !== 2 || (nref !== null && s[0] !== nref)) {
      c.error("bad-shape", PATHS.xrfSpectra, `[Npos, Nchannels]${nref !== null ? ` with Npos = ${nref}` : ""}`, shapeText(s));
    }
  }
}

/** Indices of the frames whose counts are checked: first, last, and evenly spaced between. */
export function sampleIndices(npos: number, k: number): number[] {
  if (npos <= k) return Array.from({ length: npos }, (_, i) => i);
  if (k === 1) return [0];
  const out = new Set<number>();
  for (let i = 0; i < k; i++) out.add(Math.round((i * (npos - 1)) / (k - 1)));
  return [...out].sort((a, b) => a - b);
}

function checkSampledFrames(ds: H5Dataset, npos: number, c: Collector, lim: ValidationLimits, checked: number[]): void {
  const kind = diffractionKind(ds);
  const shape = ds.shape!;
  if (shape.length !== 3 || c.errors.some((e) => e.code === "missing-filter")) return;
  // Frames over the size limit are already an error; reading them would cost the memory and time the limit bounds.
  if (Math.max(shape[1], shape[2]) > lim.maxFrameSize) return;
  const saturation = kind === "uint16" ? 0xffff : kind === "uint32" ? 0xffffffff : null;
  const negative: string[] = [], nonFinite: number[] = [], saturated: string[] = [], zero: number[] = [];
  for (const i of sampleIndices(npos, lim.sampleFrames)) {
    let frame: ArrayLike<number>;
    try {
      frame = ds.slice([[i, i + 1], [], []]) as ArrayLike<number>;
    } catch (err) {
      c.error("unreadable-data", PATHS.diffraction, "frames HDF5 can decode", `an error reading frame ${i}: ${h5ErrorMessage(err)}`);
      return;
    }
    checked.push(i);
    let neg = 0, minv = 0, nf = 0, sat = 0, nonzero = 0;
    for (let k = 0; k < frame.length; k++) {
      const v = frame[k];
      if (!Number.isFinite(v)) nf++;
      else if (v < 0) { neg++; minv = Math.min(minv, v); }
      else if (v !== 0) nonzero++;
      if (saturation !== null && v === saturation) sat++;
    }
    if (neg) negative.push(`frame ${i}: ${neg} pixels, min ${fmt(minv)}`);
    if (nf) nonFinite.push(i);
    if (sat) saturated.push(`frame ${i}: ${sat} pixels`);
    if (nonzero === 0 && nf === 0 && neg === 0) zero.push(i);
  }
  const of = `(checked frames ${listIndices(checked, 8)})`;
  if (negative.length) c.error("negative-counts", PATHS.diffraction, `non-negative counts ${of}`, `negative counts in ${negative.slice(0, 3).join("; ")}`, "subtract dark frames with clipping at 0, or mask");
  if (nonFinite.length) c.error("non-finite-counts", PATHS.diffraction, `finite counts ${of}`, `NaN or infinite values in frames ${listIndices(nonFinite)}`);
  if (saturated.length) c.warn("saturated-pixels", PATHS.diffraction, `no pixel at the ${kind} maximum ${saturation} ${of}`, saturated.slice(0, 3).join("; "), "saturated or masked detector pixels; mask or exclude them");
  if (zero.length) c.warn("empty-frame", PATHS.diffraction, `frames with counts ${of}`, `all-zero frames ${listIndices(zero)}`, "beam off or shutter closed?");
}
