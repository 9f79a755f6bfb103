/**
 * Writes scan files and ground-truth files with h5wasm's Node build.
 *
 * Files are written under `<path>.partial` and renamed into place when complete, so an interrupted
 * write never leaves a file that looks finished. Diffraction is written block by block from a
 * `FrameSource`, never held whole.
 */
import fs from "node:fs";
import { withFixedClock } from "./fixedClock.js";
import { writer } from "./h5runtime.js";
import {
  DIFFRACTION_DTYPES,
  ELEMENT_ATTRS,
  FORMAT_ATTR,
  FORMAT_VERSION,
  PATHS,
  TRUTH_PATHS,
} from "./layout.js";
import type { FrameSource, ProbeModes, ScanHeader, Truth } from "./model.js";
import { elementMapUnit, freeMapUnit, PROBE } from "./units.js";

export type Compression = "none" | "gzip" | "bitshuffle-lz4";

export interface WriteScanOptions {
  compression?: Compression;
  /** Frames per write call (memory of one block = blockFrames * N^2 * 4 bytes). */
  blockFrames?: number;
}

export type WFile = InstanceType<Awaited<ReturnType<typeof writer>>["File"]>;
export type WGroup = InstanceType<Awaited<ReturnType<typeof writer>>["Group"]>;
export type WDataset = InstanceType<Awaited<ReturnType<typeof writer>>["Dataset"]>;

function compressionArgs(c: Compression): { compression?: number | "gzip"; compression_opts?: number[] } {
  if (c === "gzip") return { compression: "gzip", compression_opts: [4] };
  // bitshuffle filter 32008 with (block size 0 = auto, compression 2 = LZ4), as Eiger detectors write it
  if (c === "bitshuffle-lz4") return { compression: 32008, compression_opts: [0, 2] };
  return {};
}

type NumericArray = Float32Array | Float64Array | Uint16Array | Uint32Array | Int32Array | Uint8Array;

/**
 * The values of `data` in a buffer of their own. h5wasm writes a typed array's whole underlying buffer from its
 * start (`new Uint8Array(data.buffer)`), ignoring byteOffset and length, so a `subarray` view handed to it stores
 * the wrong values (every element map written as the first one's, before this existed). Every array this module
 * writes goes through here.
 */
export function ownValues<T extends NumericArray>(data: T): T {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && !(data.buffer instanceof SharedArrayBuffer)
    ? data
    : (data.slice() as T);
}

type DatasetSpec = Parameters<WGroup["create_dataset"]>[0];

/** create_dataset with the data copied out of any view first (see ownValues). */
export function createDataset(g: WGroup | WFile, spec: DatasetSpec & { data: NumericArray }): WDataset {
  return g.create_dataset({ ...spec, data: ownValues(spec.data) });
}

/** write_slice with the data copied out of any view first (see ownValues). */
export function writeSlice(d: WDataset, ranges: Parameters<WDataset["write_slice"]>[0], data: NumericArray): void {
  d.write_slice(ranges, ownValues(data));
}

export async function withNewFile(path: string, fill: (f: WFile) => void): Promise<void> {
  const h5 = await writer();
  const partial = `${path}.partial`;
  fs.rmSync(partial, { force: true });
  // object timestamps fixed: the same data gives the same bytes (fixedClock.ts)
  withFixedClock(() => {
    const f = new h5.File(partial, "w");
    try {
      fill(f);
    } catch (err) {
      f.close();
      fs.rmSync(partial, { force: true });
      throw err;
    }
    f.close();
  });
  fs.renameSync(partial, path);
}

export function writeComplex(g: WGroup | WFile, name: string, data: Float32Array, shape: number[]): WDataset {
  return createDataset(g, { name, data, shape: [...shape, 2], dtype: "<f" });
}

export function writeProbe(g: WGroup | WFile, name: string, probe: ProbeModes): WDataset {
  return writeComplex(g, name, probe.data, [probe.modes, probe.n, probe.n]);
}

export function setAttrs(g: WGroup | WFile | WDataset, attrs: Record<string, number | string | undefined>): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    g.create_attribute(k, v, null, typeof v === "number" ? "<d" : null);
  }
}

/** Writes a scan in the combined layout. */
export async function writeScan(
  path: string,
  header: ScanHeader,
  frames: FrameSource,
  options: WriteScanOptions = {},
): Promise<void> {
  const { npos, frameSize: n } = header;
  const compression = options.compression ?? "none";
  const block = Math.max(1, options.blockFrames ?? Math.max(1, Math.floor((16 << 20) / (4 * n * n))));
  await withNewFile(path, (f) => {
    setAttrs(f, { [FORMAT_ATTR]: FORMAT_VERSION });
    const meta = f.create_group("metadata");
    setAttrs(meta, { ...header.metadata });

    const ptycho = f.create_group("ptychography");
    const dtype = DIFFRACTION_DTYPES[frames.dtype];
    const first = frames.frames(0, 1);
    const dset = createDataset(ptycho, {
      name: "diffraction",
      data: first,
      shape: [1, n, n],
      maxshape: [npos, n, n],
      chunks: [1, n, n],
      dtype,
      ...compressionArgs(compression),
    });
    setAttrs(dset, { units: "counts" });
    if (npos > 1) dset.resize([npos, n, n]);
    for (let start = 1; start < npos; start += block) {
      const count = Math.min(block, npos - start);
      writeSlice(dset, [[start, start + count], [], []], frames.frames(start, count));
    }
    const pos = createDataset(ptycho, { name: "positions", data: header.positions, shape: [npos, 2], dtype: "<d" });
    setAttrs(pos, { units: "m", axes: "y,x" });
    if (header.probeGuess) setAttrs(writeProbe(ptycho, "probe_guess", header.probeGuess), { units: PROBE.units });

    const xrf = f.create_group("xrf");
    const xpos = createDataset(xrf, { name: "positions", data: header.positions, shape: [npos, 2], dtype: "<d" });
    setAttrs(xpos, { units: "m", axes: "y,x" });
    const maps = xrf.create_group("elemental_maps");
    for (const el of header.xrf.elements) {
      const data = header.xrf.maps[el.symbol];
      if (!data) throw new Error(`writeScan: no XRF map for element ${el.symbol}`);
      const shape = header.xrf.raster ? [...header.xrf.raster] : [npos];
      const d = createDataset(maps, { name: el.symbol, data, shape, dtype: "<f" });
      setAttrs(d, Object.fromEntries(ELEMENT_ATTRS.map((a) => [a, el[a]])));
    }
    if (header.xrf.spectra) {
      const s = header.xrf.spectra;
      setAttrs(createDataset(xrf, { name: "spectra", data: s.data, shape: [npos, s.channels], dtype: "<f" }), { units: "counts" });
    }
  });
}

/** Writes the ground truth of a simulated scan (layout in layout.ts TRUTH_PATHS). */
export async function writeTruth(path: string, truth: Truth): Promise<void> {
  const { height: h, width: w } = truth.object;
  await withNewFile(path, (f) => {
    setAttrs(f, {
      [FORMAT_ATTR]: FORMAT_VERSION,
      kind: "truth",
      pixel_size_m: truth.pixelSize_m,
      link: JSON.stringify(truth.link),
      provenance: JSON.stringify(truth.provenance),
    });
    setAttrs(writeComplex(f, TRUTH_PATHS.object.slice(1), truth.object.data, [h, w]), { units: "1", quantity: "complex transmission (re, im)" });
    setAttrs(writeProbe(f, TRUTH_PATHS.probe.slice(1), truth.probe), { units: PROBE.units, quantity: PROBE.quantity });
    const maps = f.create_group(TRUTH_PATHS.elementMaps.slice(1));
    const mapUnit = elementMapUnit(truth.link), freeUnit = freeMapUnit(truth.link);
    for (const [el, data] of Object.entries(truth.elementMaps)) {
      setAttrs(createDataset(maps, { name: el, data, shape: [h, w], dtype: "<f" }), { units: mapUnit.units, quantity: `${el} ${mapUnit.quantity}` });
    }
    const matrix = createDataset(f, { name: TRUTH_PATHS.matrix.slice(1), data: truth.matrix, shape: [h, w], dtype: "<f" });
    setAttrs(matrix, { units: freeUnit.units, quantity: freeUnit.quantity });
    const npos = truth.positions_m.length / 2;
    setAttrs(createDataset(f, { name: TRUTH_PATHS.positions_m.slice(1), data: truth.positions_m, shape: [npos, 2], dtype: "<d" }), { units: "m", axes: "y,x" });
    setAttrs(createDataset(f, { name: TRUTH_PATHS.positions_px.slice(1), data: truth.positions_px, shape: [npos, 2], dtype: "<d" }), { units: "px", axes: "y,x" });
  });
}

export { PATHS };
