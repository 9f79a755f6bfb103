/**
 * Simulated scans (ground truth from src/sim) written in foreign layouts with h5wasm: an XRF-Maps / MAPS
 * fitted-map file, an Eiger master with external-linked data files, and a beamline file described by a
 * mapping. Each writer mirrors what the real format holds (see docs/layouts.md), so round trips can be
 * compared with the canonical scan of the same simulation.
 */
import path from "node:path";
import { writer } from "../../../src/scan/h5runtime.js";
import type { DiffractionArray } from "../../../src/scan/model.js";
import { simulate, type SimulatedScan } from "../../../src/sim/simulate.js";

type NodeH5 = Awaited<ReturnType<typeof writer>>;
type NodeGroup = InstanceType<NodeH5["Group"]> | InstanceType<NodeH5["File"]>;

/** A tiny joint scan: 40 x 40 object, 16 x 16 frames, 4 x 5 raster without jitter, Poisson counts (uint32). */
export function tinyScan(seed = 3): SimulatedScan {
  return simulate({
    preset: "small", seed, objectSize: 40, probeSize: 16, link: "linear",
    scan: { pattern: "raster", grid: [4, 5], jitter_px: 0 }, noise: { kind: "poisson" }, dose: 1e6,
  });
}

export const rasterOf = (s: SimulatedScan): [number, number] => s.header.xrf.raster!;

function group(parent: NodeGroup, p: string): NodeGroup {
  let g = parent;
  for (const part of p.split("/").filter(Boolean)) {
    const next = g.get(part);
    g = next && next.constructor.name === "Group" ? (next as NodeGroup) : g.create_group(part);
  }
  return g;
}

function put(f: NodeGroup, p: string, data: unknown, shape: number[] | null, dtype: string | null, attrs: Record<string, string | number> = {}): void {
  const cut = p.lastIndexOf("/");
  const ds = group(f, p.slice(0, cut)).create_dataset({ name: p.slice(cut + 1), data: data as never, ...(shape ? { shape } : {}), dtype });
  for (const [k, v] of Object.entries(attrs)) ds.create_attribute(k, v, null, typeof v === "number" ? "<d" : null);
}

export interface MapsOptions {
  version?: "v10" | "v9";
  /** Channel names in file order; element maps come from the simulation, others are filled with 7. */
  channels?: string[];
  /** Rows of y_axis written (default the raster's); a wrong number makes a shape mismatch. */
  yAxisLength?: number;
}

/** XRF-Maps (v10: /MAPS/XRF_Analyzed/Fitted, /MAPS/Scan/x_axis) or MAPS (v9: /MAPS/XRF_fits, /MAPS/x_axis) file, axes in mm. */
export async function writeMapsFile(file: string, s: SimulatedScan, o: MapsOptions = {}): Promise<void> {
  const h5 = await writer();
  const [ny, nx] = rasterOf(s);
  const channels = o.channels ?? ["Fe", "Zn_K", "Compton", "Num_Iter"];
  const stack = new Float32Array(channels.length * ny * nx).fill(7);
  channels.forEach((name, c) => {
    const el = name.replace(/[_ ].*$/, "");
    if (s.header.xrf.maps[el]) stack.set(s.header.xrf.maps[el], c * ny * nx);
  });
  const p = s.header.positions;
  const yAxis = Float64Array.from({ length: o.yAxisLength ?? ny }, (_, r) => p[2 * (Math.min(r, ny - 1) * nx)] * 1e3);
  const xAxis = Float64Array.from({ length: nx }, (_, c) => p[2 * c + 1] * 1e3);
  const f = new h5.File(file, "w");
  try {
    if (o.version === "v9") {
      put(f, "/MAPS/XRF_fits", stack, [channels.length, ny, nx], "<f");
      put(f, "/MAPS/channel_names", channels, null, "S256");
      put(f, "/MAPS/x_axis", xAxis, [nx], "<d");
      put(f, "/MAPS/y_axis", yAxis, [yAxis.length], "<d");
      put(f, "/MAPS/scalers", new Float64Array(2 * ny * nx).fill(1), [2, ny, nx], "<d");
      put(f, "/MAPS/scaler_names", ["SRcurrent", "US_IC"], null, "S256");
      put(f, "/MAPS/energy", Float64Array.from({ length: 8 }, (_, i) => i * 0.01), [8], "<d"); // spectrum axis: not the beam energy
    } else {
      put(f, "/MAPS/XRF_Analyzed/Fitted/Counts_Per_Sec", stack, [channels.length, ny, nx], "<f");
      put(f, "/MAPS/XRF_Analyzed/Fitted/Channel_Names", channels, null, "S256");
      put(f, "/MAPS/Scan/x_axis", xAxis, [nx], "<d");
      put(f, "/MAPS/Scan/y_axis", yAxis, [yAxis.length], "<d");
      put(f, "/MAPS/Scalers/Names", ["SRcurrent", "US_IC", "Elapsed_Livetime"], null, "S256");
      put(f, "/MAPS/Scalers/Values", new Float64Array(3 * ny * nx).fill(1), [3, ny, nx], "<d");
      put(f, "/MAPS/Scan/Extra_PVs/Names", ["2xfm:DCMenergy.VAL", "2xfm:m24.VAL"], null, "S256");
      put(f, "/MAPS/Scan/Extra_PVs/Values", [String(s.config.energy_keV), "1.5"], null, "S256");
    }
  } finally {
    f.close();
  }
}

export interface EigerOptions {
  /** Frames per data file (the last file takes the rest); default two files. */
  framesPerFile?: number;
  /** Detector size and where the simulated frame sits in it (top-left corner). */
  detector?: [number, number];
  corner?: [number, number];
  /** Leave out this data file (1-based) after linking it. */
  missingFile?: number;
}

/** The simulated frames embedded in a larger detector frame (zeros around), as NAME_master.h5 + NAME_data_00000k.h5. */
export async function writeEiger(dir: string, name: string, s: SimulatedScan, o: EigerOptions = {}): Promise<string> {
  const h5 = await writer();
  const n = s.header.frameSize, npos = s.header.npos;
  const [dy, dx] = o.detector ?? [n + 8, n + 12];
  const [y0, x0] = o.corner ?? [3, 7];
  const per = o.framesPerFile ?? Math.ceil(npos / 2);
  const files: string[] = [];
  for (let start = 0, k = 1; start < npos; start += per, k++) {
    const count = Math.min(per, npos - start);
    const src = s.frames.frames(start, count) as DiffractionArray;
    const big = new Uint32Array(count * dy * dx);
    for (let f = 0; f < count; f++) for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
      big[f * dy * dx + (y0 + y) * dx + x0 + x] = src[f * n * n + y * n + x];
    }
    const dataName = `${name}_data_${String(k).padStart(6, "0")}.h5`;
    files.push(dataName);
    if (k === o.missingFile) continue;
    const f = new h5.File(path.join(dir, dataName), "w");
    try {
      const g = group(f, "/entry/data");
      const ds = g.create_dataset({ name: "data", data: big, shape: [count, dy, dx], dtype: "<I", chunks: [1, dy, dx], compression: 32008, compression_opts: [0, 2] });
      ds.create_attribute("image_nr_low", start + 1, null, "<i");
      ds.create_attribute("image_nr_high", start + count, null, "<i");
    } finally {
      f.close();
    }
  }
  const master = path.join(dir, `${name}_master.h5`);
  const f = new h5.File(master, "w");
  try {
    const data = group(f, "/entry/data");
    files.forEach((dataName, i) => data.create_external_link(dataName, "/entry/data/data", `data_${String(i + 1).padStart(6, "0")}`));
    const lambda_A = 12.398419843320026 / s.config.energy_keV;
    put(f, "/entry/instrument/beam/incident_wavelength", lambda_A, [], "<d", { units: "angstrom" });
    put(f, "/entry/instrument/detector/x_pixel_size", s.config.detectorPixel_m, [], "<d", { units: "m" });
    put(f, "/entry/instrument/detector/y_pixel_size", s.config.detectorPixel_m, [], "<d", { units: "m" });
    put(f, "/entry/instrument/detector/detector_distance", s.config.detectorDistance_m * 1e3, [], "<d", { units: "mm" });
    put(f, "/entry/instrument/detector/beam_center_x", x0 + n / 2, [], "<f", { units: "pixel" });
    put(f, "/entry/instrument/detector/beam_center_y", y0 + n / 2, [], "<f", { units: "pixel" });
    put(f, "/entry/instrument/detector/count_time", 0.01, [], "<d", { units: "s" });
    put(f, "/entry/instrument/detector/detectorSpecific/photon_energy", s.config.energy_keV * 1e3, [], "<f", { units: "eV" });
  } finally {
    f.close();
  }
  return master;
}

/**
 * A "beamline" file of its own layout: frames [npos, N, N] at /scan/frames, positions [2, npos] as rows
 * (x, y) in millimetres at /scan/pos, XRF maps stored transposed ([nx, ny]) under /fluo/<El>, no metadata.
 */
export async function writeBeamlineFile(file: string, s: SimulatedScan): Promise<void> {
  const h5 = await writer();
  const { npos, frameSize: n } = s.header;
  const [ny, nx] = rasterOf(s);
  const pos = new Float64Array(2 * npos);
  for (let i = 0; i < npos; i++) {
    pos[i] = s.header.positions[2 * i + 1] * 1e3;
    pos[npos + i] = s.header.positions[2 * i] * 1e3;
  }
  const f = new h5.File(file, "w");
  try {
    put(f, "/scan/frames", s.frames.frames(0, npos), [npos, n, n], "<I");
    put(f, "/scan/pos", pos, [2, npos], "<d");
    for (const [el, map] of Object.entries(s.header.xrf.maps)) {
      const t = new Float32Array(npos);
      for (let r = 0; r < ny; r++) for (let c = 0; c < nx; c++) t[c * ny + r] = map[r * nx + c];
      put(f, `/fluo/${el}`, t, [nx, ny], "<f");
    }
  } finally {
    f.close();
  }
}

export const BEAMLINE_MAPPING = `# the beamline file of writeBeamlineFile
version: 1
diffraction:
  path: /scan/frames
positions:
  path: /scan/pos
  transpose: true      # stored [2, Npos]
  order: xy            # first row x, second y
  units: mm
xrf:
  maps:
    Fe: /fluo/Fe
    Zn: /fluo/Zn
  transpose: true      # maps stored [nx, ny]
  elements:
    Fe: { sensitivity: 1 }
    Zn: { sensitivity: 1 }
metadata:
  energy: 10000 eV
  detector_distance: "2000 mm"
  detector_pixel_size: { value: 75, units: um }
`;
