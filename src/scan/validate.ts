/**
 * Scan validation: one function for the CLI and the upload Lambda.
 *
 * Returns every problem found (up to `maxProblems` per severity, the rest counted), each naming the dataset
 * or attribute (`/metadata@energy_keV` names an attribute), what was expected and what was found. Errors
 * make a scan unusable; warnings are oddities a user should see.
 *
 * Shapes before data: every count, size and capacity rule is decided from declared shapes, dtypes and
 * storage metadata first (limits.ts). When a size rule fails nothing more is read; otherwise positions,
 * element maps, the probe guess and sampled spectra are read in bounded blocks, and diffraction counts on a
 * bounded sample of frames, so validating a multi-GB file, or a small file declaring a huge one, reads a
 * bounded number of bytes into a bounded amount of memory. Data the file does not hold (virtual datasets,
 * chunks never written) are errors, never numbers (storage.ts). Reads go through a read-only byte source:
 * the file is never modified.
 */
import { FileSource, type FetchStats, type RandomAccessSource } from "./byteSource.js";
import { elementOf } from "./elements.js";
import { pixelSizeFromGeometry } from "./geometryFacts.js";
import { attrInfo, attrValue, describeDtype, describeEntity, describeValue, entityKind, getDataset, getGroup, toNumber } from "./h5access.js";
import { h5ErrorMessage, type DeviceFile, type H5Dataset, type H5File } from "./h5runtime.js";
import { ELEMENT_ATTRS, OPTIONAL_NUMERIC_ATTRS, PATHS, REQUIRED_ATTRS } from "./layout.js";
import { bytesText, capacity, DEFAULT_LIMITS, type CapacityInput, type ValidationLimits } from "./limits.js";
import { Collector, type Problem, type Severity } from "./problems.js";
import { diffractionKind, openH5 } from "./read.js";
import { safeName, safeText } from "./safeText.js";
import { elementCount, notStoredProblem, storageProblem, StoredReader } from "./storage.js";

export { DEFAULT_LIMITS, workerLimits, type ValidationLimits } from "./limits.js";
export type { Problem, Severity };

export interface ValidationReport {
  source: string;
  ok: boolean;
  errors: Problem[];
  warnings: Problem[];
  /** Problems found but not listed (over `maxProblems` per severity). */
  omitted: { errors: number; warnings: number };
  /**
   * What the validator read: bytes and requests against the source, frames whose counts were checked, and,
   * when a size rule failed before any dataset was read, why none was.
   */
  read: FetchStats & { fileBytes: number; framesChecked: number[]; skipped?: string };
}

const RANGES = {
  energy_keV: { lo: 0.1, hi: 150, unit: "keV" },
  detector_distance_m: { lo: 0.01, hi: 50, unit: "m" },
  detector_pixel_size_m: { lo: 1e-6, hi: 1e-3, unit: "m" },
} as const;

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** Values per block read (positions, maps, probe, spectra): 8 MiB as float64. */
const BLOCK_ELEMENTS = 1 << 20;
/** Spectra rows whose storage and values are checked (spectra are large and the solver does not use them). */
const SAMPLED_SPECTRA = 8;

/** Problems after which no dataset is read: the scan is rejected for its size whatever its values. */
const SIZE_CODES = ["size-limit", "capacity-limit"] as const;

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(4);
}

function shapeText(shape: number[] | null | undefined): string {
  return shape && shape.length ? `[${shape.join(", ")}]` : "a scalar";
}

function listIndices(idx: number[], max = 5): string {
  return idx.slice(0, max).join(", ") + (idx.length > max ? `, ... (${idx.length} in all)` : "");
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
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
  const c = new Collector(lim.maxProblems);
  const framesChecked: number[] = [];
  let skipped: string | undefined;
  let name = safeText(typeof src === "string" ? src : src.name, 4096);
  let fileBytes = 0;
  const done = (stats: FetchStats): ValidationReport => ({
    source: name,
    ok: c.errorCount === 0,
    errors: c.errors,
    warnings: c.warnings,
    omitted: { ...c.omitted },
    read: { ...stats, fileBytes, framesChecked, ...(skipped ? { skipped } : {}) },
  });

  let source: RandomAccessSource;
  try {
    source = typeof src === "string" ? new FileSource(src) : src;
  } catch (err) {
    c.error("unreadable-file", "/", "a readable file", String((err as Error).message));
    return done({ bytesFetched: 0, requests: 0 });
  }
  name = safeText(source.name, 4096);
  fileBytes = source.size;

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
    skipped = new Checker(dev, c, lim, fileBytes, framesChecked).run();
  } catch (err) {
    c.error("unreadable-hdf5", "/", "a readable HDF5 file", `an error while reading: ${h5ErrorMessage(err)}`, "truncated or corrupt?");
  } finally {
    dev.close();
    paged.close();
  }
  return done(paged.stats);
}

/** A dataset that passed its shape and count rules (and, before it is read, its storage rules). */
interface Readable {
  ds: H5Dataset;
  path: string;
}

class Checker {
  private readonly file: H5File;
  private readonly reader: StoredReader;

  constructor(
    dev: DeviceFile,
    private readonly c: Collector,
    private readonly lim: ValidationLimits,
    private readonly fileBytes: number,
    private readonly framesChecked: number[],
  ) {
    this.file = dev.file;
    this.reader = new StoredReader(dev);
  }

  /** Runs every rule; returns why data were not read, when a size rule failed first. */
  run(): string | undefined {
    const { file, c } = this;
    // 1. Shapes, dtypes, storage and limits: nothing but metadata and attributes is read.
    this.checkMetadata();
    const diffraction = this.requireDataset(PATHS.diffraction);
    const positions = this.requireDataset(PATHS.positions);
    const xrfPositions = this.requireDataset(PATHS.xrfPositions);
    const mapsKind = entityKind(file, PATHS.xrfMaps);
    if (mapsKind === null) c.error("missing-group", PATHS.xrfMaps, "a group with one dataset per element", "nothing");
    else if (mapsKind !== "group") c.error("wrong-kind", PATHS.xrfMaps, "a group", describeEntity(file, PATHS.xrfMaps));

    const before = c.errorCount;
    const npos = diffraction ? this.diffractionShape(diffraction) : null;
    const diffractionOk = npos !== null && c.errorCount === before;
    const refName = npos !== null ? "diffraction" : null;
    const nref = npos ?? (positions?.shape?.[0] ?? null);
    const pos = positions ? this.positionsShape(positions, nref, refName) : null;
    const xpos = xrfPositions ? this.positionsShape(xrfPositions, nref, refName) : null;
    // Without a diffraction count to agree with, every dataset's own count is held to maxPositions.
    const counted = refName !== null;
    const maps = mapsKind === "group" ? this.mapsShape(nref, counted) : { readable: [], count: 0 };
    const probe = this.probeShape(diffraction);
    const spectra = this.spectraShape(nref, counted);

    const need: CapacityInput = {
      npos: npos ?? 0,
      frameSize: diffraction?.shape?.[1] ?? 0,
      elements: maps.count,
      probeModes: probe?.ds.shape?.length === 4 ? probe.ds.shape[0] : 1,
      spectrumChannels: spectra?.ds.shape?.[1] ?? 0,
      fileBytes: this.fileBytes,
    };
    if (npos !== null && !c.has(...SIZE_CODES)) this.checkCapacity(need);
    if (c.has(...SIZE_CODES)) return "a size rule failed: no dataset was read";
    // Storage (metadata still): what is not stored in this file is an error, and is never read.
    const stored = (r: Readable | null) => (r && this.stored(r.ds, r.path) ? r : null);
    const frames = diffraction && diffractionOk ? stored({ ds: diffraction, path: PATHS.diffraction })?.ds ?? null : null;
    const [p0, x0, pr, sp] = [stored(pos), stored(xpos), stored(probe), stored(spectra)];
    const readableMaps = maps.readable.filter((m) => stored(m));

    // 2. Data, in bounded blocks.
    const p = p0 ? this.readPositions(p0, true) : null;
    const xp = x0 ? this.readPositions(x0, false) : null;
    if (p && xp && p.length === xp.length) this.comparePositions(p, xp);
    if (p && diffraction && npos !== null) {
      const objectPixels = this.checkExtent(p, diffraction);
      if (objectPixels !== null && !c.has(...SIZE_CODES)) this.checkCapacity({ ...need, objectPixels });
      if (c.has(...SIZE_CODES)) return "a size rule failed on the positions: nothing after them was read";
    }
    for (const m of readableMaps) this.readMap(m);
    if (pr) this.readProbe(pr);
    if (sp) this.readSpectra(sp);
    if (frames && npos !== null && npos > 0) this.checkSampledFrames(frames, npos);
    return undefined;
  }

  private requireDataset(path: string): H5Dataset | null {
    const kind = entityKind(this.file, path);
    if (kind === "dataset") return this.file.get(path) as H5Dataset;
    if (kind === null) this.c.error("missing-dataset", path, "a dataset", describeEntity(this.file, path));
    else this.c.error("wrong-kind", path, "a dataset", describeEntity(this.file, path));
    return null;
  }

  /** The storage rules of storage.ts for a dataset about to be read: false (and an error) when it cannot be. */
  private stored(ds: H5Dataset, path = ds.path): boolean {
    const p = storageProblem(ds, this.fileBytes);
    if (p) this.c.error(p.code, path, p.expected, p.found, p.hint);
    return !p;
  }

  // ---------------------------------------------------------------------------------------------------
  // Attributes
  // ---------------------------------------------------------------------------------------------------

  private checkMetadata(): void {
    const { file, c } = this;
    const meta = getGroup(file, PATHS.metadata);
    for (const a of REQUIRED_ATTRS) {
      const where = this.metadataWhere(meta, a);
      const r = RANGES[a];
      if (!where) {
        c.error("missing-attribute", `${PATHS.metadata}@${a}`, `a number in ${r.unit} (in ${PATHS.metadata} or on the root group)`, "nothing");
        continue;
      }
      const v = this.scalarAttr(where.obj, a, where.path, `a scalar number in ${r.unit}`);
      if (v === undefined) continue;
      if (!Number.isFinite(v) || v < r.lo || v > r.hi) {
        let hint: string | undefined;
        if (a === "energy_keV" && v >= 100 && v <= 150_000) hint = "looks like eV: give keV";
        if (a === "detector_pixel_size_m" && v >= 1 && v <= 1000) hint = "looks like micrometres: give metres";
        if (a === "detector_distance_m" && v >= 50 && v <= 50_000) hint = "looks like millimetres: give metres";
        c.error("implausible-value", where.path, `a value in [${r.lo}, ${r.hi}] ${r.unit}`, fmt(v), hint);
      }
    }
    for (const a of OPTIONAL_NUMERIC_ATTRS) {
      const where = this.metadataWhere(meta, a);
      if (!where) continue;
      const v = this.scalarAttr(where.obj, a, where.path, "a scalar number (per unit areal density)");
      if (v !== undefined && (!Number.isFinite(v) || v < 0)) c.error("bad-attribute", where.path, "a finite, non-negative number", fmt(v));
    }
  }

  /** Where attribute `a` is read from (/metadata, else the root, as the reader does); null when absent. */
  private metadataWhere(meta: ReturnType<typeof getGroup>, a: string): { obj: Parameters<typeof attrInfo>[0]; path: string } | null {
    if (meta && attrInfo(meta, a)) return { obj: meta, path: `${PATHS.metadata}@${a}` };
    if (attrInfo(this.file, a)) return { obj: this.file, path: `/@${a}` };
    return null;
  }

  /**
   * A numeric attribute that must be a scalar (or a length-1 array): its value, or undefined with an error
   * naming what was found instead (a string, an array, another type). Its size is checked before it is read.
   */
  private scalarAttr(obj: Parameters<typeof attrInfo>[0], name: string, path: string, expected: string): number | undefined {
    const info = attrInfo(obj, name);
    if (!info) return undefined;
    if (info.count !== 1) {
      this.c.error("bad-attribute", path, expected, `an array of ${plural(info.count, "value")}`);
      return undefined;
    }
    const raw = attrValue(obj, name);
    const v = info.numeric ? toNumber(raw) : undefined;
    if (v === undefined) {
      const what = info.numeric || info.string || typeof raw === "string" ? describeValue(raw) : `a value of a type that is not a number (HDF5 type class ${info.typeClass})`;
      this.c.error("bad-attribute", path, expected, what);
      return undefined;
    }
    return v;
  }

  // ---------------------------------------------------------------------------------------------------
  // Shapes (no data read)
  // ---------------------------------------------------------------------------------------------------

  private diffractionShape(ds: H5Dataset): number | null {
    const { c, lim } = this;
    const p = PATHS.diffraction;
    const shape = ds.shape ?? [];
    if (shape.length !== 3) {
      c.error("bad-shape", p, "3 dimensions [Npos, N, N]", `${shape.length} dimensions ${shapeText(shape)}`);
      return null;
    }
    const [npos, ny, nx] = shape;
    if (!diffractionKind(ds)) c.error("bad-dtype", p, "uint16, uint32 or float32 counts", describeDtype(ds));
    if (ny !== nx) c.error("non-square-frames", p, "square frames [Npos, N, N]", `frames of ${ny} x ${nx}`, "crop the frames to a square around the beam centre");
    else if ((ny & (ny - 1)) !== 0) c.error("frame-size", p, "frames whose side is a power of two (64, 128, 256...)", `${ny} x ${nx}`, "crop or bin the frames");
    if (Math.max(ny, nx) > lim.maxFrameSize || Math.min(ny, nx) < lim.minFrameSize) {
      c.error("size-limit", p, `frames between ${lim.minFrameSize} and ${lim.maxFrameSize} pixels a side`, `${ny} x ${nx}`);
    }
    if (npos < 1 || npos > lim.maxPositions) c.error("size-limit", p, `between 1 and ${lim.maxPositions} positions`, `${npos}`);
    else if (npos === 1) c.error("too-few-positions", p, "at least 2 positions (ptychography needs overlapping views)", "1 position");
    return npos;
  }

  /** Shape, dtype and count of a positions dataset; the dataset when it may be read. */
  private positionsShape(ds: H5Dataset, nref: number | null, refName: string | null): Readable | null {
    const { c, lim } = this;
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
      return null;
    }
    if (refName === null && shape[0] > lim.maxPositions) {
      c.error("size-limit", ds.path, `at most ${lim.maxPositions} positions`, `${shape[0]}`);
      return null;
    }
    return { ds, path: ds.path };
  }

  /** Names, kinds, shapes and dtypes of the element maps; none is opened when there are too many. */
  private mapsShape(nref: number | null, counted: boolean): { readable: Readable[]; count: number } {
    const { file, c, lim } = this;
    const group = getGroup(file, PATHS.xrfMaps)!;
    const names = group.keys();
    if (names.length === 0) c.error("missing-dataset", PATHS.xrfMaps, "at least one element map", "an empty group");
    if (names.length > lim.maxElements) {
      c.error("size-limit", PATHS.xrfMaps, `at most ${lim.maxElements} element maps`, `${names.length}`);
      return { readable: [], count: names.length };
    }
    const readable: Readable[] = [];
    for (const name of names) {
      const path = `${PATHS.xrfMaps}/${safeName(name)}`;
      if (!elementOf(name)) c.error("unknown-element", path, "a chemical symbol as the map name (e.g. Fe, Zn, or Fe_K)", `"${safeName(name)}"`);
      const ds = getDataset(file, `${PATHS.xrfMaps}/${name}`);
      if (!ds) {
        c.error("wrong-kind", path, "a dataset", describeEntity(file, `${PATHS.xrfMaps}/${name}`));
        continue;
      }
      this.elementAttrs(ds, path);
      const shape = ds.shape ?? [];
      const count = shape.reduce((a, b) => a * b, 1);
      if (shape.length !== 1 && shape.length !== 2) {
        c.error("bad-shape", path, "[Npos] or [Ny, Nx] (raster order)", shapeText(shape));
        continue;
      }
      if (nref !== null && count !== nref) {
        const expected = shape.length === 1 ? `${nref} values ([Npos])` : `Ny * Nx = ${nref} ([Ny, Nx] raster)`;
        c.error("npos-mismatch", path, expected, `${shapeText(shape)} = ${count} values`);
        continue;
      }
      if (!counted && count > lim.maxPositions) {
        c.error("size-limit", path, `at most ${lim.maxPositions} values (one per position)`, `${shapeText(shape)} = ${count} values`);
        continue;
      }
      if (!isNumeric(ds)) {
        c.error("bad-dtype", path, "numbers (float32 recommended)", describeDtype(ds));
        continue;
      }
      readable.push({ ds, path });
    }
    return { readable, count: names.length };
  }

  /** Per-element attributes (sensitivity > 0, beta and delta >= 0): scalars, finite. */
  private elementAttrs(ds: H5Dataset, path: string): void {
    for (const a of ELEMENT_ATTRS) {
      const expected = a === "sensitivity" ? "a positive number" : "a non-negative number";
      const v = this.scalarAttr(ds, a, `${path}@${a}`, expected);
      if (v === undefined) continue;
      if (!Number.isFinite(v) || (a === "sensitivity" ? v <= 0 : v < 0)) this.c.error("bad-attribute", `${path}@${a}`, expected, fmt(v));
    }
  }

  private probeShape(diffraction: H5Dataset | null): Readable | null {
    const { file, c, lim } = this;
    const kind = entityKind(file, PATHS.probeGuess);
    if (kind === null) return null;
    if (kind !== "dataset") {
      c.error("wrong-kind", PATHS.probeGuess, "a dataset (optional)", describeEntity(file, PATHS.probeGuess));
      return null;
    }
    const probe = file.get(PATHS.probeGuess) as H5Dataset;
    const s = probe.shape ?? [];
    const n = diffraction?.shape?.length === 3 ? diffraction.shape[1] : undefined;
    const ok = (s.length === 4 || s.length === 3) && s[s.length - 1] === 2 && s[s.length - 2] === s[s.length - 3] && (n === undefined || s[s.length - 2] === n);
    if (!ok) {
      c.error("bad-shape", PATHS.probeGuess, `[K, N, N, 2] (re, im) with N the frame size${n ? ` (${n})` : ""}`, shapeText(s));
      return null;
    }
    if (s[s.length - 2] > lim.maxFrameSize) {
      c.error("size-limit", PATHS.probeGuess, `probe modes of at most ${lim.maxFrameSize} pixels a side`, shapeText(s));
      return null;
    }
    if (s.length === 4 && (s[0] < 1 || s[0] > lim.maxProbeModes)) {
      c.error("size-limit", PATHS.probeGuess, `between 1 and ${lim.maxProbeModes} probe modes`, `${s[0]}`);
      return null;
    }
    if (!isFloat(probe)) {
      c.error("bad-dtype", PATHS.probeGuess, "float32 or float64 (re, im) pairs", describeDtype(probe));
      return null;
    }
    return { ds: probe, path: PATHS.probeGuess };
  }

  private spectraShape(nref: number | null, counted: boolean): Readable | null {
    const { file, c, lim } = this;
    const kind = entityKind(file, PATHS.xrfSpectra);
    if (kind === null) return null;
    if (kind !== "dataset") {
      c.error("wrong-kind", PATHS.xrfSpectra, "a dataset (optional)", describeEntity(file, PATHS.xrfSpectra));
      return null;
    }
    const spectra = file.get(PATHS.xrfSpectra) as H5Dataset;
    const s = spectra.shape ?? [];
    if (s.length !== 2 || (nref !== null && s[0] !== nref)) {
      c.error("bad-shape", PATHS.xrfSpectra, `[Npos, Nchannels]${nref !== null ? ` with Npos = ${nref}` : ""}`, shapeText(s));
      return null;
    }
    if ((!counted && s[0] > lim.maxPositions) || s[1] > lim.maxSpectrumChannels) {
      c.error("size-limit", PATHS.xrfSpectra, `at most ${lim.maxPositions} spectra of at most ${lim.maxSpectrumChannels} channels`, `${s[0]} spectra of ${s[1]} channels`);
      return null;
    }
    if (!isNumeric(spectra)) {
      c.error("bad-dtype", PATHS.xrfSpectra, "numbers (counts per channel)", describeDtype(spectra));
      return null;
    }
    return { ds: spectra, path: PATHS.xrfSpectra };
  }

  /** What the worker would hold and write for this scan, against its memory, scratch disk and cost limits. */
  private checkCapacity(need: CapacityInput): void {
    const { c, lim } = this;
    const cap = capacity(need);
    const frames = `${need.npos} frames of ${need.frameSize} x ${need.frameSize}`;
    if (cap.stackBytes > lim.maxStackBytes) {
      c.error("capacity-limit", PATHS.diffraction, `a diffraction stack of at most ${bytesText(lim.maxStackBytes)} as float32 (limit maxStackBytes: the worker holds every frame in memory and each iteration goes through all of them)`, `${frames}: ${bytesText(cap.stackBytes)}`);
      return;
    }
    const object = need.objectPixels ? ` and the ${need.objectPixels}-pixel object the positions imply` : "";
    if (cap.memoryBytes > lim.maxWorkerMemoryBytes) {
      c.error("capacity-limit", need.objectPixels ? PATHS.positions : "/", `a scan a worker can hold in ${bytesText(lim.maxWorkerMemoryBytes)} of memory (limit maxWorkerMemoryBytes)`, `${bytesText(cap.memoryBytes)} for ${frames}, ${plural(need.elements, "element map")}, ${plural(Math.max(1, need.probeModes), "probe mode")}${need.spectrumChannels ? `, spectra of ${need.spectrumChannels} channels` : ""}${object}`);
    }
    if (cap.scratchBytes > lim.maxScratchBytes) {
      c.error("capacity-limit", need.objectPixels ? PATHS.positions : "/", `a scan and outputs that fit the worker's ${bytesText(lim.maxScratchBytes)} of scratch disk (limit maxScratchBytes)`, `${bytesText(cap.scratchBytes)}: the file (${bytesText(need.fileBytes)})${object ? `, result.h5 and a checkpoint for${object}` : ""}`);
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Data (bounded blocks)
  // ---------------------------------------------------------------------------------------------------

  /** Reads `r` block by block into `each`; false (with an error) when it could not be read or was never stored. */
  private readAll(r: Readable, each: (values: Float64Array, offset: number) => void, what: (offset: number) => string): boolean {
    try {
      const absent = this.reader.forEachBlock(r.ds, BLOCK_ELEMENTS, each);
      if (absent) {
        const p = notStoredProblem(what(absent.offset), absent.fill);
        this.c.error(p.code, r.path, p.expected, p.found, p.hint);
        return false;
      }
      return true;
    } catch (err) {
      this.c.error("unreadable-data", r.path, "readable numbers", `an error: ${h5ErrorMessage(err)}`);
      return false;
    }
  }

  private readPositions(r: Readable, checkRange: boolean): Float64Array | null {
    const { c, lim } = this;
    const n = r.ds.shape![0];
    const v = new Float64Array(2 * n);
    if (!this.readAll(r, (block, offset) => v.set(block, offset), (offset) => (offset ? `positions from ${offset / 2} on` : "the positions"))) return null;
    const nonFinite: number[] = [];
    const outside: number[] = [];
    for (let i = 0; i < n; i++) {
      const y = v[2 * i], x = v[2 * i + 1];
      if (!Number.isFinite(y) || !Number.isFinite(x)) nonFinite.push(i);
      else if (Math.abs(y) > lim.maxAbsPosition_m || Math.abs(x) > lim.maxAbsPosition_m) outside.push(i);
    }
    if (nonFinite.length) c.error("non-finite-positions", r.path, "finite positions", `NaN or infinite values at positions ${listIndices(nonFinite)}`);
    if (checkRange && outside.length) {
      c.error("position-range", r.path, `|y|, |x| <= ${lim.maxAbsPosition_m} m`, `larger values at positions ${listIndices(outside)}`, "positions must be in metres");
    }
    return nonFinite.length ? null : v;
  }

  private comparePositions(a: Float64Array, b: Float64Array): void {
    let worst = 0, first = -1;
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i] - b[i]);
      if (d > this.lim.positionTolerance_m && first < 0) first = i >> 1;
      worst = Math.max(worst, d);
    }
    if (first >= 0) {
      this.c.error("positions-mismatch", PATHS.xrfPositions, `the same positions as ${PATHS.positions} (within ${this.lim.positionTolerance_m} m)`, `a difference of up to ${worst.toExponential(2)} m, first at position ${first}`);
    }
  }

  /** The object the positions imply: an error when over maxObjectPixels; its pixel count, or null when unknown. */
  private checkExtent(pos: Float64Array, diffraction: H5Dataset): number | null {
    const { file, c, lim } = this;
    const meta = getGroup(file, PATHS.metadata);
    const num = (a: string) => {
      const where = this.metadataWhere(meta, a);
      return where && attrInfo(where.obj, a)?.count === 1 ? toNumber(attrValue(where.obj, a)) : undefined;
    };
    const e = num("energy_keV"), z = num("detector_distance_m"), p = num("detector_pixel_size_m");
    const n = diffraction.shape?.[1];
    if (!e || !z || !p || !n || !(e > 0) || !(z > 0) || !(p > 0)) return null;
    const dx = pixelSizeFromGeometry(e, z, n, p);
    let miny = Infinity, maxy = -Infinity, minx = Infinity, maxx = -Infinity;
    for (let i = 0; i < pos.length; i += 2) {
      miny = Math.min(miny, pos[i]); maxy = Math.max(maxy, pos[i]);
      minx = Math.min(minx, pos[i + 1]); maxx = Math.max(maxx, pos[i + 1]);
    }
    const height = Math.ceil((maxy - miny) / dx) + n, width = Math.ceil((maxx - minx) / dx) + n;
    const side = Math.max(height, width);
    if (side > lim.maxObjectPixels) {
      c.error("size-limit", PATHS.positions, `a scan that fits an object of at most ${lim.maxObjectPixels} pixels a side (object pixel ${dx.toExponential(3)} m)`, `an object of ${side} pixels a side`, "are the positions in metres and the geometry attributes right?");
    }
    if (pos.length >= 4 && maxy - miny === 0 && maxx - minx === 0) {
      c.warn("identical-positions", PATHS.positions, "distinct scan positions", "all positions identical");
    }
    return (height + 2) * (width + 2);
  }

  private readMap(m: Readable): void {
    const bad: number[] = [];
    let negatives = 0;
    const ok = this.readAll(m, (block, offset) => {
      for (let i = 0; i < block.length; i++) {
        if (!Number.isFinite(block[i])) bad.push(offset + i);
        else if (block[i] < 0) negatives++;
      }
    }, (offset) => (offset ? `values from position ${offset} on` : "the map"));
    if (!ok) return;
    if (bad.length) this.c.error("non-finite-xrf", m.path, "finite values", `NaN or infinite values at positions ${listIndices(bad)}`);
    if (negatives) this.c.warn("negative-xrf", m.path, "non-negative fluorescence counts", `${negatives} negative values`, "background over-subtracted? they will be fitted as they are");
  }

  private readProbe(r: Readable): void {
    let bad = 0, nonzero = 0;
    const ok = this.readAll(r, (block) => {
      for (let i = 0; i < block.length; i++) {
        if (!Number.isFinite(block[i])) bad++;
        else if (block[i] !== 0) nonzero++;
      }
    }, (offset) => (offset ? `values from ${offset} on` : "the probe guess"));
    if (!ok) return;
    if (bad) this.c.error("non-finite-probe", r.path, "finite values", `${plural(bad, "NaN or infinite value")}`);
    else if (nonzero === 0) this.c.error("empty-probe", r.path, "a probe with non-zero values", "all values zero", "leave the probe guess out to let the solver make one");
  }

  /** A sample of spectra (first, last, evenly spaced): stored and finite. */
  private readSpectra(r: Readable): void {
    const [rows, channels] = r.ds.shape!;
    const nonFinite: number[] = [];
    for (const i of sampleIndices(rows, SAMPLED_SPECTRA)) {
      try {
        const block = this.reader.slice(r.ds, [[i, i + 1], []]);
        if (block.fill !== undefined && channels > 1) {
          const p = notStoredProblem(`spectrum ${i}`, block.fill);
          this.c.error(p.code, r.path, p.expected, p.found, p.hint);
          return;
        }
        const v = block.values;
        for (let k = 0; k < v.length; k++) {
          if (!Number.isFinite(Number(v[k]))) {
            nonFinite.push(i);
            break;
          }
        }
      } catch (err) {
        this.c.error("unreadable-data", r.path, "readable numbers", `an error reading spectrum ${i}: ${h5ErrorMessage(err)}`);
        return;
      }
    }
    if (nonFinite.length) this.c.error("non-finite-xrf", r.path, "finite counts", `NaN or infinite values in spectra ${listIndices(nonFinite)}`);
  }

  private checkSampledFrames(ds: H5Dataset, npos: number): void {
    const { c, lim } = this;
    const kind = diffractionKind(ds);
    const shape = ds.shape!;
    if (shape.length !== 3 || !kind) return;
    const saturation = kind === "uint16" ? 0xffff : kind === "uint32" ? 0xffffffff : null;
    const negative: string[] = [], nonFinite: number[] = [], saturated: string[] = [], zero: number[] = [], absent: number[] = [];
    let fill = 0;
    const checked = this.framesChecked;
    for (const i of sampleIndices(npos, lim.sampleFrames)) {
      let frame: ArrayLike<number>;
      try {
        const block = this.reader.slice(ds, [[i, i + 1], [], []]);
        checked.push(i);
        if (block.fill !== undefined) {
          absent.push(i);
          fill = block.fill;
          continue;
        }
        frame = block.values as ArrayLike<number>;
      } catch (err) {
        c.error("unreadable-data", PATHS.diffraction, "frames HDF5 can decode", `an error reading frame ${i}: ${h5ErrorMessage(err)}`);
        return;
      }
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
    if (absent.length) {
      const p = notStoredProblem(`${absent.length === 1 ? "frame" : "frames"} ${listIndices(absent)}`, fill);
      c.error(p.code, PATHS.diffraction, `${p.expected} ${of}`, p.found, p.hint);
    }
    if (negative.length) c.error("negative-counts", PATHS.diffraction, `non-negative counts ${of}`, `negative counts in ${negative.slice(0, 3).join("; ")}`, "subtract dark frames with clipping at 0, or mask");
    if (nonFinite.length) c.error("non-finite-counts", PATHS.diffraction, `finite counts ${of}`, `NaN or infinite values in frames ${listIndices(nonFinite)}`);
    if (saturated.length) c.warn("saturated-pixels", PATHS.diffraction, `no pixel at the ${kind} maximum ${saturation} ${of}`, saturated.slice(0, 3).join("; "), "saturated or masked detector pixels; mask or exclude them");
    if (zero.length) c.warn("empty-frame", PATHS.diffraction, `frames with counts ${of}`, `all-zero frames ${listIndices(zero)}`, "beam off or shutter closed?");
  }
}

function isNumeric(ds: H5Dataset): boolean {
  const dt = ds.dtype;
  return typeof dt === "string" && /^[<>]?[bBhHiIqQefd]$/.test(dt);
}

function isFloat(ds: H5Dataset): boolean {
  const dt = ds.dtype;
  return typeof dt === "string" && /^[<>]?[fd]$/.test(dt);
}

/** Indices of the frames whose counts are checked: first, last, and evenly spaced between. */
export function sampleIndices(npos: number, k: number): number[] {
  if (npos <= k) return Array.from({ length: npos }, (_, i) => i);
  if (k === 1) return [0];
  const out = new Set<number>();
  for (let i = 0; i < k; i++) out.add(Math.round((i * (npos - 1)) / (k - 1)));
  return [...out].sort((a, b) => a - b);
}

export { elementCount };
