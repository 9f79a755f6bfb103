/**
 * Small, safe accessors over an open h5wasm file: look-ups that return null instead of throwing, and
 * attribute readers that say what they found. Shared by the scan reader and the validator.
 */
import { h5ErrorMessage, type H5Dataset, type H5File, type H5Group } from "./h5runtime.js";
import { safeName, safeText } from "./safeText.js";

export type H5Entity = H5Dataset | H5Group;

/** "dataset", "group", or null when nothing (or something else) lives at `path`. */
export function entityKind(file: H5File, path: string): "dataset" | "group" | "other" | null {
  let e: unknown;
  try {
    e = file.get(path);
  } catch {
    return null;
  }
  if (e === null || e === undefined) return null;
  const name = (e as object).constructor?.name;
  if (name === "Dataset") return "dataset";
  if (name === "Group") return "group";
  return "other";
}

export function getDataset(file: H5File, path: string): H5Dataset | null {
  return entityKind(file, path) === "dataset" ? (file.get(path) as H5Dataset) : null;
}

export function getGroup(file: H5File, path: string): H5Group | null {
  return entityKind(file, path) === "group" ? (file.get(path) as H5Group) : null;
}

/**
 * What lives at `path`, in plain words for a problem message: "a dataset", "a group", "nothing", "an
 * external link to ...", "a soft link to ..., which does not exist", "a named datatype". Names from the file
 * are escaped (safeText.ts).
 */
export function describeEntity(file: H5File, path: string): string {
  let e: unknown;
  try {
    e = file.get(path);
  } catch (err) {
    const why = h5ErrorMessage(err).replace(/^HDF5-DIAG: Error detected in HDF5 \([^)]*\):\s*/, "");
    return /too many soft links/i.test(why) ? "a loop of soft links" : `something HDF5 cannot open (${why})`;
  }
  if (e === null || e === undefined) return "nothing";
  const link = e as { filename?: string; obj_path?: string; target?: string };
  switch ((e as object).constructor?.name) {
    case "Dataset":
      return "a dataset";
    case "Group":
      return "a group";
    case "ExternalLink":
      return `an external link to "${safeName(String(link.filename))}:${safeName(String(link.obj_path))}" (data outside this file are never read)`;
    case "BrokenSoftLink":
      return `a soft link to "${safeName(String(link.target))}", which does not exist`;
    case "Datatype":
      return "a named datatype";
    default:
      return "an object that is neither a dataset nor a group";
  }
}

/** Attributes larger than this (in elements) are never read by attrValue: none of the layout's is. */
export const MAX_ATTR_ELEMENTS = 4096;

/** Shape facts of an attribute, from its metadata alone (nothing of its value is read). */
export interface AttrInfo {
  /** Elements (1 for a scalar). */
  count: number;
  /** Integer or floating-point. */
  numeric: boolean;
  string: boolean;
  /** HDF5 type class (0 integer, 1 float, 3 string, 8 enum, ...). */
  typeClass: number;
}

export function attrInfo(obj: H5Entity | H5File, name: string): AttrInfo | undefined {
  try {
    if (!Object.keys(obj.attrs).includes(name)) return undefined;
    const m = obj.attrs[name].metadata;
    return { count: m.total_size ?? 1, numeric: m.type === 0 || m.type === 1, string: m.type === 3, typeClass: m.type };
  } catch {
    return undefined;
  }
}

/** Raw attribute value, or undefined when absent, unreadable, or larger than MAX_ATTR_ELEMENTS. */
export function attrValue(obj: H5Entity | H5File, name: string): unknown {
  const info = attrInfo(obj, name);
  if (!info || info.count > MAX_ATTR_ELEMENTS) return undefined;
  try {
    return obj.get_attribute(name, false);
  } catch {
    return undefined;
  }
}

/** A scalar numeric attribute (a length-1 array counts as scalar). */
export function numericAttr(obj: H5Entity | H5File, name: string): number | undefined {
  const v = attrValue(obj, name);
  return toNumber(v);
}

/** A value in plain words for a problem message: "the string \"10 keV\"", "an array of 3 values", "a boolean". */
export function describeValue(v: unknown): string {
  if (v === undefined || v === null) return "nothing";
  if (typeof v === "string") return `the string "${safeText(v, 80)}"`;
  if (typeof v === "boolean") return "a boolean";
  if (typeof v === "number" || typeof v === "bigint") return "a number";
  if (ArrayBuffer.isView(v) || Array.isArray(v)) {
    const n = (v as unknown as ArrayLike<unknown>).length;
    return `an array of ${n} value${n === 1 ? "" : "s"}`;
  }
  return "a value of an unsupported type";
}

/**
 * Numbers as float64, whatever integer or float type they were stored as (64-bit integers, which h5wasm
 * returns as BigInt, included: exact up to 2^53).
 */
export function toFloat64(values: unknown): Float64Array {
  if (values instanceof Float64Array) return values;
  const a = values as ArrayLike<number | bigint>;
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Number(a[i]);
  return out;
}

/** Numbers as float32 (the scan model's maps, spectra and probe), converting any stored numeric type. */
export function toFloat32(values: unknown): Float32Array {
  if (values instanceof Float32Array) return values;
  const a = values as ArrayLike<number | bigint>;
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Number(a[i]);
  return out;
}

export function toNumber(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (ArrayBuffer.isView(v) && (v as unknown as ArrayLike<number | bigint>).length === 1) return Number((v as unknown as ArrayLike<number | bigint>)[0]);
  if (Array.isArray(v) && v.length === 1) return toNumber(v[0]);
  return undefined;
}

export function textAttr(obj: H5Entity | H5File, name: string): string | undefined {
  const v = attrValue(obj, name);
  if (typeof v === "string") return v;
  if (Array.isArray(v) && v.length === 1 && typeof v[0] === "string") return v[0];
  return undefined;
}

/** Human description of an h5wasm dtype, e.g. "<H" -> "uint16". */
export function describeDtype(ds: H5Dataset): string {
  const m = ds.metadata as { type: number; size: number; signed: boolean; vlen?: boolean };
  const dt = ds.dtype;
  if (typeof dt === "string") {
    const map: Record<string, string> = {
      "<f": "float32", ">f": "float32 (big-endian)", "<d": "float64", ">d": "float64 (big-endian)",
      "<B": "uint8", "<b": "int8", "<H": "uint16", ">H": "uint16 (big-endian)", "<h": "int16",
      "<I": "uint32", ">I": "uint32 (big-endian)", "<i": "int32", "<Q": "uint64", "<q": "int64",
      ">h": "int16 (big-endian)", ">i": "int32 (big-endian)", ">Q": "uint64 (big-endian)", ">q": "int64 (big-endian)",
      "<e": "float16", ">B": "uint8", ">b": "int8",
    };
    if (map[dt]) return map[dt];
    if (dt.startsWith("S")) return `string (${dt})`;
    return `${dt} (type class ${m.type}, ${m.size} bytes)`;
  }
  return `compound/other (type class ${m.type}, ${m.size} bytes)`;
}
