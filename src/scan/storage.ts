/**
 * Is a dataset's data really in the file? HDF5 answers a read of data that were never written with the
 * dataset's fill value, and a read of a virtual dataset from its source files (or, where they are missing,
 * with the fill value again): either way numbers the scan does not hold. Nothing here trusts those numbers.
 *
 * - `storageProblem`: from metadata alone, before any read: virtual datasets (rejected: their sources are
 *   other files, or mappings whose gaps read as the fill value), filters this reader lacks, and datasets that
 *   declare more data than the file can hold (unfiltered: more bytes than the file has; deflate, whose ratio
 *   is at most 1032:1, more than 1100 times the file).
 * - `StoredReader`: reads in bounded blocks, and notices a block that HDF5 served without a single read of
 *   the file and whose values are all equal: data never written (a chunk not allocated, a contiguous dataset
 *   never written), answered with the fill value. A block is only judged when the file would have been read
 *   for it had it been stored: the first read of a contiguous dataset, or of chunks not read before. (A
 *   chunked dataset whose first block read is absent while others exist is not noticed: reading its index
 *   is a read of the file.)
 */
import { describeDtype, toFloat64 } from "./h5access.js";
import { BUILTIN_FILTERS, PLUGIN_FILTERS, h5ErrorMessage, type DeviceFile, type H5Dataset } from "./h5runtime.js";
import { bytesText } from "./limits.js";
import { safeName, safeText } from "./safeText.js";

/** A problem with a dataset's storage: the arguments of Collector.error. */
export interface StorageProblem {
  code: "virtual-dataset" | "missing-filter" | "data-not-stored";
  expected: string;
  found: string;
  hint: string;
}

/** Filters whose best compression ratio is known: deflate (1032:1), with shuffle and fletcher32 around it. */
const DEFLATE_FAMILY = new Set([1, 2, 3]);
const DEFLATE_MAX_RATIO = 1100;

/** Elements of a dataset (its declared shape). */
export function elementCount(ds: H5Dataset): number {
  return (ds.shape ?? []).reduce((a, b) => a * b, 1);
}

/** Why `ds`'s data cannot be read as stored in this file of `fileBytes`, from metadata only; null when they can. */
export function storageProblem(ds: H5Dataset, fileBytes: number): StorageProblem | null {
  const meta = ds.metadata as { virtual_sources?: { file_name: string; dset_name: string }[]; size: number; chunks: number[] | null };
  const sources = meta.virtual_sources ?? [];
  if (sources.length) {
    const outside = sources.filter((s) => s.file_name !== ".");
    const first = outside[0] ?? sources[0];
    const where = first.file_name === "." ? `${safeName(first.dset_name)} in this file` : `"${safeName(first.file_name)}:${safeName(first.dset_name)}"`;
    return {
      code: "virtual-dataset",
      expected: "data stored in this file",
      found: `a virtual dataset mapped from ${sources.length} source${sources.length === 1 ? "" : "s"}${outside.length ? `, ${outside.length} in other files` : ""} (first: ${where})`,
      hint: outside.length
        ? "files beside an upload are never read, and HDF5 would return the fill value instead: copy the data into the file (e.g. h5repack, or h5py: f.copy)"
        : "parts no source maps would read as the fill value: store the data in the dataset itself (e.g. h5repack)",
    };
  }
  const filters = ds.filters ?? [];
  const missing = filters.find((f) => !(f.id in BUILTIN_FILTERS) && !(f.id in PLUGIN_FILTERS));
  if (missing) {
    return {
      code: "missing-filter",
      expected: "compression filters this reader has (gzip, shuffle, bitshuffle/LZ4, blosc, zstd, lz4, ...)",
      found: `filter ${missing.id}${missing.name ? ` "${safeText(missing.name, 80)}"` : ""}`,
      hint: "the data cannot be decoded; recompress with a standard filter",
    };
  }
  const declared = elementCount(ds) * (meta.size || 1);
  const ratio = filters.length === 0 ? 1 : filters.every((f) => DEFLATE_FAMILY.has(f.id)) ? DEFLATE_MAX_RATIO : null;
  if (ratio !== null && declared > fileBytes * ratio) {
    const how = ratio === 1 ? "uncompressed" : `deflate-compressed (at most ${ratio}:1)`;
    return {
      code: "data-not-stored",
      expected: `data stored in the file (${how}, this file of ${bytesText(fileBytes)} holds at most ${bytesText(fileBytes * ratio)})`,
      found: `${shapeWords(ds)} of ${describeDtype(ds)} declared: ${bytesText(declared)}`,
      hint: "data never written read as the fill value: was the acquisition or copy complete?",
    };
  }
  return null;
}

function shapeWords(ds: H5Dataset): string {
  const s = ds.shape ?? [];
  return s.length ? `[${s.join(", ")}]` : "a scalar";
}

function allEqual(v: ArrayLike<number | bigint>): boolean {
  if (v.length < 2) return false; // one value says nothing
  const first = v[0];
  for (let i = 1; i < v.length; i++) if (v[i] !== first && !(Number.isNaN(v[i]) && Number.isNaN(first))) return false;
  return true;
}

/** One block read: its values, and whether they were never stored (fill values). */
export interface Block<T> {
  values: T;
  /** The fill value HDF5 answered with, when the data were never written; undefined when they were read. */
  fill?: number;
}

export type Ranges = ([] | [number, number])[];

/** Reads through one open file, noticing data answered with the fill value (see the module comment). */
export class StoredReader {
  /** Per dataset path: the leading-axis chunk indices read so far (-1: a contiguous dataset was read). */
  private readonly touched = new Map<string, Set<number>>();

  constructor(private readonly dev: DeviceFile) {}

  /** `ds.slice(ranges)`, in its stored type; throws what HDF5 throws. */
  slice(ds: H5Dataset, ranges: Ranges): Block<ArrayLike<number | bigint>> {
    const before = this.dev.io.reads;
    const values = ds.slice(ranges) as ArrayLike<number | bigint>;
    const reads = this.dev.io.reads - before;
    const judged = this.firstTouch(ds, ranges);
    if (judged && reads === 0 && allEqual(values)) return { values, fill: Number(values[0]) };
    return { values };
  }

  /** True when no block read before overlaps this one's chunks (or, contiguous, when it is the first read). */
  private firstTouch(ds: H5Dataset, ranges: Ranges): boolean {
    const seen = this.touched.get(ds.path) ?? new Set<number>();
    this.touched.set(ds.path, seen);
    const chunks = (ds.metadata as { chunks: number[] | null }).chunks;
    if (!chunks || !chunks.length) {
      const first = !seen.has(-1);
      seen.add(-1);
      return first;
    }
    const shape = ds.shape ?? [];
    const r = ranges[0] ?? [];
    const start = r.length === 2 ? r[0] : 0;
    const end = r.length === 2 ? r[1] : shape[0] ?? 1;
    let fresh = true;
    for (let k = Math.floor(start / chunks[0]); k <= Math.floor((end - 1) / chunks[0]); k++) {
      if (seen.has(k)) fresh = false;
      seen.add(k);
    }
    return fresh;
  }

  /**
   * Every value of `ds` as float64, in blocks of at most `blockElements` (split along the leading axes as
   * needed), handed to `each(values, offset)` with the flat index of the block's first value, in order.
   * Returns where the first block answered with the fill value starts, or null when all were read.
   */
  forEachBlock(ds: H5Dataset, blockElements: number, each: (values: Float64Array, offset: number) => void): { offset: number; fill: number } | null {
    const shape = ds.shape ?? [];
    if (!shape.length) {
      each(toFloat64([ds.value as number]), 0);
      return null;
    }
    const inner = (d: number) => shape.slice(d + 1).reduce((a, b) => a * b, 1);
    let axis = 0;
    while (axis < shape.length - 1 && inner(axis) > blockElements) axis++;
    const step = Math.max(1, Math.floor(blockElements / inner(axis)));
    const index = new Array<number>(axis).fill(0); // position along the axes before `axis`
    let absent: { offset: number; fill: number } | null = null;
    for (;;) {
      for (let s = 0; s < shape[axis]; s += step) {
        const e = Math.min(shape[axis], s + step);
        const ranges: Ranges = shape.map((_, d): [] | [number, number] => (d < axis ? [index[d], index[d] + 1] : d === axis ? [s, e] : []));
        let offset = 0;
        for (let d = 0; d < shape.length; d++) offset = offset * shape[d] + (d < axis ? index[d] : d === axis ? s : 0);
        const block = this.slice(ds, ranges);
        if (block.fill !== undefined && !absent) absent = { offset, fill: block.fill };
        each(toFloat64(block.values), offset);
      }
      let d = axis - 1;
      while (d >= 0 && ++index[d] === shape[d]) index[d--] = 0;
      if (d < 0) break;
    }
    return absent;
  }
}

/** "not stored" in words, for a dataset (or a part of one) answered with the fill value. */
export function notStoredProblem(what: string, fill: number): Omit<StorageProblem, "code"> & { code: "data-not-stored" } {
  return {
    code: "data-not-stored",
    expected: "data stored in the file",
    found: `${what} never written: HDF5 answers every value with the fill value ${fill}`,
    hint: "was the acquisition or copy complete? numbers that were never measured are not used",
  };
}

export { h5ErrorMessage };
