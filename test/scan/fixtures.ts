/** Small valid scans built by hand (independent of the simulator), and helpers for the bad-file corpus. */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FrameSource, ScanHeader } from "../../src/scan/model.js";

export function tmpDir(prefix = "ptyxrf-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function sha256(file: string): string {
  return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/** A 4 x 5 raster of 16 x 16 frames, two elements, deterministic values. */
export function smallScan(opts: { npos?: number; n?: number; raster?: boolean; dtype?: FrameSource["dtype"] } = {}): {
  header: ScanHeader;
  frames: FrameSource;
  frameValue: (frame: number, pixel: number) => number;
} {
  const ny = 4, nx = 5;
  const npos = opts.npos ?? ny * nx;
  const n = opts.n ?? 16;
  const positions = new Float64Array(2 * npos);
  for (let i = 0; i < npos; i++) {
    positions[2 * i] = Math.floor(i / nx) * 1.5e-7 - 3e-7;
    positions[2 * i + 1] = (i % nx) * 1.5e-7 - 3e-7;
  }
  const fe = new Float32Array(npos).map((_, i) => 10 + i);
  const zn = new Float32Array(npos).map((_, i) => 0.5 * i);
  const frameValue = (f: number, p: number) => ((f * 7 + p * 13) % 101) + (p === 0 ? 1 : 0);
  const dtype = opts.dtype ?? "uint32";
  const header: ScanHeader = {
    metadata: { energy_keV: 10, detector_distance_m: 2, detector_pixel_size_m: 75e-6, sample: "fixture", matrix_beta: 1e-9, matrix_delta: 2e-8 },
    npos,
    frameSize: n,
    positions,
    xrf: {
      elements: [{ symbol: "Fe", sensitivity: 2, beta: 1e-9, delta: 3e-8 }, { symbol: "Zn", sensitivity: 1.5 }],
      maps: { Fe: fe, Zn: zn },
      ...(opts.raster !== false && npos === ny * nx ? { raster: [ny, nx] as [number, number] } : {}),
    },
  };
  const frames: FrameSource = {
    dtype,
    frames(start, count) {
      const Ctor = dtype === "float32" ? Float32Array : dtype === "uint16" ? Uint16Array : Uint32Array;
      const out = new Ctor(count * n * n);
      for (let f = 0; f < count; f++) for (let p = 0; p < n * n; p++) out[f * n * n + p] = frameValue(start + f, p);
      return out;
    },
  };
  return { header, frames, frameValue };
}

// ---------------------------------------------------------------------------------------------------------
// Helpers for the bad-file corpus: break a valid file written by writeScan, with h5wasm's Node build.
// h5wasm cannot unlink an object, so removing or replacing a dataset copies the file with edits.
// ---------------------------------------------------------------------------------------------------------
import { writer } from "../../src/scan/h5runtime.js";
import { writeScan } from "../../src/scan/write.js";

type NodeH5 = Awaited<ReturnType<typeof writer>>;
type NodeFile = InstanceType<NodeH5["File"]>;
type NodeGroup = InstanceType<NodeH5["Group"]>;
type NodeDataset = InstanceType<NodeH5["Dataset"]>;

/** A dataset to create: `resize` grows a chunked dataset after creation (so no data is stored for it). */
export interface DatasetSpec {
  data: NonNullable<Parameters<NodeGroup["create_dataset"]>[0]["data"]>;
  shape: number[];
  dtype?: string;
  chunks?: number[];
  maxshape?: (number | null)[];
  compression?: "gzip";
  resize?: number[];
  attrs?: Record<string, number | string>;
}

/** h5wasm's Node build (real filesystem), ready, with the throwing error handler and filter plugins. */
export function nodeH5(): Promise<NodeH5> {
  return writer();
}

/** Opens `file` read-write ("a") and lets `edit` change it in place (attributes, values, new datasets). */
export async function editH5(file: string, edit: (f: NodeFile) => void): Promise<void> {
  const h5 = await nodeH5();
  const f = new h5.File(file, "a");
  try {
    edit(f);
  } finally {
    f.close();
  }
}

function copyAttrs(from: NodeGroup | NodeDataset | NodeFile, to: NodeGroup | NodeDataset | NodeFile): void {
  for (const [name, attr] of Object.entries(from.attrs)) {
    const value = attr.value;
    if (typeof value === "string") to.create_attribute(name, value);
    else to.create_attribute(name, value as never, attr.shape && attr.shape.length ? attr.shape : null, typeof attr.dtype === "string" ? attr.dtype : null);
  }
}

function setSpecAttrs(obj: NodeGroup | NodeDataset, attrs: Record<string, number | string> = {}): void {
  for (const [k, v] of Object.entries(attrs)) obj.create_attribute(k, v, null, typeof v === "number" ? "<d" : null);
}

function createFromSpec(parent: NodeGroup | NodeFile, name: string, spec: DatasetSpec): void {
  const ds = parent.create_dataset({
    name,
    data: spec.data,
    shape: spec.shape,
    dtype: spec.dtype ?? null,
    ...(spec.chunks ? { chunks: spec.chunks } : {}),
    ...(spec.maxshape ? { maxshape: spec.maxshape } : {}),
    ...(spec.compression ? { compression: spec.compression } : {}),
  });
  if (spec.resize) ds.resize(spec.resize);
  setSpecAttrs(ds, spec.attrs);
}

function ensureGroup(f: NodeFile, path: string): NodeGroup | NodeFile {
  let g: NodeGroup | NodeFile = f;
  for (const part of path.split("/").filter(Boolean)) {
    const next = g.get(part);
    g = next && next.constructor.name === "Group" ? (next as NodeGroup) : g.create_group(part);
  }
  return g;
}

/**
 * Copies HDF5 file `src` to `dst`, leaving out the objects at the paths in `drop`, and creating the
 * datasets in `put` (replacing what `src` has there; parent groups are created as needed).
 * Datasets are copied with their values, dtype, shape and attributes (not their chunking or filters).
 */
export async function rewriteH5(src: string, dst: string, edits: { drop?: string[]; put?: Record<string, DatasetSpec> }): Promise<void> {
  const h5 = await nodeH5();
  const put = edits.put ?? {};
  const skip = new Set([...(edits.drop ?? []), ...Object.keys(put)]);
  const from = new h5.File(src, "r");
  const to = new h5.File(dst, "w");
  try {
    const copy = (g: NodeGroup | NodeFile, out: NodeGroup | NodeFile, prefix: string) => {
      copyAttrs(g, out);
      for (const name of g.keys()) {
        const path = `${prefix}/${name}`;
        if (skip.has(path)) continue;
        const e = g.get(name);
        if (e instanceof h5.Group) copy(e, out.create_group(name), path);
        else if (e instanceof h5.Dataset) {
          const ds = out.create_dataset({ name, data: e.value as never, shape: e.shape, dtype: typeof e.dtype === "string" ? e.dtype : null });
          copyAttrs(e, ds);
        }
      }
    };
    copy(from, to, "");
    for (const [path, spec] of Object.entries(put)) {
      const cut = path.lastIndexOf("/");
      createFromSpec(ensureGroup(to, path.slice(0, cut)), path.slice(cut + 1), spec);
    }
  } finally {
    from.close();
    to.close();
  }
}

/** Writes a valid small scan (smallScan + writeScan) at `file`, ready to be broken. */
export async function writeValidScan(
  file: string,
  opts: Parameters<typeof smallScan>[0] & { compression?: "none" | "gzip" | "bitshuffle-lz4" } = {},
): Promise<ReturnType<typeof smallScan>> {
  const s = smallScan(opts);
  await writeScan(file, s.header, s.frames, { compression: opts.compression ?? "none" });
  return s;
}

/** [code, path] of each problem, in order: what corpus tests compare exactly. */
export function codesAndPaths(problems: { code: string; path: string }[]): [string, string][] {
  return problems.map((p) => [p.code, p.path]);
}
