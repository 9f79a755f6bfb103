/**
 * A user mapping file (YAML or JSON) that says where each canonical field lives in files of any layout,
 * with units, axis order, transposition, scale factors and constants for missing metadata. The format is
 * documented with an example in docs/layouts.md. Values from a mapping override what the adapters found.
 */
import fs from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import type { H5Dataset } from "../h5runtime.js";
import { PATHS } from "../layout.js";
import type { ElementInfo } from "../model.js";
import { readProbe } from "../read.js";
import { elementMapsFromStack } from "./maps.js";
import { cropWindow, segmentedFrames } from "./frames.js";
import { H5Input, shapeText } from "./h5input.js";
import { LayoutError, sourced, type PartialMetadata, type PartialScan } from "./partial.js";
import { energyFactor, ENERGY_UNITS, lengthFactor, LENGTH_UNITS, parseQuantity, wavelengthToKeV } from "./units.js";

type Obj = Record<string, unknown>;

/** Allowed keys per mapping section ("*": any key, e.g. element names). */
const KEYS: Record<string, string[]> = {
  "*": [],
  "": ["version", "files", "diffraction", "positions", "xrf", "probe_guess", "metadata"],
  diffraction: ["file", "path", "frame_size", "centre"],
  positions: ["file", "path", "transpose", "order", "units", "scale", "y", "x", "grid"],
  "positions.axis": ["file", "path", "units", "scale"],
  xrf: ["file", "maps", "group", "stack", "transpose", "raster", "skip", "elements"],
  "xrf.map": ["file", "path", "scale"],
  "xrf.stack": ["file", "path", "names"],
  "xrf.element": ["sensitivity", "beta", "delta"],
  probe_guess: ["file", "path"],
  metadata: ["energy", "wavelength", "detector_distance", "detector_pixel_size", "matrix_beta", "matrix_delta", "sample", "beamline"],
  quantity: ["file", "path", "value", "units", "scale"],
};

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return `a list [${v.map((x) => JSON.stringify(x)).join(", ")}]`;
  if (isObj(v)) return "a mapping";
  return typeof v === "string" ? `"${v}"` : `${typeof v} ${String(v)}`;
}

/** Reads mapping files and the HDF5 files they name (each opened once, read-only). */
class MappingReader {
  private readonly opened = new Map<string, H5Input>();
  readonly notes: string[] = [];
  readonly files: Record<string, string> = {};

  constructor(readonly name: string, private readonly inputs: string[]) {}

  fail(key: string, expected: string, found: string, hint?: string): never {
    throw new LayoutError(this.name, key, expected, found, hint);
  }

  object(v: unknown, key: string, kind: keyof typeof KEYS): Obj {
    if (!isObj(v)) this.fail(key, "a mapping of keys to values", typeOf(v));
    const unknown = kind === "*" ? [] : Object.keys(v).filter((k) => !KEYS[kind].includes(k));
    if (unknown.length) this.fail(`${key ? `${key}.` : ""}${unknown[0]}`, `one of the keys ${KEYS[kind].join(", ")}`, `"${unknown[0]}"`);
    return v;
  }

  string(v: unknown, key: string): string {
    if (typeof v !== "string" || !v) this.fail(key, "a non-empty string", typeOf(v));
    return v;
  }

  number(v: unknown, key: string, positive = false): number {
    if (typeof v !== "number" || !Number.isFinite(v) || (positive && v <= 0)) this.fail(key, positive ? "a positive number" : "a number", typeOf(v));
    return v;
  }

  bool(v: unknown, key: string): boolean {
    if (typeof v !== "boolean") this.fail(key, "true or false", typeOf(v));
    return v;
  }

  pair(v: unknown, key: string): [number, number] {
    if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === "number" && Number.isFinite(x))) this.fail(key, "a list of two numbers [y, x]", typeOf(v));
    return [v[0], v[1]];
  }

  /** The file a `file:` value names: a key of `files`, an input (by path or file name), or a path next to the mapping. */
  async input(fileValue: unknown, key: string): Promise<H5Input> {
    let file: string;
    if (fileValue === undefined) {
      if (!this.inputs.length) this.fail(`${key}.file`, "a file (no input files were given)", "nothing");
      file = this.inputs[0];
    } else {
      const v = this.string(fileValue, `${key}.file`);
      const byInput = this.inputs.find((i) => i === v || path.basename(i) === v);
      file = this.files[v] ?? byInput ?? path.resolve(path.dirname(this.name), v);
    }
    const abs = path.resolve(file);
    let h = this.opened.get(abs);
    if (!h) {
      if (!fs.existsSync(abs)) this.fail(`${key}.file`, "an existing HDF5 file", `"${file}" (no such file)`);
      h = await H5Input.open(abs);
      this.opened.set(abs, h);
    }
    return h;
  }

  async dataset(spec: Obj, key: string, expected: string): Promise<{ input: H5Input; ds: H5Dataset }> {
    const input = await this.input(spec.file, key);
    const p = this.string(spec.path, `${key}.path`);
    return { input, ds: input.dataset(p, expected) };
  }

  unitFactor(unit: string, kind: "length" | "energy" | "wavelength", key: string): number {
    const f = kind === "energy" ? energyFactor(unit) : lengthFactor(unit);
    if (f === undefined) this.fail(`${key}.units`, `one of ${kind === "energy" ? ENERGY_UNITS : LENGTH_UNITS}`, `"${unit}"`);
    return f;
  }

  /** A quantity: a number in canonical units, "<number> <unit>", {value, units} or {file, path, units, scale}. */
  async quantity(v: unknown, key: string, kind: "length" | "energy" | "wavelength", canonical: string): Promise<{ value: number; from: string }> {
    const from = `${this.name}: ${key}`;
    if (typeof v === "number") return { value: this.number(v, key), from };
    if (typeof v === "string") {
      const q = parseQuantity(v);
      if (!q) this.fail(key, `a number with a unit, e.g. "10 keV" or "2000 mm"`, `"${v}"`);
      return { value: q.value * (q.unit ? this.unitFactor(q.unit, kind, key) : 1), from };
    }
    const o = this.object(v, key, "quantity");
    const scale = o.scale === undefined ? 1 : this.number(o.scale, `${key}.scale`);
    if (o.value !== undefined) {
      const unit = o.units === undefined ? canonical : this.string(o.units, `${key}.units`);
      return { value: this.number(o.value, `${key}.value`) * scale * this.unitFactor(unit, kind, key), from };
    }
    const { input, ds } = await this.dataset(o, key, "a scalar number");
    const s = input.scalar(ds.path)!;
    const unit = o.units !== undefined ? this.string(o.units, `${key}.units`) : (s.units ?? canonical);
    return { value: s.value * scale * this.unitFactor(unit, kind, key), from: s.from };
  }

  close(): void {
    for (const h of this.opened.values()) h.close();
    this.opened.clear();
  }
}

/** Reads mapping file `file` (YAML or JSON) against the input files; returns the partial it describes. */
export async function readMapping(file: string, inputs: string[]): Promise<PartialScan> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new LayoutError(file, "/", "a readable mapping file (YAML or JSON)", (err as Error).message);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new LayoutError(file, "/", "valid YAML or JSON", (err as Error).message.split("\n")[0]);
  }
  const r = new MappingReader(file, inputs);
  try {
    const root = r.object(doc ?? {}, "", "");
    if (root.version !== undefined && root.version !== 1) r.fail("version", "1", typeOf(root.version));
    if (root.files !== undefined) {
      for (const [k, v] of Object.entries(r.object(root.files, "files", "*"))) {
        r.files[k] = path.resolve(path.dirname(file), r.string(v, `files.${k}`));
      }
    }
    const partial: PartialScan = { source: file, layout: "mapping", metadata: await metadata(r, root.metadata), notes: r.notes, close: () => r.close() };
    if (root.diffraction !== undefined) partial.ptycho = await diffraction(r, root.diffraction);
    if (root.probe_guess !== undefined) {
      const o = r.object(root.probe_guess, "probe_guess", "probe_guess");
      const { input, ds } = await r.dataset(o, "probe_guess", "probe modes [K, N, N, 2]");
      partial.probeGuess = sourced(readProbe(ds), `${input.name}:${ds.path}`);
    }
    if (root.positions !== undefined) partial.positions = await positions(r, root.positions);
    if (root.xrf !== undefined) partial.xrf = await xrf(r, root.xrf);
    return partial;
  } catch (err) {
    r.close();
    throw err;
  }
}

async function metadata(r: MappingReader, v: unknown): Promise<PartialMetadata> {
  const md: PartialMetadata = {};
  if (v === undefined) return md;
  const o = r.object(v, "metadata", "metadata");
  if (o.energy !== undefined && o.wavelength !== undefined) r.fail("metadata", "energy or wavelength", "both");
  if (o.energy !== undefined) {
    const q = await r.quantity(o.energy, "metadata.energy", "energy", "keV");
    md.energy_keV = sourced(q.value, q.from);
  }
  if (o.wavelength !== undefined) {
    const q = await r.quantity(o.wavelength, "metadata.wavelength", "wavelength", "m");
    md.energy_keV = sourced(wavelengthToKeV(q.value), q.from);
  }
  if (o.detector_distance !== undefined) {
    const q = await r.quantity(o.detector_distance, "metadata.detector_distance", "length", "m");
    md.detector_distance_m = sourced(q.value, q.from);
  }
  if (o.detector_pixel_size !== undefined) {
    const q = await r.quantity(o.detector_pixel_size, "metadata.detector_pixel_size", "length", "m");
    md.detector_pixel_size_m = sourced(q.value, q.from);
  }
  for (const k of ["matrix_beta", "matrix_delta"] as const) {
    if (o[k] !== undefined) md[k] = sourced(r.number(o[k], `metadata.${k}`), `${r.name}: metadata.${k}`);
  }
  for (const k of ["sample", "beamline"] as const) {
    if (o[k] !== undefined) md[k] = sourced(r.string(o[k], `metadata.${k}`), `${r.name}: metadata.${k}`);
  }
  return md;
}

async function diffraction(r: MappingReader, v: unknown): Promise<PartialScan["ptycho"]> {
  const o = r.object(v, "diffraction", "diffraction");
  const { input, ds } = await r.dataset(o, "diffraction", "a stack of frames [frames, ny, nx]");
  const shape = ds.shape ?? [];
  const size = o.frame_size === undefined ? undefined : r.number(o.frame_size, "diffraction.frame_size", true);
  const centre = o.centre === undefined ? undefined : r.pair(o.centre, "diffraction.centre");
  const crop = cropWindow(shape[1] ?? 0, shape[2] ?? 0, centre, size, { file: input.name, path: ds.path });
  if (crop.size !== shape[1] || crop.size !== shape[2]) r.notes.push(`frames cropped from ${shape[1]} x ${shape[2]} to ${crop.size} x ${crop.size} at (y ${crop.y0}, x ${crop.x0})`);
  const { frames, npos } = segmentedFrames([{ ds, file: input.name }], crop);
  return { npos, frameSize: crop.size, frames, from: `${input.name}:${ds.path}` };
}

async function axisValues(r: MappingReader, v: unknown, key: string, parent: Obj): Promise<{ values: Float64Array; from: string }> {
  const o = r.object(v, key, "positions.axis");
  const { input, ds } = await r.dataset({ file: parent.file, ...o }, key, "positions along one axis");
  const values = input.numbers(ds, "positions");
  const unit = o.units !== undefined ? r.string(o.units, `${key}.units`) : parent.units !== undefined ? r.string(parent.units, "positions.units") : (input.units(ds) ?? "m");
  const f = r.unitFactor(unit, "length", key) * (o.scale === undefined ? 1 : r.number(o.scale, `${key}.scale`)) * (parent.scale === undefined ? 1 : r.number(parent.scale, "positions.scale"));
  return { values: values.map((x) => x * f), from: `${input.name}:${ds.path}` };
}

async function positions(r: MappingReader, v: unknown): Promise<PartialScan["positions"]> {
  const o = r.object(v, "positions", "positions");
  if (o.y !== undefined || o.x !== undefined) {
    if (o.y === undefined || o.x === undefined || o.path !== undefined) r.fail("positions", "either path (an [Npos, 2] dataset) or both y and x", Object.keys(o).join(", "));
    const y = await axisValues(r, o.y, "positions.y", o), x = await axisValues(r, o.x, "positions.x", o);
    const grid = o.grid === undefined ? false : r.bool(o.grid, "positions.grid");
    if (grid) {
      const ny = y.values.length, nx = x.values.length;
      const data = new Float64Array(2 * ny * nx);
      for (let i = 0; i < ny; i++) for (let j = 0; j < nx; j++) {
        data[2 * (i * nx + j)] = y.values[i];
        data[2 * (i * nx + j) + 1] = x.values[j];
      }
      return { data, raster: [ny, nx], from: `${y.from} x ${x.from}` };
    }
    if (y.values.length !== x.values.length) r.fail("positions.x", `as many values as positions.y (${y.values.length})`, `${x.values.length}`, "set grid: true if y and x are the axes of a raster");
    const data = new Float64Array(2 * y.values.length);
    y.values.forEach((yy, i) => { data[2 * i] = yy; data[2 * i + 1] = x.values[i]; });
    return { data, from: `${y.from}, ${x.from}` };
  }
  const { input, ds } = await r.dataset(o, "positions", "positions [Npos, 2]");
  const transpose = o.transpose === undefined ? false : r.bool(o.transpose, "positions.transpose");
  const order = o.order === undefined ? "yx" : r.string(o.order, "positions.order");
  if (order !== "yx" && order !== "xy") r.fail("positions.order", '"yx" or "xy" (the order of the two coordinates)', `"${order}"`);
  const shape = ds.shape ?? [];
  const ok = shape.length === 2 && shape[transpose ? 0 : 1] === 2;
  if (!ok) throw new LayoutError(input.name, ds.path, transpose ? "[2, Npos] positions (positions.transpose: true)" : "[Npos, 2] positions", shapeText(shape), transpose ? undefined : shape.length === 2 && shape[0] === 2 ? "set positions.transpose: true" : undefined);
  const npos = transpose ? shape[1] : shape[0];
  const raw = input.numbers(ds, "positions");
  const unit = o.units !== undefined ? r.string(o.units, "positions.units") : (input.units(ds) ?? "m");
  const f = r.unitFactor(unit, "length", "positions") * (o.scale === undefined ? 1 : r.number(o.scale, "positions.scale"));
  const data = new Float64Array(2 * npos);
  for (let i = 0; i < npos; i++) {
    const a = transpose ? raw[i] : raw[2 * i], b = transpose ? raw[npos + i] : raw[2 * i + 1];
    data[2 * i] = (order === "yx" ? a : b) * f;
    data[2 * i + 1] = (order === "yx" ? b : a) * f;
  }
  return { data, from: `${input.name}:${ds.path}` };
}

/** [rows, cols] stored transposed -> raster order of the transposed image. */
function transposed(v: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = v[i * cols + j];
  return out;
}

async function xrf(r: MappingReader, v: unknown): Promise<PartialScan["xrf"]> {
  const o = r.object(v, "xrf", "xrf");
  const sources = ["maps", "group", "stack"].filter((k) => o[k] !== undefined);
  if (sources.length !== 1) r.fail("xrf", "exactly one of maps, group, stack", sources.length ? sources.join(" and ") : "none");
  const skip = o.skip === undefined ? [] : (Array.isArray(o.skip) ? o.skip : r.fail("xrf.skip", "a list of channel names", typeOf(o.skip))).map((s, i) => r.string(s, `xrf.skip[${i}]`));
  let maps: Record<string, Float32Array> = {};
  let shape: number[] | undefined;
  let from = "";
  if (o.stack !== undefined) {
    const s = r.object(o.stack, "xrf.stack", "xrf.stack");
    const input = await r.input(s.file ?? o.file, "xrf.stack");
    const got = elementMapsFromStack(input, r.string(s.path, "xrf.stack.path"), r.string(s.names, "xrf.stack.names"), skip, r.notes);
    maps = got.maps;
    shape = got.raster;
    from = `${input.name}:${s.path}`;
  } else {
    const entries: [string, Obj][] = [];
    if (o.group !== undefined) {
      const g = typeof o.group === "string" ? { path: o.group } : r.object(o.group, "xrf.group", "xrf.map");
      const input = await r.input(g.file ?? o.file, "xrf.group");
      const gp = r.string(g.path, "xrf.group.path");
      if (input.kind(gp) !== "group") throw new LayoutError(input.name, gp, "a group with one dataset per element", input.kind(gp) ?? "nothing");
      for (const name of (input.file.get(gp) as { keys(): string[] }).keys()) if (!skip.includes(name)) entries.push([name, { file: g.file ?? o.file, path: `${gp}/${name}` }]);
      from = `${input.name}:${gp}`;
    } else {
      const m = r.object(o.maps, "xrf.maps", "*");
      for (const [name, spec] of Object.entries(m)) entries.push([name, typeof spec === "string" ? { file: o.file, path: spec } : { file: o.file, ...r.object(spec, `xrf.maps.${name}`, "xrf.map") }]);
      from = `${r.name}: xrf.maps`;
    }
    for (const [name, spec] of entries) {
      const key = `xrf.maps.${name}`;
      const { input, ds } = await r.dataset(spec, key, "an element map");
      const s = ds.shape ?? [];
      if (shape && (s.length !== shape.length || s.some((d, i) => d !== shape![i]))) {
        throw new LayoutError(input.name, ds.path, `the shape of the other maps ${shapeText(shape)}`, shapeText(s));
      }
      shape = s;
      const scale = spec.scale === undefined ? 1 : r.number(spec.scale, `${key}.scale`);
      maps[name] = Float32Array.from(input.numbers(ds, "map values"), (x) => x * scale);
    }
  }
  if (!Object.keys(maps).length) r.fail("xrf", "at least one element map", "none");
  let raster: [number, number] | undefined = shape && shape.length === 2 ? [shape[0], shape[1]] : undefined;
  if (o.raster !== undefined) {
    const [ny, nx] = r.pair(o.raster, "xrf.raster");
    const count = Object.values(maps)[0].length;
    if (ny * nx !== count) r.fail("xrf.raster", `Ny * Nx = ${count} (the map length)`, `${ny} x ${nx} = ${ny * nx}`);
    raster = [ny, nx];
  }
  if (o.transpose !== undefined && r.bool(o.transpose, "xrf.transpose")) {
    if (!raster) r.fail("xrf.transpose", "2-D maps (or xrf.raster) to transpose", "1-D maps");
    const [rows, cols] = raster;
    for (const k of Object.keys(maps)) maps[k] = transposed(maps[k], rows, cols);
    raster = [cols, rows];
    r.notes.push(`XRF maps transposed from ${rows} x ${cols} to ${cols} x ${rows}`);
  }
  const coefficients = o.elements === undefined ? {} : r.object(o.elements, "xrf.elements", "*");
  const elements: ElementInfo[] = Object.keys(maps).map((symbol) => {
    const info: ElementInfo = { symbol };
    const c = coefficients[symbol];
    if (c !== undefined) {
      const e = r.object(c, `xrf.elements.${symbol}`, "xrf.element");
      for (const a of ["sensitivity", "beta", "delta"] as const) if (e[a] !== undefined) info[a] = r.number(e[a], `xrf.elements.${symbol}.${a}`);
    }
    return info;
  });
  const unknown = Object.keys(coefficients).filter((k) => !maps[k]);
  if (unknown.length) r.fail(`xrf.elements.${unknown[0]}`, `one of the maps (${Object.keys(maps).join(", ")})`, `"${unknown[0]}"`);
  return { elements, maps, ...(raster ? { raster } : {}), from: from || PATHS.xrfMaps };
}
