/**
 * Interop with another HDF5 writer and reader: h5py.
 *
 * - test/fixtures/h5py_*.h5 were written by h5py (test/fixtures/make_fixtures.py); every value comes from a
 *   closed-form formula, recomputed here and compared exactly after reading through ScanReader.
 * - The other way: files written by ptyxrf's writeScan are opened with h5py (when /usr/bin/python3 has
 *   h5py; the test skips otherwise) and their paths, shapes, dtypes, filters and value checksums compared.
 */
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ScanReader } from "../../src/scan/read.js";
import { validateScan } from "../../src/scan/validate.js";
import { writeScan, type Compression } from "../../src/scan/write.js";
import { codesAndPaths, sha256, smallScan, tmpDir } from "./fixtures.js";

const FIXTURES = path.resolve(import.meta.dirname, "../fixtures");
const fixture = (name: string) => path.join(FIXTURES, name);
const dir = tmpDir("ptyxrf-interop-");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// ---- the formulas of make_fixtures.py ----------------------------------------------------------------
const NPOS = 6, N = 16;

function expectedPositions(): number[] {
  const out: number[] = [];
  for (let i = 0; i < NPOS; i++) out.push(Math.floor(i / 3) * 2e-7 - 1e-7, (i % 3) * 2e-7 - 2e-7);
  return out;
}

function expectedFrames(kind: "uint16" | "uint32", start: number, count: number): number[] {
  const out: number[] = [];
  for (let f = start; f < start + count; f++) {
    for (let y = 0; y < N; y++) {
      for (let x = 0; x < N; x++) out.push(kind === "uint16" ? 1000 * f + 16 * y + x + 1 : 100000 * f + 1000 * y + 3 * x + 70000);
    }
  }
  return out;
}

const MAP_FORMULAS: Record<string, (i: number) => number> = {
  Fe: (i) => 1.5 * i + 0.25,
  Ca: (i) => (i * i) / 8,
  Zn_K: (i) => 100 - 7 * i,
};
const expectedMap = (el: string) => Array.from({ length: NPOS }, (_, i) => Math.fround(MAP_FORMULAS[el](i)));

function expectedProbe(): number[] {
  const out: number[] = [];
  for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) out.push(Math.fround((y - x) / 16), Math.fround((x * y) / 256));
  return out;
}

const expectedSpectra = () => Array.from({ length: NPOS * 8 }, (_, k) => 8 * Math.floor(k / 8) + (k % 8));

// ---- h5py fixtures read by ptyxrf -------------------------------------------------------------------------
describe("h5py-written fixtures read by ScanReader", () => {
  it("the committed fixtures are small", () => {
    for (const name of ["h5py_gzip_shuffle.h5", "h5py_bitshuffle_lz4.h5", "h5py_missing_filter.h5"]) {
      expect(fs.statSync(fixture(name)).size).toBeLessThan(50 * 1024);
    }
  });

  it("(a) uint16, gzip + shuffle, raster maps, attributes in /metadata: values equal the formulas", async () => {
    const file = fixture("h5py_gzip_shuffle.h5");
    const r = await ScanReader.open(file);
    try {
      expect(r.diffraction.filters.map((f) => f.id).sort((a, b) => a - b)).toEqual([1, 2]);
      expect([r.npos, r.frameSize, r.dtype]).toEqual([NPOS, N, "uint16"]);
      const all = r.readFrames(0, NPOS);
      expect(all).toBeInstanceOf(Uint16Array);
      expect(Array.from(all)).toEqual(expectedFrames("uint16", 0, NPOS));
      expect(Array.from(r.readFrames(4, 2))).toEqual(expectedFrames("uint16", 4, 2));
      expect(Array.from(r.readAllFramesFloat32(undefined, 4))).toEqual(expectedFrames("uint16", 0, NPOS));

      const h = r.header();
      expect(h.npos).toBe(NPOS);
      expect(h.frameSize).toBe(N);
      expect(Array.from(h.positions)).toEqual(expectedPositions());
      expect(h.metadata).toEqual({
        energy_keV: 8, detector_distance_m: 1.5, detector_pixel_size_m: 75e-6, sample: "h5py-fixture-a", beamline: "synthetic",
      });
      expect(h.xrf.raster).toEqual([2, 3]);
      expect(Object.keys(h.xrf.maps).sort()).toEqual(["Ca", "Fe"]);
      for (const el of ["Ca", "Fe"]) expect(Array.from(h.xrf.maps[el])).toEqual(expectedMap(el));
      expect([...h.xrf.elements].sort((a, b) => a.symbol.localeCompare(b.symbol))).toEqual([
        { symbol: "Ca", sensitivity: 0.75, beta: 0.5e-9 },
        { symbol: "Fe", sensitivity: 2, beta: 1.25e-9, delta: 3.5e-8 },
      ]);
      expect(h.xrf.spectra).toBeUndefined();
      expect(h.probeGuess?.modes).toBe(1);
      expect(h.probeGuess?.n).toBe(N);
      expect(Array.from(h.probeGuess!.data)).toEqual(expectedProbe());
    } finally {
      r.close();
    }
    const before = sha256(file);
    const report = await validateScan(file);
    expect(report.errors).toEqual([]);
    expect(report.warnings).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.read.framesChecked).toEqual([0, 1, 2, 3, 4, 5]);
    expect(sha256(file)).toBe(before);
  });

  it("(b) uint32, bitshuffle + LZ4 (Eiger), per-position maps, attributes on the root: values equal the formulas", async () => {
    const file = fixture("h5py_bitshuffle_lz4.h5");
    const r = await ScanReader.open(file);
    try {
      expect(r.diffraction.filters.map((f) => f.id)).toEqual([32008]);
      expect([r.npos, r.frameSize, r.dtype]).toEqual([NPOS, N, "uint32"]);
      const all = r.readFrames(0, NPOS);
      expect(all).toBeInstanceOf(Uint32Array);
      expect(Array.from(all)).toEqual(expectedFrames("uint32", 0, NPOS));
      expect(Array.from(r.readFrames(5, 1))).toEqual(expectedFrames("uint32", 5, 1));

      const h = r.header();
      expect(Array.from(h.positions)).toEqual(expectedPositions());
      // energy_keV is a length-1 array and detector_distance_m a float32 in this file
      expect(h.metadata).toEqual({
        energy_keV: 12.4, detector_distance_m: 3, detector_pixel_size_m: 75e-6, sample: "h5py-fixture-b", beamline: "synthetic",
      });
      expect(h.xrf.raster).toBeUndefined();
      expect(Object.keys(h.xrf.maps).sort()).toEqual(["Fe", "Zn_K"]);
      for (const el of ["Fe", "Zn_K"]) expect(Array.from(h.xrf.maps[el])).toEqual(expectedMap(el));
      expect(h.xrf.elements.find((e) => e.symbol === "Zn_K")).toEqual({ symbol: "Zn_K", sensitivity: 1.25 });
      expect(h.xrf.spectra?.channels).toBe(8);
      expect(Array.from(h.xrf.spectra!.data)).toEqual(expectedSpectra());
      expect(h.probeGuess).toBeUndefined();
    } finally {
      r.close();
    }
    const report = await validateScan(file);
    expect(report.errors).toEqual([]);
    expect(report.warnings).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it("(c) a filter ptyxrf lacks (32017 SZ): one missing-filter error, and reading frames throws", async () => {
    const file = fixture("h5py_missing_filter.h5");
    const before = sha256(file);
    const report = await validateScan(file);
    expect(report.ok).toBe(false);
    expect(codesAndPaths(report.errors)).toEqual([["missing-filter", "/ptychography/diffraction"]]);
    expect(report.errors[0].found).toContain("32017");
    expect(report.errors[0].message).toContain("/ptychography/diffraction");
    expect(report.warnings).toEqual([]);

    const r = await ScanReader.open(file);
    try {
      expect(r.diffraction.filters.map((f) => f.id)).toEqual([32017]);
      // everything but the counts is readable
      const h = r.header();
      expect(Array.from(h.positions)).toEqual(expectedPositions());
      expect(Array.from(h.xrf.maps.Fe)).toEqual(expectedMap("Fe"));
      // the counts never come back as numbers
      let got: unknown = "nothing";
      expect(() => (got = r.readFrames(0, 1))).toThrow(Error);
      expect(() => (got = r.readFrames(2, 3))).toThrow(/ptychography\/diffraction/);
      expect(() => (got = r.readAllFramesFloat32())).toThrow(Error);
      expect(got).toBe("nothing");
    } finally {
      r.close();
    }
    expect(sha256(file)).toBe(before);
  });
});

// ---- ptyxrf-written files read by h5py ---------------------------------------------------------------------
const PYTHON = "/usr/bin/python3";
const DEBIAN_PLUGINS = "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins";
const pyEnv = {
  ...process.env,
  HDF5_PLUGIN_PATH: process.env.HDF5_PLUGIN_PATH ?? (fs.existsSync(DEBIAN_PLUGINS) ? DEBIAN_PLUGINS : ""),
};
const PY_PRELUDE = `
import hashlib, json, sys
import numpy as np
import h5py
try:
    import hdf5plugin  # registers bitshuffle & co. when installed
except ImportError:
    pass
`;

/** What h5py can do here: null without python3 + h5py. */
function probePython(): { bitshuffle: boolean } | null {
  try {
    const out = execFileSync(PYTHON, ["-c", `${PY_PRELUDE}\nprint(json.dumps({"bitshuffle": bool(h5py.h5z.filter_avail(32008))}))`], {
      env: pyEnv, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 20_000,
    });
    return JSON.parse(out.trim().split("\n").at(-1)!);
  } catch {
    return null;
  }
}
const python = fs.existsSync(PYTHON) ? probePython() : null;

const DESCRIBE_WITH_H5PY = `${PY_PRELUDE}
out = {"datasets": {}, "groups": [], "metadata": {}}
def visit(name, obj):
    if isinstance(obj, h5py.Dataset):
        a = np.ascontiguousarray(obj[()])
        plist = obj.id.get_create_plist()
        out["datasets"]["/" + name] = {
            "shape": list(obj.shape),
            "dtype": obj.dtype.str,
            "sha256": hashlib.sha256(a.tobytes()).hexdigest(),
            "sum": float(np.sum(a, dtype=np.float64)),
            "filters": [plist.get_filter(i)[0] for i in range(plist.get_nfilters())],
            "chunks": list(obj.chunks) if obj.chunks else None,
        }
    else:
        out["groups"].append("/" + name)
with h5py.File(sys.argv[1], "r") as f:
    f.visititems(visit)
    for k, v in f["metadata"].attrs.items():
        out["metadata"][k] = v if isinstance(v, str) else float(v)
print(json.dumps(out))
`;

interface PyDataset { shape: number[]; dtype: string; sha256: string; sum: number; filters: number[]; chunks: number[] | null }
interface PyDescription { datasets: Record<string, PyDataset>; groups: string[]; metadata: Record<string, number | string> }

function bytesOf(a: ArrayBufferView): string {
  return crypto.createHash("sha256").update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest("hex");
}
const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);

describe("ptyxrf-written scans read by h5py", () => {
  const cases: [Compression, "uint16" | "uint32" | "float32", number[]][] = [
    ["gzip", "uint16", [1]],
    ["gzip", "float32", [1]],
    ["bitshuffle-lz4", "uint32", [32008]],
    ["none", "uint32", []],
  ];
  for (const [compression, dtype, filters] of cases) {
    const needsBitshuffle = compression === "bitshuffle-lz4";
    it.skipIf(!python || (needsBitshuffle && !python.bitshuffle))(`${compression} ${dtype}: paths, shapes, dtypes and values agree`, async () => {
      const { header, frames } = smallScan({ dtype });
      const file = path.join(dir, `to-h5py-${compression}-${dtype}.h5`);
      await writeScan(file, header, frames, { compression, blockFrames: 7 });
      const got = JSON.parse(
        execFileSync(PYTHON, ["-c", DESCRIBE_WITH_H5PY, file], { env: pyEnv, encoding: "utf8", timeout: 30_000 }),
      ) as PyDescription;

      expect(got.groups.sort()).toEqual(["/metadata", "/ptychography", "/xrf", "/xrf/elemental_maps"]);
      expect(Object.keys(got.datasets).sort()).toEqual([
        "/ptychography/diffraction", "/ptychography/positions", "/xrf/elemental_maps/Fe", "/xrf/elemental_maps/Zn", "/xrf/positions",
      ]);
      const all = frames.frames(0, header.npos);
      const npDtype = { uint16: "<u2", uint32: "<u4", float32: "<f4" }[dtype];
      expect(got.datasets["/ptychography/diffraction"]).toEqual({
        shape: [20, 16, 16], dtype: npDtype, sha256: bytesOf(all), sum: sum(all), filters, chunks: [1, 16, 16],
      });
      for (const p of ["/ptychography/positions", "/xrf/positions"]) {
        expect(got.datasets[p]).toMatchObject({ shape: [20, 2], dtype: "<f8", sha256: bytesOf(header.positions) });
      }
      for (const el of ["Fe", "Zn"]) {
        expect(got.datasets[`/xrf/elemental_maps/${el}`]).toMatchObject({ shape: [4, 5], dtype: "<f4", sha256: bytesOf(header.xrf.maps[el]) });
      }
      expect(got.metadata).toEqual({ ...header.metadata });
    });
  }

  it("python with h5py is found here (informational: the tests above skip on machines without it)", () => {
    if (!python) console.warn(`${PYTHON} with h5py not found: the h5py read-back tests were skipped`);
    expect(true).toBe(true);
  });
});
