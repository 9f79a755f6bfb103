/**
 * One input HDF5 file of a foreign layout, opened read-only through the scan reader's byte-source path
 * (`openH5`: a read-only device; nothing can write to the file). Look-ups that fail throw a LayoutError
 * naming the file, the dataset, what was expected and what was found.
 */
import fs from "node:fs";
import path from "node:path";
import { attrValue, describeDtype, entityKind, textAttr, toNumber } from "../h5access.js";
import { h5ErrorMessage, type DeviceFile, type H5Dataset, type H5File } from "../h5runtime.js";
import { openH5 } from "../read.js";
import type { PagedSource } from "../byteSource.js";
import { LayoutError } from "./partial.js";

export function shapeText(shape: readonly number[] | null | undefined): string {
  return shape && shape.length ? `[${shape.join(", ")}]` : "a scalar";
}

export class H5Input {
  private constructor(
    readonly name: string,
    private readonly paged: PagedSource,
    private readonly dev: DeviceFile,
  ) {}

  /** Opens `file`; a missing or non-HDF5 file is a LayoutError. */
  static async open(file: string, what = "an HDF5 file"): Promise<H5Input> {
    if (!fs.existsSync(file)) throw new LayoutError(file, "/", what, "no such file");
    try {
      const { paged, dev } = await openH5(file);
      return new H5Input(file, paged, dev);
    } catch (err) {
      throw new LayoutError(file, "/", what, `a file HDF5 cannot open (${(err as Error).message.replace(/^.*cannot open as HDF5: /, "")})`);
    }
  }

  get file(): H5File {
    return this.dev.file;
  }

  get dir(): string {
    return path.dirname(path.resolve(this.name));
  }

  kind(p: string): "dataset" | "group" | "other" | null {
    return entityKind(this.file, p);
  }

  has(p: string): boolean {
    return this.kind(p) !== null;
  }

  /** The dataset at `p`, or null when nothing is there; something else there is an error. */
  optional(p: string, expected = "a dataset"): H5Dataset | null {
    const kind = this.kind(p);
    if (kind === null) return null;
    if (kind !== "dataset") throw new LayoutError(this.name, p, expected, `a ${kind === "other" ? "link or other object" : kind}`);
    return this.file.get(p) as H5Dataset;
  }

  dataset(p: string, expected = "a dataset"): H5Dataset {
    const ds = this.optional(p, expected);
    if (!ds) throw new LayoutError(this.name, p, expected, "nothing");
    return ds;
  }

  /** All values of a numeric dataset as float64. */
  numbers(ds: H5Dataset, expected = "numbers"): Float64Array {
    if (typeof ds.dtype !== "string" || !/^[<>]?[bBhHiIqQefd]$/.test(ds.dtype)) {
      throw new LayoutError(this.name, ds.path, expected, describeDtype(ds));
    }
    try {
      return Float64Array.from(ds.value as ArrayLike<number>, Number);
    } catch (err) {
      throw new LayoutError(this.name, ds.path, `readable ${expected}`, `an error: ${h5ErrorMessage(err)}`);
    }
  }

  /** A dataset of strings (fixed-length or variable-length), trimmed of padding. */
  strings(ds: H5Dataset, expected = "a list of names"): string[] {
    const v = ds.value as unknown;
    const list = typeof v === "string" ? [v] : Array.isArray(v) ? v : null;
    if (!list || !list.every((s) => typeof s === "string")) {
      throw new LayoutError(this.name, ds.path, `${expected} (strings)`, describeDtype(ds));
    }
    return list.map((s: string) => s.replace(/\0+$/, "").trim());
  }

  /** A scalar (or length-1) numeric dataset with its `units` attribute, or undefined when absent. */
  scalar(p: string): { value: number; units?: string; from: string } | undefined {
    const ds = this.optional(p, "a scalar number");
    if (!ds) return undefined;
    const v = toNumber(ds.value);
    if (v === undefined) throw new LayoutError(this.name, p, "a scalar number", `${describeDtype(ds)} ${shapeText(ds.shape)}`);
    const units = textAttr(ds, "units");
    return { value: v, ...(units ? { units } : {}), from: `${this.name}:${p}` };
  }

  units(ds: H5Dataset): string | undefined {
    return textAttr(ds, "units");
  }

  attr(p: string, name: string): unknown {
    const e = this.file.get(p);
    return e ? attrValue(e as H5Dataset, name) : undefined;
  }

  /** The external link stored at `p` (not followed), or null when `p` is something else. */
  externalLink(p: string): { filename: string; target: string } | null {
    let e: unknown;
    try {
      e = this.file.get(p);
    } catch {
      return null;
    }
    const link = e as { type?: string; filename?: string; obj_path?: string } | null;
    return link && link.type === "ExternalLink" && link.filename && link.obj_path ? { filename: link.filename, target: link.obj_path } : null;
  }

  close(): void {
    try {
      this.dev.close();
    } finally {
      this.paged.close();
    }
  }
}
