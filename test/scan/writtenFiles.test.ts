/**
 * Every file ptyxrf writes reads back as what was in memory: result.h5 (joint, ptycho and xrf modes, several
 * elements, one and two probe modes), truth.h5, scans (simulated and converted from foreign layouts) and
 * checkpoints. Each HDF5 file is read dataset by dataset through h5wasm and, where /usr/bin/python3 has h5py,
 * through h5py, and the set of datasets must equal the expected set exactly (a new dataset needs a line here).
 *
 * This class of bug shipped once: h5wasm writes a typed array's whole buffer from its start, so every element
 * map handed to it as a `subarray` of the maps buffer was stored as the first element's map.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodeCheckpoint, encodeCheckpoint } from "../../src/pipeline/checkpoint/format.js";
import { writeRunOutputs } from "../../src/pipeline/outputs.js";
import { prepare, solve } from "../../src/pipeline/reconstructRun.js";
import { adaptInputs, convertScan } from "../../src/scan/layouts/adapt.js";
import type { FrameSource, ScanHeader } from "../../src/scan/model.js";
import { ScanReader } from "../../src/scan/read.js";
import { phaseAndAmplitude } from "../../src/scan/result.js";
import { readTruth } from "../../src/scan/truth.js";
import { ownValues, writeScan, writeTruth } from "../../src/scan/write.js";
import { simulate, type SimulatedScan } from "../../src/sim/simulate.js";
import type { Reconstruction, SolverSnapshot } from "../../src/solver/reconstruct.js";
import { tmpDir } from "./fixtures.js";
import { dumpWithH5py, dumpWithH5wasm, expected, HAVE_H5PY, type Dump } from "./h5dump.js";
import { tinyScan, writeEiger, writeMapsFile } from "./layouts/foreign.js";

const dir = tmpDir("ptyxrf-written-");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const at = (f: string) => path.join(dir, f);

/** Reads `file` both ways and compares every dataset with `want` (and nothing more). */
async function expectFile(file: string, want: Dump): Promise<void> {
  const { dump } = await dumpWithH5wasm(file);
  expect(Object.keys(dump).sort()).toEqual(Object.keys(want).sort());
  for (const [p, w] of Object.entries(want)) expect({ path: p, ...dump[p] }).toEqual({ path: p, ...w });
  if (HAVE_H5PY) {
    const py = dumpWithH5py(file);
    expect(Object.keys(py).sort()).toEqual(Object.keys(want).sort());
    for (const [p, w] of Object.entries(want)) expect({ path: p, ...py[p] }).toEqual({ path: p, ...w });
  }
}

function scanDatasets(h: ScanHeader, frames: FrameSource): Dump {
  const { npos, frameSize: n } = h;
  const want: Dump = {
    "/ptychography/diffraction": expected(frames.frames(0, npos), [npos, n, n], "counts"),
    "/ptychography/positions": expected(h.positions, [npos, 2], "m"),
    "/xrf/positions": expected(h.positions, [npos, 2], "m"),
  };
  for (const el of h.xrf.elements) {
    want[`/xrf/elemental_maps/${el.symbol}`] = expected(Float32Array.from(h.xrf.maps[el.symbol]), h.xrf.raster ? [...h.xrf.raster] : [npos]);
  }
  if (h.probeGuess) want["/ptychography/probe_guess"] = expected(h.probeGuess.data, [h.probeGuess.modes, n, n, 2], "sqrt(photons)");
  if (h.xrf.spectra) want["/xrf/spectra"] = expected(h.xrf.spectra.data, [npos, h.xrf.spectra.channels], "counts");
  return want;
}

/** The datasets of result.h5, with the units a scientist reading it (h5py: ds.attrs["units"]) must find. */
function resultDatasets(r: Reconstruction): Dump {
  const { height: H, width: W } = r.geometry;
  const { phase, amplitude } = phaseAndAmplitude(r.object);
  const mapUnits = r.link?.type === "linear" ? "1" : "ug/cm^2";
  const want: Dump = {
    "/reconstructed/phase": expected(phase, [H, W], "rad"),
    "/reconstructed/amplitude": expected(amplitude, [H, W], "1"),
    "/reconstructed/object": expected(r.object, [H, W, 2], "1"),
    "/reconstructed/pixel_size": expected(Float64Array.of(r.geometry.pixelSize), [], "m"),
    "/reconstructed/probe": expected(r.probe, [r.modes, r.frameSize, r.frameSize, 2], "sqrt(photons)"),
  };
  if (r.maps) {
    r.elements.forEach((el, e) => {
      want[`/reconstructed/elemental_maps/${el}`] = expected(r.maps!.slice(e * H * W, (e + 1) * H * W), [H, W], mapUnits);
    });
  }
  if (r.free) want["/reconstructed/free_map"] = expected(r.free, [H, W], mapUnits);
  return want;
}

const cases: { name: string; mode: "joint" | "ptycho" | "xrf"; elements: string[]; modes: number; link: "linear" | "exponential" }[] = [
  { name: "joint, three elements, two probe modes, exponential link", mode: "joint", elements: ["Fe", "Zn", "Cu"], modes: 2, link: "exponential" },
  { name: "joint, two elements, linear link", mode: "joint", elements: ["Ca", "Zn"], modes: 1, link: "linear" },
  { name: "ptycho, two probe modes", mode: "ptycho", elements: ["Fe", "Zn"], modes: 2, link: "exponential" },
  { name: "xrf, three elements", mode: "xrf", elements: ["Fe", "Mn", "Zn"], modes: 1, link: "exponential" },
];

describe("result.h5 holds what the reconstruction held", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const sim = simulate({
        preset: "small", seed: 11, objectSize: 48, probeSize: 16, elements: c.elements, probeModes: c.modes, link: c.link,
        scan: { pattern: "raster", grid: [4, 4], jitter_px: 0 },
      });
      const scanPath = at(`${c.mode}-${c.elements.join("")}-${c.modes}.h5`);
      await writeScan(scanPath, sim.header, sim.frames);
      const prepared = await prepare(scanPath);
      const { reconstruction: r } = await solve(prepared, { mode: c.mode, iterations: 3, threads: 1, probe: { modes: c.modes } });
      if (c.mode !== "ptycho") {
        // the test is only meaningful when the maps differ from each other
        const HW = r.geometry.height * r.geometry.width;
        for (let e = 1; e < c.elements.length; e++) expect(r.maps!.subarray(e * HW, (e + 1) * HW)).not.toEqual(r.maps!.subarray(0, HW));
      }
      const out = at(`run-${c.mode}-${c.elements.join("")}`);
      await writeRunOutputs(out, r, { scan: scanPath, truth: null, errors: null });
      await expectFile(path.join(out, "result.h5"), resultDatasets(r));
    });
  }
});

describe("truth.h5 and scan.h5 hold what the simulation held", () => {
  const sims: [string, SimulatedScan][] = [
    ["three elements, two probe modes, probe guess, raster maps", simulate({ preset: "small", seed: 5, objectSize: 48, probeSize: 16, elements: ["Fe", "Zn", "Cu"], probeModes: 2 })],
    ["Fermat spiral (per-position maps), uint32 counts", simulate({ preset: "small", seed: 6, objectSize: 48, probeSize: 16, scan: { pattern: "fermat" } })],
  ];
  for (const [name, sim] of sims) {
    it(name, async () => {
      const t = sim.truth, { height: H, width: W } = t.object;
      const truthPath = at(`truth-${sim.config.seed}.h5`);
      await writeTruth(truthPath, t);
      const npos = t.positions_m.length / 2;
      const mapUnits = t.link.type === "linear" ? "1" : "ug/cm^2";
      const want: Dump = {
        "/object": expected(t.object.data, [H, W, 2], "1"),
        "/probe": expected(t.probe.data, [t.probe.modes, t.probe.n, t.probe.n, 2], "sqrt(photons)"),
        "/matrix": expected(t.matrix, [H, W], mapUnits),
        "/positions_m": expected(t.positions_m, [npos, 2], "m"),
        "/positions_px": expected(t.positions_px, [npos, 2], "px"),
      };
      for (const [el, m] of Object.entries(t.elementMaps)) want[`/elemental_maps/${el}`] = expected(m, [H, W], mapUnits);
      expect(Object.keys(t.elementMaps).length).toBeGreaterThanOrEqual(2);
      await expectFile(truthPath, want);
      const back = await readTruth(truthPath);
      for (const [el, m] of Object.entries(t.elementMaps)) expect(back.elementMaps[el]).toEqual(m);
      expect(back.object.data).toEqual(t.object.data);

      const scanPath = at(`scan-${sim.config.seed}.h5`);
      await writeScan(scanPath, sim.header, sim.frames, { blockFrames: 5 });
      await expectFile(scanPath, scanDatasets(sim.header, sim.frames));
      const r = await ScanReader.open(scanPath);
      try {
        const h = r.header();
        for (const el of Object.keys(sim.header.xrf.maps)) expect(h.xrf.maps[el]).toEqual(sim.header.xrf.maps[el]);
        expect(r.readFrames(0, h.npos)).toEqual(sim.frames.frames(0, h.npos));
      } finally {
        r.close();
      }
    });
  }

  it("writers store a view's own values (frames, maps and positions handed over as subarrays)", async () => {
    const sim = simulate({ preset: "small", seed: 7, objectSize: 48, probeSize: 16 });
    const { npos, frameSize: n } = sim.header;
    // the same header and frames, every array a view into the middle of a larger buffer
    const inside = <T extends Float32Array | Float64Array | Uint32Array>(a: T): T => {
      const ctor = a.constructor as new (n: number) => T;
      const big = new ctor(a.length + 10);
      big.set(a as never, 5);
      return big.subarray(5, 5 + a.length) as T;
    };
    const maps = Object.fromEntries(Object.entries(sim.header.xrf.maps).map(([el, m]) => [el, inside(m)]));
    const header: ScanHeader = { ...sim.header, positions: inside(sim.header.positions), xrf: { ...sim.header.xrf, maps } };
    const frames: FrameSource = { dtype: sim.frames.dtype, frames: (s, c) => inside(sim.frames.frames(s, c) as Uint32Array) };
    const file = at("views.h5");
    await writeScan(file, header, frames, { blockFrames: 3 });
    await expectFile(file, scanDatasets(sim.header, sim.frames));
    expect(npos * n * n).toBeGreaterThan(0);
    const view = new Float32Array([1, 2, 3, 4]).subarray(1, 3);
    expect(ownValues(view)).toEqual(new Float32Array([2, 3]));
    expect(ownValues(view).byteOffset).toBe(0);
  });
});

describe("converted scans hold what the adapters read", () => {
  it("MAPS + Eiger inputs: the canonical file equals the adapted scan in memory", async () => {
    const sim = tinyScan(9);
    const maps = at("maps.h5");
    await writeMapsFile(maps, sim, { channels: ["Fe", "Zn_K", "Compton"] });
    const master = await writeEiger(dir, "eiger9", sim, { framesPerFile: 7 });
    const inputs = [maps, master];
    const adapted = await adaptInputs(inputs);
    let want: Dump;
    try {
      expect(Object.keys(adapted.header.xrf.maps).length).toBe(2);
      want = scanDatasets(adapted.header, adapted.frames);
    } finally {
      adapted.close();
    }
    const out = at("converted.h5");
    await convertScan(inputs, out);
    await expectFile(out, want);
  });
});

describe("checkpoints hold the solver state bit for bit", () => {
  it("a captured snapshot of a joint run with two probe modes round-trips, views included", async () => {
    const sim = simulate({ preset: "small", seed: 8, objectSize: 48, probeSize: 16, elements: ["Fe", "Zn", "Cu"], probeModes: 2 });
    const scanPath = at("ckpt-scan.h5");
    await writeScan(scanPath, sim.header, sim.frames);
    let snap: SolverSnapshot | null = null;
    await solve(await prepare(scanPath), { iterations: 3, threads: 1, probe: { modes: 2 } }, undefined, {
      onCheckpoint: (it, capture) => {
        if (it === 2) snap = capture();
      },
    });
    expect(snap).not.toBeNull();
    const s = snap! as SolverSnapshot;
    expect(Object.keys(s.arrays)).toEqual(expect.arrayContaining(["object", "probe", "maps", "free"]));
    // a snapshot whose arrays are views into one shared buffer must encode only each view's values
    const arrays = Object.fromEntries(Object.entries(s.arrays).map(([k, a]) => {
      const ctor = a.constructor as new (n: number) => typeof a;
      const big = new ctor(a.length + 3);
      big.set(a as never, 3);
      return [k, big.subarray(3)];
    }));
    for (const snapshot of [s, { ...s, arrays }]) {
      const back = decodeCheckpoint(encodeCheckpoint({ identity: { scan: "s3://b/k", scanVersion: "v1", configHash: "h", truth: "" }, created: "now", snapshot }));
      expect(Object.keys(back.snapshot.arrays).sort()).toEqual(Object.keys(s.arrays).sort());
      for (const [k, a] of Object.entries(s.arrays)) {
        expect(back.snapshot.arrays[k].constructor).toBe(a.constructor);
        expect(expected(back.snapshot.arrays[k], [])).toEqual(expected(a, []));
      }
      expect(back.snapshot.meta).toEqual(JSON.parse(JSON.stringify(s.meta)));
    }
  });
});
