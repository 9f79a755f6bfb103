/**
 * Every dataset of an HDF5 file, read back two ways for round-trip tests: through ptyxrf's own read path
 * (h5wasm over a paged byte source) and through h5py (an independent reader; Debian's /usr/bin/python3 with python3-h5py, which
 * `npm run setup:tools` installs; null when it is missing). Both give, per dataset path, its shape, numpy-style
 * dtype, its `units` attribute and the sha256 of its values as little-endian bytes, so a test can compare each with what was in
 * memory when the file was written.
 */
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import { FileSource, PagedSource } from "../../src/scan/byteSource.js";
import { openFromSource } from "../../src/scan/h5runtime.js";

export interface DumpedDataset {
  /** The dataset's `units` attribute (absent when it has none). */
  units?: string;
  shape: number[];
  /** numpy dtype string: "<f4", "<f8", "<u2", "<u4", "<i4", ... */
  dtype: string;
  /** sha256 (hex) of the values' little-endian bytes. */
  sha256: string;
}
export type Dump = Record<string, DumpedDataset>;

type Numeric = Float32Array | Float64Array | Uint16Array | Uint32Array | Int32Array | Uint8Array;

const DTYPES: [new (n: number) => Numeric, string][] = [
  [Float32Array, "<f4"], [Float64Array, "<f8"], [Uint16Array, "<u2"], [Uint32Array, "<u4"], [Int32Array, "<i4"], [Uint8Array, "|u1"],
];

export function dtypeOf(a: Numeric): string {
  const hit = DTYPES.find(([ctor]) => a instanceof ctor);
  if (!hit) throw new Error(`no numpy dtype for ${a.constructor.name}`);
  return hit[1];
}

/** sha256 of exactly the values of `a` (a view's own bytes, not its buffer's). */
export function valuesSha256(a: Numeric): string {
  return crypto.createHash("sha256").update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest("hex");
}

/** What a dataset written from `values` with `shape` (and a `units` attribute, when given) must read back as. */
export function expected(values: Numeric, shape: number[], units?: string): DumpedDataset {
  return { ...(units !== undefined ? { units } : {}), shape, dtype: dtypeOf(values), sha256: valuesSha256(values) };
}

type H5Group = { keys(): string[]; get(name: string): unknown };
type H5Dataset = { shape: number[] | null; dtype: string; value: unknown };

/** Every dataset of `file` read the way ptyxrf reads files (h5wasm over a paged byte source). */
export async function dumpWithH5wasm(file: string): Promise<{ dump: Dump; values: Record<string, Numeric> }> {
  const source = new PagedSource(new FileSource(file));
  const dev = await openFromSource(source);
  const f = dev.file;
  const dump: Dump = {};
  const values: Record<string, Numeric> = {};
  const visit = (g: H5Group, prefix: string) => {
    for (const name of g.keys()) {
      const item = g.get(name) as { constructor: { name: string } };
      const p = `${prefix}/${name}`;
      if (item.constructor.name === "Group") visit(item as unknown as H5Group, p);
      else if (item.constructor.name === "Dataset") {
        const ds = item as unknown as H5Dataset;
        const raw = ds.value;
        const v = (ArrayBuffer.isView(raw) ? raw : Float64Array.of(Number(raw))) as Numeric;
        values[p] = v;
        const units = (ds as unknown as { attrs: Record<string, { value: unknown }> }).attrs.units?.value;
        dump[p] = { ...(typeof units === "string" ? { units } : {}), shape: ds.shape ?? [], dtype: dtypeOf(v), sha256: valuesSha256(v) };
      }
    }
  };
  try {
    visit(f as unknown as H5Group, "");
  } finally {
    dev.close();
    source.close();
  }
  return { dump, values };
}

const PYTHON = "/usr/bin/python3";
const DUMP_WITH_H5PY = `
import hashlib, json, sys
import numpy as np
import h5py
out = {}
def visit(name, obj):
    if isinstance(obj, h5py.Dataset):
        a = np.ascontiguousarray(obj[()])
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        d = {"shape": list(obj.shape), "dtype": a.dtype.str, "sha256": hashlib.sha256(a.tobytes()).hexdigest()}
        if "units" in obj.attrs:
            u = obj.attrs["units"]
            d["units"] = u.decode() if isinstance(u, bytes) else str(u)
        out["/" + name] = d
with h5py.File(sys.argv[1], "r") as f:
    f.visititems(visit)
print(json.dumps(out))
`;

function h5pyAvailable(): boolean {
  if (!fs.existsSync(PYTHON)) return false;
  try {
    execFileSync(PYTHON, ["-c", "import h5py"], { stdio: "ignore", timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}
export const HAVE_H5PY = h5pyAvailable();

/** Every dataset of `file` read through h5py (requires HAVE_H5PY). */
export function dumpWithH5py(file: string): Dump {
  return JSON.parse(execFileSync(PYTHON, ["-c", DUMP_WITH_H5PY, file], { encoding: "utf8", timeout: 30_000 })) as Dump;
}
