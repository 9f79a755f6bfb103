/**
 * XRF-Maps / MAPS fitted-map HDF5 files (APS; read by ptychodus, uProbeX, PyXRF...): the XRF half and the
 * scan positions of a joint scan.
 *
 * - maps: `[channels, ny, nx]` with channel names, first found of
 *   /MAPS/XRF_Analyzed/{Fitted,NNLS,ROI}/Counts_Per_Sec + Channel_Names (XRF-Maps, "v10"), then
 *   /MAPS/XRF_fits, /MAPS/XRF_roi + /MAPS/channel_names (MAPS, "v9");
 * - positions: the raster of /MAPS/Scan/y_axis x /MAPS/Scan/x_axis (v10) or /MAPS/y_axis x /MAPS/x_axis
 *   (v9), row-major (x fastest), in the `units` attribute of the axes or else millimetres (the sample
 *   stage's unit in MAPS files; override with a mapping file when a beamline records micrometres);
 * - energy: a scalar /MAPS/energy or /MAPS/incident_energy (keV, or the `units` attribute), or the first
 *   /MAPS/Scan/Extra_PVs entry whose name contains "energy" with a value in 0.1-150 (keV). An array
 *   /MAPS/energy is the spectrum's energy axis and is not the beam energy.
 * - scalers (/MAPS/Scalers, /MAPS/scalers) are listed in the notes, not applied: the maps are used as stored.
 */
import { classifyChannel, mapNames, NON_ELEMENT_EXAMPLES, type Line } from "./channels.js";
import { H5Input, shapeText } from "./h5input.js";
import { LayoutError, sourced, type PartialScan } from "./partial.js";
import { energyFactor, lengthFactor } from "./units.js";

const STACKS: { maps: string; names: string }[] = [
  ...["Fitted", "NNLS", "ROI"].map((fit) => ({ maps: `/MAPS/XRF_Analyzed/${fit}/Counts_Per_Sec`, names: `/MAPS/XRF_Analyzed/${fit}/Channel_Names` })),
  { maps: "/MAPS/XRF_fits", names: "/MAPS/channel_names" },
  { maps: "/MAPS/XRF_roi", names: "/MAPS/channel_names" },
];
const AXES = [
  { y: "/MAPS/Scan/y_axis", x: "/MAPS/Scan/x_axis" },
  { y: "/MAPS/y_axis", x: "/MAPS/x_axis" },
];
const SCALERS = [{ names: "/MAPS/Scalers/Names" }, { names: "/MAPS/scaler_names" }];
const ENERGY = ["/MAPS/energy", "/MAPS/incident_energy"];
const EXTRA_PVS = { names: "/MAPS/Scan/Extra_PVs/Names", values: "/MAPS/Scan/Extra_PVs/Values" };

export const MAPS_DEFAULT_AXIS_UNIT = "mm";

export interface MapsOptions {
  /** Channel names to leave out (e.g. an element the user does not want fitted). */
  skip?: string[];
}

export function isMapsFile(input: H5Input): boolean {
  return input.kind("/MAPS") === "group";
}

/** The element maps of a [channels, ny, nx] stack with its channel names; non-element channels skipped. */
export function elementMapsFromStack(
  input: H5Input, mapsPath: string, namesPath: string, skip: string[], notes: string[],
): { maps: Record<string, Float32Array>; raster: [number, number] } {
  const ds = input.dataset(mapsPath);
  const shape = ds.shape ?? [];
  if (shape.length !== 3) throw new LayoutError(input.name, mapsPath, "[channels, ny, nx] fitted maps", `${shape.length} dimensions ${shapeText(shape)}`);
  const names = input.strings(input.dataset(namesPath, "the channel names"), "channel names");
  const [nch, ny, nx] = shape;
  if (names.length !== nch) throw new LayoutError(input.name, namesPath, `${nch} channel names (one per map in ${mapsPath} ${shapeText(shape)})`, `${names.length}`);
  const values = input.numbers(ds, "fitted map values");
  const kept: { index: number; symbol: string; line: Line; name: string }[] = [];
  const skipped: string[] = [];
  names.forEach((name, index) => {
    if (skip.includes(name)) return void skipped.push(`${name} (asked)`);
    const c = classifyChannel(name);
    if (c.kind === "skip") skipped.push(`${name} (${c.reason})`);
    else if (c.kind === "element") kept.push({ index, symbol: c.symbol, line: c.line, name });
    else {
      throw new LayoutError(input.name, `${namesPath}[${index}]`, `an element channel (Fe, Fe_K, Pb_L, "Ca K") or a known non-element channel (${NON_ELEMENT_EXAMPLES})`, `"${name}"`, "leave it out with xrf.skip in a mapping file");
    }
  });
  const out = mapNames(kept);
  const seen = new Map<string, string>();
  kept.forEach((k, i) => {
    const other = seen.get(out[i]);
    if (other !== undefined) throw new LayoutError(input.name, namesPath, "one channel per element and line", `"${other}" and "${k.name}" both name ${out[i]}`, "leave one out with xrf.skip in a mapping file");
    seen.set(out[i], k.name);
  });
  if (!kept.length) throw new LayoutError(input.name, namesPath, "at least one element channel", `only ${names.map((n) => `"${n}"`).join(", ") || "no channels"}`);
  if (skipped.length) notes.push(`channels skipped from ${mapsPath}: ${skipped.join(", ")}`);
  const renamed = kept.flatMap((k, i) => (k.name !== out[i] ? [`${k.name} -> ${out[i]}`] : []));
  if (renamed.length) notes.push(`channels renamed: ${renamed.join(", ")}`);
  const maps: Record<string, Float32Array> = {};
  const plane = ny * nx;
  kept.forEach((k, i) => {
    maps[out[i]] = Float32Array.from(values.subarray(k.index * plane, (k.index + 1) * plane));
  });
  return { maps, raster: [ny, nx] };
}

function axis(input: H5Input, p: string, expectedLength: number, mapsPath: string, notes: string[]): Float64Array {
  const ds = input.dataset(p, `a scan axis of ${expectedLength} positions`);
  const v = input.numbers(ds, "axis positions");
  if (v.length !== expectedLength) {
    throw new LayoutError(input.name, p, `${expectedLength} positions (the ${p.endsWith("y_axis") ? "rows" : "columns"} of ${mapsPath})`, `${shapeText(ds.shape)} = ${v.length}`);
  }
  const unit = input.units(ds) ?? MAPS_DEFAULT_AXIS_UNIT;
  const f = lengthFactor(unit);
  if (f === undefined) throw new LayoutError(input.name, `${p}@units`, "a length unit (m, mm, um, nm)", `"${unit}"`);
  if (!input.units(ds)) notes.push(`${p} has no units attribute: read as ${MAPS_DEFAULT_AXIS_UNIT}`);
  return v.map((x) => x * f);
}

function beamEnergy(input: H5Input, notes: string[]): { value: number; from: string } | undefined {
  for (const p of ENERGY) {
    const ds = input.optional(p);
    if (!ds || (ds.shape ?? []).reduce((a, b) => a * b, 1) !== 1) continue;
    const s = input.scalar(p)!;
    const f = energyFactor(s.units ?? "keV");
    if (f === undefined) throw new LayoutError(input.name, `${p}@units`, "eV or keV", `"${s.units}"`);
    return { value: s.value * f, from: s.from };
  }
  const names = input.optional(EXTRA_PVS.names), values = input.optional(EXTRA_PVS.values);
  if (names && values) {
    const n = input.strings(names, "PV names"), v = input.strings(values, "PV values");
    for (let i = 0; i < n.length; i++) {
      const x = Number(v[i]);
      if (/energy/i.test(n[i]) && x >= 0.1 && x <= 150) {
        notes.push(`beam energy from the PV ${n[i]} = ${v[i]} (read as keV)`);
        return { value: x, from: `${input.name}:${EXTRA_PVS.values}[${i}]` };
      }
    }
  }
  return undefined;
}

export function readMaps(input: H5Input, options: MapsOptions = {}): PartialScan {
  const notes: string[] = [];
  const stack = STACKS.find((s) => input.kind(s.maps) === "dataset");
  if (!stack) {
    throw new LayoutError(input.name, "/MAPS", `fitted maps at one of ${STACKS.map((s) => s.maps).join(", ")}`, "none of them");
  }
  const { maps, raster } = elementMapsFromStack(input, stack.maps, stack.names, options.skip ?? [], notes);
  const [ny, nx] = raster;
  const partial: PartialScan = {
    source: input.name, layout: "maps", metadata: {}, notes, close: () => {},
    xrf: { elements: Object.keys(maps).map((symbol) => ({ symbol })), maps, raster, from: `${input.name}:${stack.maps}` },
  };
  const axes = AXES.find((a) => input.has(a.y) || input.has(a.x));
  if (axes) {
    const y = axis(input, axes.y, ny, stack.maps, notes), x = axis(input, axes.x, nx, stack.maps, notes);
    const data = new Float64Array(2 * ny * nx);
    for (let r = 0; r < ny; r++) for (let c = 0; c < nx; c++) {
      data[2 * (r * nx + c)] = y[r];
      data[2 * (r * nx + c) + 1] = x[c];
    }
    partial.positions = { data, raster, from: `${input.name}:${axes.y} x ${axes.x}` };
  } else {
    notes.push("no scan axes (/MAPS/Scan/x_axis, y_axis or /MAPS/x_axis, y_axis): positions must come from another input");
  }
  const e = beamEnergy(input, notes);
  if (e) partial.metadata.energy_keV = sourced(e.value, e.from);
  for (const s of SCALERS) {
    const ds = input.optional(s.names);
    if (ds) notes.push(`scalers present, not applied: ${input.strings(ds, "scaler names").join(", ")}`);
  }
  return partial;
}
