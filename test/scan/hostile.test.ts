/**
 * Hostile scans (issue 17, part 1): small files that declare huge data, hold no data where they declare
 * some, or carry names meant to mislead whoever reads the messages. Each file is made here (bombs are
 * declared, never written big; the two virtual-dataset files come from test/fixtures/make_fixtures.py, as
 * h5wasm cannot write one), and each case asserts the exact problems, and for the bombs the time and
 * memory of the real `ptyxrf validate` in a child process.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatReport } from "../../src/cli/commands/validate.js";
import { ScanReader } from "../../src/scan/read.js";
import { safeText } from "../../src/scan/safeText.js";
import { hostLimits } from "../../src/scan/limits.js";
import { DEFAULT_LIMITS, validateScan, workerLimits, type ValidationLimits, type ValidationReport } from "../../src/scan/validate.js";
import { BIN } from "../cli/run.js";
import { codesAndPaths, editH5, rewriteH5, sha256, smallScan, tmpDir, writeValidScan, type DatasetSpec } from "./fixtures.js";
import { tinyScan, writeEiger } from "./layouts/foreign.js";

const dir = tmpDir("ptyxrf-hostile-");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const FIXTURES = path.resolve(import.meta.dirname, "../fixtures");
const DIFF = "/ptychography/diffraction";
const POS = "/ptychography/positions";
const PROBE = "/ptychography/probe_guess";
const XPOS = "/xrf/positions";
const MAPS = "/xrf/elemental_maps";
const SPECTRA = "/xrf/spectra";

type CodePath = [code: string, path: string];
type EditFile = Parameters<Parameters<typeof editH5>[1]>[0];
type AnyGroup = {
  create_dataset(a: Record<string, unknown>): { resize(s: number[]): void; create_attribute(n: string, v: unknown, s?: number[] | null, d?: string | null): void };
  create_soft_link(target: string, name: string): void;
  create_external_link(file: string, target: string, name: string): void;
  create_attribute(n: string, v: unknown, s?: number[] | null, d?: string | null): void;
  delete_attribute(n: string): void;
};
const group = (f: EditFile, p: string) => f.get(p) as unknown as AnyGroup;

let counter = 0;
const at = (name: string) => path.join(dir, `${++counter}-${name}`);

/** A valid small scan (20 positions, frames of 16 x 16) copied with datasets replaced or dropped. */
async function scanWith(name: string, put: Record<string, DatasetSpec>, drop: string[] = [], opts: Parameters<typeof writeValidScan>[1] = {}): Promise<string> {
  const base = at(`${name}.base.h5`);
  await writeValidScan(base, opts);
  const file = at(`${name}.h5`);
  await rewriteH5(base, file, { put, drop });
  return file;
}

/** A valid small scan edited in place. */
async function editedScan(name: string, edit: (f: EditFile) => void, opts: Parameters<typeof writeValidScan>[1] = {}): Promise<string> {
  const file = at(`${name}.h5`);
  await writeValidScan(file, opts);
  await editH5(file, edit);
  return file;
}

/** Declared, not written: a chunked dataset holding `first` in its first chunk, grown to `shape`. */
function declared(first: DatasetSpec["data"], firstShape: number[], shape: number[], dtype: string, chunks: number[], compression?: "gzip"): DatasetSpec {
  return { data: first, shape: firstShape, dtype, chunks, maxshape: shape.map(() => null), resize: shape, ...(compression ? { compression } : {}) };
}

async function validated(file: string, limits: Partial<ValidationLimits> = {}): Promise<ValidationReport> {
  const before = sha256(file);
  const r = await validateScan(file, limits);
  expect(sha256(file), "the file is not modified").toBe(before);
  for (const p of [...r.errors, ...r.warnings]) expect(p.message.startsWith(`${p.path}: expected ${p.expected}, found ${p.found}`)).toBe(true);
  return r;
}

/**
 * The real CLI (`node bin/ptyxrf.js validate FILE --json`, dist/ built by vitest's global setup) in a child
 * process, with its own peak RSS and CPU time read from process.resourceUsage() as it exits.
 */
function cliValidate(file: string): { code: number | null; report: ValidationReport; wallMs: number; maxRssBytes: number; cpuMs: number } {
  const usage = at("rusage.json");
  const preload = `data:text/javascript,${encodeURIComponent(
    'import fs from "node:fs"; process.on("exit", () => { const u = process.resourceUsage(); fs.writeFileSync(process.env.PTYXRF_TEST_RUSAGE, JSON.stringify(u)); });',
  )}`;
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["--import", preload, BIN, "validate", file, "--json"], {
    encoding: "utf8", timeout: 60_000, env: { ...process.env, PTYXRF_TEST_RUSAGE: usage }, maxBuffer: 64 << 20,
  });
  const wallMs = performance.now() - t0;
  expect(r.signal, `killed: ${r.stderr}`).toBeNull();
  const u = JSON.parse(fs.readFileSync(usage, "utf8")) as { maxRSS: number; userCPUTime: number; systemCPUTime: number };
  return { code: r.status, report: JSON.parse(r.stdout) as ValidationReport, wallMs, maxRssBytes: u.maxRSS * 1024, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 };
}

// -------------------------------------------------------------------------------------------------------

describe("shapes before data: a small file declaring huge datasets is rejected without reading them", () => {
  const positionsBomb = () =>
    scanWith("positions-bomb", {
      // 1e8 x 2 positions (1.6 GB as float64) declared; one gzip chunk of 65536 positions written
      [POS]: declared(new Float64Array(2 * 65536).map((_, i) => (i % 2) * 1e-9), [65536, 2], [100_000_000, 2], "<d", [65536, 2], "gzip"),
    });

  it("positions declared 1e8 x 2 (gzip chunks): the count rule decides, nothing of them is read", async () => {
    const file = await positionsBomb();
    expect(fs.statSync(file).size).toBeLessThan(256 * 1024);
    const r = await validated(file);
    expect(codesAndPaths(r.errors)).toEqual([["npos-mismatch", POS]]);
    expect(r.errors[0]).toMatchObject({ expected: "20 positions (as diffraction)", found: "100000000" });
    expect(r.warnings).toEqual([]);
    expect(r.read.bytesFetched).toBeLessThanOrEqual(r.read.fileBytes);
  });

  it("the real CLI rejects it in under 2 s of CPU and 300 MB of memory (it took 7-19 s and 4.8 GB)", async () => {
    const file = await positionsBomb();
    const run = cliValidate(file);
    expect(run.code).toBe(2);
    expect(codesAndPaths(run.report.errors)).toEqual([["npos-mismatch", POS]]);
    // CPU time, not wall time: the test machine is shared, and a loaded one stretches Node's start-up alone
    // past a second of wall time. The wall-time bound is generous for the same reason.
    expect(run.cpuMs).toBeLessThan(2000);
    expect(run.maxRssBytes).toBeLessThan(300e6);
    expect(run.wallMs).toBeLessThan(10_000);
  });

  it("without a diffraction count to agree with, the positions' own count is held to maxPositions", async () => {
    const file = await scanWith("positions-bomb-alone", {
      [POS]: declared(new Float64Array(2 * 1024), [1024, 2], [100_000_000, 2], "<d", [1024, 2], "gzip"),
    }, [DIFF]);
    const r = await validated(file);
    expect(codesAndPaths(r.errors)).toEqual([
      ["missing-dataset", DIFF],
      ["size-limit", POS],
      ["npos-mismatch", XPOS],
      ["npos-mismatch", `${MAPS}/Fe`],
      ["npos-mismatch", `${MAPS}/Zn`],
    ]);
    expect(r.errors[1]).toMatchObject({ expected: "at most 1000000 positions", found: "100000000" });
    expect(r.read.skipped).toBe("a size rule failed: no dataset was read");
  });

  const manyMaps = async () => {
    const file = at("many-maps.h5");
    await writeValidScan(file);
    await editH5(file, (f) => {
      const g = group(f, MAPS);
      for (let i = 0; i < 2000; i++) g.create_dataset({ name: `X${i}`, data: new Float32Array(20), shape: [20], dtype: "<f" });
    });
    return file;
  };

  it("2,002 element maps: one size-limit error, no map opened or read", async () => {
    const r = await validated(await manyMaps());
    expect(codesAndPaths(r.errors)).toEqual([["size-limit", MAPS]]);
    expect(r.errors[0]).toMatchObject({ expected: "at most 32 element maps", found: "2002" });
    expect(r.warnings).toEqual([]);
    expect(r.omitted).toEqual({ errors: 0, warnings: 0 });
    expect(r.read.skipped).toBe("a size rule failed: no dataset was read");
    expect(r.read.framesChecked).toEqual([]);
  });

  it("problems are listed up to maxProblems; the report counts the rest, and the CLI says so", async () => {
    const file = await manyMaps();
    const r = await validated(file, { maxElements: 4000 });
    expect(r.errors).toHaveLength(100); // the default maxProblems
    expect(r.errors.every((e) => e.code === "unknown-element")).toBe(true);
    expect(r.omitted).toEqual({ errors: 1900, warnings: 0 });
    expect(r.ok).toBe(false);
    const few = await validated(file, { maxElements: 4000, maxProblems: 3 });
    expect(codesAndPaths(few.errors)).toEqual([["unknown-element", `${MAPS}/X0`], ["unknown-element", `${MAPS}/X1`], ["unknown-element", `${MAPS}/X10`]]);
    expect(few.omitted).toEqual({ errors: 1997, warnings: 0 });
    const { text, problems } = formatReport(few);
    expect(problems.split("\n")).toHaveLength(4);
    expect(problems).toContain("error   ... and 1997 more error(s), not listed");
    expect(text).toContain("INVALID, 2000 error(s)");
  });

  it("a probe guess of 9 modes and spectra of 40,000 channels (declared, not written) are size errors", async () => {
    const file = await scanWith("probe-spectra", {
      [PROBE]: declared(new Float32Array(512).fill(1), [1, 16, 16, 2], [9, 16, 16, 2], "<f", [1, 16, 16, 2]),
      [SPECTRA]: declared(new Float32Array(1024), [1, 1024], [20, 40_000], "<f", [1, 1024]),
    });
    const r = await validated(file);
    expect(codesAndPaths(r.errors)).toEqual([["size-limit", PROBE], ["size-limit", SPECTRA]]);
    expect(r.errors[0]).toMatchObject({ expected: "between 1 and 8 probe modes", found: "9" });
    expect(r.errors[1]).toMatchObject({ expected: "at most 1000000 spectra of at most 32768 channels", found: "20 spectra of 40000 channels" });
  });
});

describe("capacity limits that match the worker", () => {
  it("32 TiB of uint16 frames declared in a few KB: rejected naming maxStackBytes, nothing read", async () => {
    const npos = 1_000_000;
    const file = await scanWith("frames-bomb", {
      [DIFF]: declared(new Uint16Array(256).fill(3), [1, 16, 16], [npos, 4096, 4096], "<H", [1, 16, 16]),
      [POS]: declared(new Float64Array(2 * 64), [64, 2], [npos, 2], "<d", [64, 2]),
      [XPOS]: declared(new Float64Array(2 * 64), [64, 2], [npos, 2], "<d", [64, 2]),
      [`${MAPS}/Fe`]: declared(new Float32Array(64), [64], [npos], "<f", [64]),
      [`${MAPS}/Zn`]: declared(new Float32Array(64), [64], [npos], "<f", [64]),
    });
    expect(fs.statSync(file).size).toBeLessThan(32 * 1024);
    const r = await validated(file);
    expect(codesAndPaths(r.errors)).toEqual([["capacity-limit", DIFF]]);
    expect(r.errors[0].expected).toBe("a diffraction stack of at most 8 GiB as float32 (limit maxStackBytes: the worker holds every frame in memory and each iteration goes through all of them)");
    expect(r.errors[0].found).toBe("1000000 frames of 4096 x 4096: 61 TiB");
    expect(r.read.skipped).toBe("a size rule failed: no dataset was read");
    expect(r.read.framesChecked).toEqual([]);
  });

  it("3 GiB of frames declared in a small file: rejected as not stored (no fill value is ever a count)", async () => {
    const npos = 48;
    const { header } = smallScan({ npos });
    const file = await scanWith("fill-bomb", {
      [DIFF]: declared(new Uint32Array(64 * 64).fill(5), [1, 64, 64], [npos, 4096, 4096], "<I", [1, 64, 64]),
    }, [], { npos });
    expect(fs.statSync(file).size).toBeLessThan(128 * 1024);
    expect(header.npos).toBe(npos);
    const r = await validated(file);
    expect(codesAndPaths(r.errors)).toEqual([["data-not-stored", DIFF]]);
    expect(r.errors[0].found).toBe("[48, 4096, 4096] of uint32 declared: 3 GiB");
    expect(r.errors[0].expected).toMatch(/^data stored in the file \(uncompressed, this file of [\d.]+ KiB holds at most [\d.]+ KiB\)$/);
    expect(r.read.framesChecked).toEqual([]);
  });

  it("worker memory and scratch disk: each limit named, from shapes, then with the object the positions imply", async () => {
    const file = at("valid.h5");
    await writeValidScan(file);
    expect((await validated(file)).ok).toBe(true);
    // stack 20 x 16 x 16 x 4 = 20,480 bytes, probe, maps and positions: ~24 KB from shapes alone
    const memory = await validated(file, { maxWorkerMemoryBytes: 10_000 });
    expect(codesAndPaths(memory.errors)).toEqual([["capacity-limit", "/"]]);
    expect(memory.errors[0].expected).toBe("a scan a worker can hold in 9.77 KiB of memory (limit maxWorkerMemoryBytes)");
    expect(memory.read.skipped).toBe("a size rule failed: no dataset was read");
    // ~24 KB passes from shapes; the 21 x 21-pixel object the positions imply adds ~25 KB of solver state
    const object = await validated(file, { maxWorkerMemoryBytes: 40_000 });
    expect(codesAndPaths(object.errors)).toEqual([["capacity-limit", POS]]);
    expect(object.errors[0].found).toMatch(/and the 441-pixel object the positions imply$/);
    expect(object.read.skipped).toBe("a size rule failed on the positions: nothing after them was read");
    expect(object.read.framesChecked).toEqual([]);
    const scratch = await validated(file, { maxScratchBytes: 1000 });
    expect(codesAndPaths(scratch.errors)).toEqual([["capacity-limit", "/"]]);
    expect(scratch.errors[0].expected).toBe("a scan and outputs that fit the worker's 1000 bytes of scratch disk (limit maxScratchBytes)");
  });
});

describe("limits for this machine (reconstruct, compare) and for a worker of another size", () => {
  it("hostLimits raises memory and stack limits to the host's memory, never below the cloud defaults", () => {
    expect(hostLimits(64 * 2 ** 30)).toEqual({ maxWorkerMemoryBytes: 48 * 2 ** 30, maxStackBytes: 32 * 2 ** 30, maxScratchBytes: Infinity });
    expect(hostLimits(4 * 2 ** 30)).toEqual({ maxWorkerMemoryBytes: DEFAULT_LIMITS.maxWorkerMemoryBytes, maxStackBytes: DEFAULT_LIMITS.maxStackBytes, maxScratchBytes: Infinity });
  });

  it("the defaults are those of the cloud worker (14 GiB job memory, 100 GiB volume): 12 GiB and 64 GiB", () => {
    expect(workerLimits(14_336, 100)).toEqual({ maxWorkerMemoryBytes: 12 * 2 ** 30, maxScratchBytes: 64 * 2 ** 30 });
    expect(DEFAULT_LIMITS).toMatchObject({ maxWorkerMemoryBytes: 12 * 2 ** 30, maxScratchBytes: 64 * 2 ** 30, maxStackBytes: 8 * 2 ** 30, maxElements: 32, maxProblems: 100 });
  });
});

describe("data the file does not hold are errors, never numbers", () => {
  it("a virtual dataset whose frames live in another file (validate passed it, and runs used the fill value)", async () => {
    const r = await validated(path.join(FIXTURES, "h5py_vds_external.h5"));
    expect(codesAndPaths(r.errors)).toEqual([["virtual-dataset", DIFF]]);
    expect(r.errors[0]).toMatchObject({
      expected: "data stored in this file",
      found: 'a virtual dataset mapped from 1 source, 1 in other files (first: "h5py_vds_source.h5:/frames")',
    });
    expect(r.errors[0].message).toContain("files beside an upload are never read");
    expect(r.read.framesChecked).toEqual([]);
  });

  it("a virtual dataset mapping only part of its frames from the same file", async () => {
    const r = await validated(path.join(FIXTURES, "h5py_vds_same_file.h5"));
    expect(codesAndPaths(r.errors)).toEqual([["virtual-dataset", DIFF]]);
    expect(r.errors[0].found).toBe("a virtual dataset mapped from 1 source (first: /ptychography/raw in this file)");
  });

  it("frames 10-19 of 20 never written (chunks not allocated): the sampled ones are named", async () => {
    const file = await scanWith("half-written", {
      [DIFF]: declared(new Uint32Array(10 * 256).fill(4), [10, 16, 16], [20, 16, 16], "<I", [1, 16, 16]),
    });
    const r = await validated(file);
    expect(codesAndPaths(r.errors)).toEqual([["data-not-stored", DIFF]]);
    expect(r.errors[0]).toMatchObject({
      expected: "data stored in the file (checked frames 0, 3, 5, 8, 11, 14, 16, 19)",
      found: "frames 11, 14, 16, 19 never written: HDF5 answers every value with the fill value 0",
    });
    expect(r.warnings).toEqual([]); // not "all-zero frames": they are not frames at all
  });

  it("a gzip-chunked diffraction with no chunk written at all", async () => {
    const file = await scanWith("no-chunks", {
      [DIFF]: declared(new Uint32Array(0), [0, 16, 16], [20, 16, 16], "<I", [1, 16, 16], "gzip"),
    });
    const r = await validated(file);
    expect(codesAndPaths(r.errors)).toEqual([["data-not-stored", DIFF]]);
    expect(r.errors[0].found).toBe("frames 0, 3, 5, 8, 11, ... (8 in all) never written: HDF5 answers every value with the fill value 0");
  });

  it("an element map declared but never written", async () => {
    const file = await scanWith("map-not-written", {
      [`${MAPS}/Zn`]: declared(new Float32Array(0), [0], [20], "<f", [8]),
    }, [], { raster: false });
    const r = await validated(file);
    expect(codesAndPaths(r.errors)).toEqual([["data-not-stored", `${MAPS}/Zn`]]);
    expect(r.errors[0].found).toBe("the map never written: HDF5 answers every value with the fill value 0");
  });

  it("a map of zeros that is stored is data, not an error", async () => {
    const file = await scanWith("map-zeros", { [`${MAPS}/Zn`]: { data: new Float32Array(20), shape: [20], dtype: "<f" } }, [], { raster: false });
    const r = await validated(file);
    expect(r.errors).toEqual([]);
  });
});

describe("attributes, counts and dtypes", () => {
  it("matrix_beta an array, matrix_delta NaN", async () => {
    const file = await editedScan("matrix", (f) => {
      const m = group(f, "/metadata");
      m.delete_attribute("matrix_beta");
      m.create_attribute("matrix_beta", new Float64Array([1e-9, 2e-9]), [2], "<d");
      m.delete_attribute("matrix_delta");
      m.create_attribute("matrix_delta", NaN, null, "<d");
    });
    const r = await validated(file);
    expect(codesAndPaths(r.errors)).toEqual([["bad-attribute", "/metadata@matrix_beta"], ["bad-attribute", "/metadata@matrix_delta"]]);
    expect(r.errors.map((e) => e.found)).toEqual(["an array of 2 values", "NaN"]);
  });

  it("per-element attributes: a string, an array, an infinity (today silently dropped: defaults invented)", async () => {
    const file = await editedScan("element-attrs", (f) => {
      const fe = group(f, `${MAPS}/Fe`);
      fe.delete_attribute("sensitivity");
      fe.create_attribute("sensitivity", "2");
      fe.delete_attribute("beta");
      fe.create_attribute("beta", new Float64Array([1, 2, 3]), [3], "<d");
      group(f, `${MAPS}/Zn`).create_attribute("delta", Infinity, null, "<d");
    });
    const r = await validated(file);
    expect(codesAndPaths(r.errors)).toEqual([
      ["bad-attribute", `${MAPS}/Fe@sensitivity`],
      ["bad-attribute", `${MAPS}/Fe@beta`],
      ["bad-attribute", `${MAPS}/Zn@delta`],
    ]);
    expect(r.errors.map((e) => e.found)).toEqual(['the string "2"', "an array of 3 values", "Infinity"]);
  });

  it("energy_keV given as an array of two numbers is named as such (not \"a object\")", async () => {
    const file = await editedScan("energy-array", (f) => {
      const m = group(f, "/metadata");
      m.delete_attribute("energy_keV");
      m.create_attribute("energy_keV", new Float64Array([10, 12]), [2], "<d");
    });
    const r = await validated(file);
    expect(codesAndPaths(r.errors)).toEqual([["bad-attribute", "/metadata@energy_keV"]]);
    expect(r.errors[0]).toMatchObject({ expected: "a scalar number in keV", found: "an array of 2 values" });
  });

  it("a scan with one position is an error, not a reconstruction", async () => {
    const file = at("one.h5");
    await writeValidScan(file, { npos: 1 });
    const r = await validated(file);
    expect(codesAndPaths(r.errors)).toEqual([["too-few-positions", DIFF]]);
    expect(r.errors[0]).toMatchObject({ expected: "at least 2 positions (ptychography needs overlapping views)", found: "1 position" });
  });

  it("int64 positions are read as numbers (nanometres here: out of range), never 'Cannot convert a BigInt'", async () => {
    const nm = BigInt64Array.from(smallScan().header.positions, (v) => BigInt(Math.round(v * 1e9)));
    const spec: DatasetSpec = { data: nm, shape: [20, 2], dtype: "<q" };
    const file = await scanWith("int64-positions", { [POS]: spec, [XPOS]: spec });
    const r = await validated(file);
    expect(codesAndPaths(r.errors)).toEqual([["position-range", POS], ["size-limit", POS]]);
    expect(r.errors[0].found).toBe("larger values at positions 0, 1, 2, 3, 4, ... (19 in all)");
    expect(JSON.stringify(r)).not.toMatch(/BigInt/);
  });

  it("int64 element maps are read, by the validator and the reader", async () => {
    const fe = BigInt64Array.from({ length: 20 }, (_, i) => BigInt(3 * i));
    const file = await scanWith("int64-maps", { [`${MAPS}/Fe`]: { data: fe, shape: [20], dtype: "<q" } }, [], { raster: false });
    expect((await validated(file)).errors).toEqual([]);
    const reader = await ScanReader.open(file);
    try {
      expect(Array.from(reader.header().xrf.maps.Fe)).toEqual(Array.from({ length: 20 }, (_, i) => 3 * i));
    } finally {
      reader.close();
    }
  });

  it("a probe guess with a NaN, and one of zeros", async () => {
    const nan = new Float32Array(512).fill(0.5);
    nan[7] = NaN;
    const r1 = await validated(await scanWith("probe-nan", { [PROBE]: { data: nan, shape: [1, 16, 16, 2], dtype: "<f" } }));
    expect(codesAndPaths(r1.errors)).toEqual([["non-finite-probe", PROBE]]);
    expect(r1.errors[0].found).toBe("1 NaN or infinite value");
    const r2 = await validated(await scanWith("probe-zero", { [PROBE]: { data: new Float32Array(512), shape: [1, 16, 16, 2], dtype: "<f" } }));
    expect(codesAndPaths(r2.errors)).toEqual([["empty-probe", PROBE]]);
  });
});

describe("messages: plain words, and names from the file escaped", () => {
  it("control characters and bidi overrides in names are escaped; links are described, not 'a other'", async () => {
    const evil = "Fe\u202Egnp.exe\u001b[2J\u2066";
    const file = await scanWith("names", {}, [XPOS], { raster: false });
    await editH5(file, (f) => {
      const g = group(f, MAPS);
      g.create_dataset({ name: evil, data: new Float32Array(20), shape: [20], dtype: "<f" });
      g.create_soft_link("/nowhere\u0007", "Co");
      g.create_soft_link(`${MAPS}/Ni`, "Ni");
      group(f, "/xrf").create_external_link("\u202Eevil.h5", "/x\n", "positions");
    });
    const r = await validated(file);
    expect(codesAndPaths(r.errors)).toEqual([
      ["wrong-kind", XPOS],
      ["wrong-kind", `${MAPS}/Co`],
      ["unknown-element", `${MAPS}/Fe\\u202egnp.exe\\u001b[2J\\u2066`],
      ["wrong-kind", `${MAPS}/Ni`],
    ]);
    expect(r.errors.map((e) => e.found)).toEqual([
      'an external link to "\\u202eevil.h5:/x\\u000a" (data outside this file are never read)',
      'a soft link to "/nowhere\\u0007", which does not exist',
      '"Fe\\u202egnp.exe\\u001b[2J\\u2066"',
      "a loop of soft links",
    ]);
    const text = JSON.stringify(r) + formatReport(r).problems + formatReport(r).text;
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\u202a-\u202e\u2066-\u2069]/);
  });

  it("safeText escapes what could mislead and keeps everything else", () => {
    expect(safeText("Fe_K")).toBe("Fe_K");
    expect(safeText("µm Zn–Fe Å")).toBe("µm Zn–Fe Å");
    expect(safeText("a\nb\r\tc\u0000")).toBe("a\\u000ab\\u000d\\u0009c\\u0000");
    expect(safeText("\u202Axx\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069\u200E\u200F\u061C")).toBe(
      "\\u202axx\\u202b\\u202c\\u202d\\u202e\\u2066\\u2067\\u2068\\u2069\\u200e\\u200f\\u061c",
    );
    expect(safeText("\u0085\u009b\u2028\u2029\ufeff\u200b")).toBe("\\u0085\\u009b\\u2028\\u2029\\ufeff\\u200b");
    expect(safeText("\ud800x")).toBe("\\ud800x"); // an unpaired surrogate
    expect(safeText("😀")).toBe("😀");
    expect(safeText("x".repeat(300), 10)).toBe("xxxxxxxxxx... (300 characters in all)");
  });
});

describe("Eiger masters given locally follow links only to regular files beside them", () => {
  const sim = tinyScan();
  const eigerDir = path.join(dir, "eiger");
  fs.mkdirSync(eigerDir, { recursive: true });

  function validateChild(...args: string[]): { code: number | null; stderr: string; ms: number } {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [BIN, "validate", ...args], { encoding: "utf8", timeout: 10_000 });
    expect(r.signal, "the command must not hang").toBeNull();
    return { code: r.status, stderr: r.stderr, ms: performance.now() - t0 };
  }

  it("a data file that is a FIFO is refused at once (validate hung on it)", async () => {
    const master = await writeEiger(eigerDir, "fifo", sim, { missingFile: 2 });
    const fifo = path.join(eigerDir, "fifo_data_000002.h5");
    execFileSync("mkfifo", [fifo]);
    const r = validateChild(master);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${master}: /entry/data/data_000002: expected an external link to a regular data file beside the master, found a link to "fifo_data_000002.h5:/entry/data/data", and ${fifo} is a named pipe (FIFO)`);
    expect(r.ms).toBeLessThan(10_000);
  });

  it("links to a file elsewhere or to a device are refused", async () => {
    for (const [name, target] of [["up", "../outside_data.h5"], ["dev", "/dev/zero"]] as const) {
      const master = await writeEiger(eigerDir, name, sim);
      await editH5(master, (f) => group(f, "/entry/data").create_external_link(target, "/entry/data/data", "data_000003"));
      const r = validateChild(master);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`${master}: /entry/data/data_000003: expected an external link to a data file beside the master (in ${eigerDir}), found a link to "${target}:/entry/data/data", which is elsewhere (${path.resolve(eigerDir, target)})`);
    }
  });

  it("a FIFO given as the scan itself is refused at once", () => {
    const fifo = path.join(eigerDir, "scan.h5");
    execFileSync("mkfifo", [fifo]);
    const r = validateChild(fifo);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("expected a regular file, found a named pipe (FIFO)");
  });
});
