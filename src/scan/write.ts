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

export function writeComplex(g: WGroup | WFile, name: string, data: Float32Array, shape: number[]): void {
  g.create_dataset({ name, data, shape: [...shape, 2], dtype: "<f" });
}

export function writeProbe(g: WGroup | WFile, name: string, probe: ProbeModes): void {
  writeComplex(g, name, probe.data, [probe.modes, probe.n, probe.n]);
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
    const dset = ptycho.create_dataset({
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
      dset.write_slice([[start, start + count], [], []], frames.frames(start, count));
    }
    const pos = ptycho.create_dataset({ name: "positions", data: header.positions, shape: [npos, 2], dtype: "<d" });
    setAttrs(pos, { units: "m", axes: "y,x" });
    if (header.probeGuess) writeProbe(ptycho, "probe_guess", header.probeGuess);

    const xrf = f.create_group("xrf");
    const xpos = xrf.create_dataset({ name: "positions", data: header.positions, shape: [npos, 2], dtype: "<d" });
    setAttrs(xpos, { units: "m", axes: "y,x" });
    const maps = xrf.create_group("elemental_maps");
    for (const el of header.xrf.elements) {
      const data = header.xrf.maps[el.symbol];
      if (!data) throw new Error(`writeScan: no XRF map for element ${el.symbol}`);
      const shape = header.xrf.raster ? [...header.xrf.raster] : [npos];
      const d = maps.create_dataset({ name: el.symbol, data, shape, dtype: "<f" });
      setAttrs(d, Object.fromEntries(ELEMENT_ATTRS.map((a) => [a, el[a]])));
    }
    if (header.xrf.spectra) {
      const s = header.xrf.spectra;
      xrf.create_dataset({ name: "spectra", data: s.data, shape: [npos, s.channels], dtype: "<f" });
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
    writeComplex(f, TRUTH_PATHS.object.slice(1), truth.object.data, [h, w]);
    writeProbe(f, TRUTH_PATHS.probe.slice(1), truth.probe);
    const maps = f.create_group(TRUTH_PATHS.elementMaps.slice(1));
    for (const [el, data] of Object.entries(truth.elementMaps)) {
      maps.create_dataset({ name: el, data, shape: [h, w], dtype: "<f" });
    }
    f.create_dataset({ name: TRUTH_PATHS.matrix.slice(1), data: truth.matrix, shape: [h, w], dtype: "<f" });
    const npos = truth.positions_m.length / 2;
    f.create_dataset({ name: TRUTH_PATHS.positions_m.slice(1), data: truth.positions_m, shape: [npos, 2], dtype: "<d" });
    f.create_dataset({ name: TRUTH_PATHS.positions_px.slice(1), data: truth.positions_px, shape: [npos, 2], dtype: "<d" });
  });
}

export { PATHS };
