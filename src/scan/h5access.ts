/**
 * Small, safe accessors over an open h5wasm file: look-ups that return null instead of throwing, and
 * attribute readers that say what they found. Shared by the scan reader and the validator.
 */
import type { H5Dataset, H5File, H5Group } from "./h5runtime.js";

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

/** Raw attribute value, or undefined when absent or unreadable. */
export function attrValue(obj: H5Entity | H5File, name: string): unknown {
  try {
    const names = Object.keys(obj.attrs);
    if (!names.includes(name)) return undefined;
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

export function toNumber(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (ArrayBuffer.isView(v) && (v as unknown as ArrayLike<number>).length === 1) return Number((v as unknown as ArrayLike<number>)[0]);
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
      "<e": "float16",
    };
    if (map[dt]) return map[dt];
    if (dt.startsWith("S")) return `string (${dt})`;
    return `${dt} (type class ${m.type}, ${m.size} bytes)`;
  }
  return `compound/other (type class ${m.type}, ${m.size} bytes)`;
}
