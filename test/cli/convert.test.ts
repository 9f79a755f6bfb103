/**
 * `ptyxrf convert`, and validate / info / reconstruct taking foreign layouts directly: a simulated scan
 * written as an XRF-Maps file + an Eiger master with linked data files converts to a valid scan and
 * reconstructs against the simulated truth; bad inputs exit 2 naming the file and dataset.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withNewFile, writeProbe, writeScan, writeTruth } from "../../src/scan/write.js";
import { sha256, tmpDir } from "../scan/fixtures.js";
import { BEAMLINE_MAPPING, tinyScan, writeBeamlineFile, writeEiger, writeMapsFile } from "../scan/layouts/foreign.js";
import { bin, cli } from "./run.js";

const dir = tmpDir("ptyxrf-cli-convert-");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const at = (f: string) => path.join(dir, f);
const sim = tinyScan(5);
let inputs: string[];

const adaptedTemps = () => fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith("ptyxrf-adapted-")).sort();

beforeAll(async () => {
  await writeMapsFile(at("maps.h5"), sim);
  await writeEiger(dir, "scan", sim);
  await writeTruth(at("truth.h5"), sim.truth);
  await writeBeamlineFile(at("beamline.h5"), sim);
  fs.writeFileSync(at("beamline.yaml"), BEAMLINE_MAPPING);
  inputs = [at("maps.h5"), at("scan_master.h5")];
  // a characterised beamline probe, as the simulator writes it into canonical scans
  await withNewFile(at("probe.h5"), (f) => writeProbe(f, "probe", sim.header.probeGuess!));
  fs.writeFileSync(at("probe.yaml"), "probe_guess: { file: probe.h5, path: /probe }\n");
  await writeScan(at("canonical.h5"), sim.header, sim.frames);
});

describe("ptyxrf convert", () => {
  it("converts MAPS + Eiger (installed command) to a scan that validates with zero errors", async () => {
    const hashes = [...inputs, at("scan_data_000001.h5"), at("scan_data_000002.h5")].map(sha256);
    const r = bin("convert", ...inputs, "--out", at("scan.h5"));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${at("scan.h5")}: 20 positions, 16 x 16 frames, from ${at("maps.h5")} (maps) + ${at("scan_master.h5")} (eiger)`);
    expect(r.stderr).toMatch(/note {4}.*channels skipped from \/MAPS\/XRF_Analyzed\/Fitted\/Counts_Per_Sec: Compton \(scatter\), Num_Iter/);
    const v = await cli("validate", at("scan.h5"), "--json");
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout).errors).toEqual([]);
    expect([...inputs, at("scan_data_000001.h5"), at("scan_data_000002.h5")].map(sha256)).toEqual(hashes);
  });

  it("converts a mapping-file layout", async () => {
    const r = await cli("convert", at("beamline.h5"), "--layout", "mapping", "--mapping", at("beamline.yaml"), "--out", at("mapped.h5"), "--compression", "gzip");
    expect(r.code, r.stderr).toBe(0);
    expect((await cli("validate", at("mapped.h5"))).code).toBe(0);
  });

  it("bad inputs exit 2 naming the file, the dataset, what was expected and found", async () => {
    const missing = await cli("convert", at("maps.h5"), "--out", at("x.h5"));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/ptyxrf convert: .*maps\.h5 \(maps\): scan: expected every part of a joint scan, found no diffraction frames/);
    await writeEiger(dir, "broken", sim, { missingFile: 1 });
    const link = await cli("validate", at("maps.h5"), at("broken_master.h5"));
    expect(link.code).toBe(2);
    expect(link.stderr).toContain(`${at("broken_master.h5")}: /entry/data/data_000001: expected an external link to an existing data file`);
    expect((await cli("convert", ...inputs, "--out", at("y.h5"), "--layout", "tiff")).stderr).toMatch(/--layout expects one of auto, canonical, maps, eiger, mapping/);
    expect((await cli("convert", ...inputs)).stderr).toMatch(/--out SCAN\.h5 is required/);
    expect((await cli("convert", ...inputs, "--out", at("z.h5"), "--layout", "mapping")).stderr).toMatch(/--mapping: expected a mapping file, found none/);
    expect(fs.existsSync(at("x.h5")) || fs.existsSync(at("y.h5")) || fs.existsSync(at("z.h5"))).toBe(false);
  });
});

describe("validate, info and reconstruct take the same inputs", () => {
  it("validate and info adapt in memory through a temporary file that is removed", async () => {
    const before = adaptedTemps();
    const v = await cli("validate", ...inputs);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toContain(`${inputs.join(" + ")}: valid`);
    const i = await cli("info", ...inputs, "--json");
    expect(i.code, i.stderr).toBe(0);
    const s = JSON.parse(i.stdout);
    expect(s.file).toBe(inputs.join(" + "));
    expect(s.npos).toBe(20);
    expect(s.elements.map((e: { symbol: string }) => e.symbol)).toEqual(["Fe", "Zn"]);
    expect(s.conversion.join("\n")).toMatch(/frames cropped from 24 x 28 to 16 x 16/);
    expect(adaptedTemps()).toEqual(before);
  });

  it("reconstruct runs on MAPS + Eiger (+ a probe from a mapping) as on the canonical scan, and the object error improves", async () => {
    const history = async (name: string, args: string[]) => {
      const out = at(name);
      const r = await cli("reconstruct", ...args, "--out", out, "--iterations", "12", "--truth", at("truth.h5"), "--threads", "2");
      expect(r.code, r.stderr).toBe(0);
      expect(fs.existsSync(path.join(out, "manifest.json"))).toBe(true);
      const metrics = JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8"));
      return metrics.history.map((h: { errors: { object: number } }) => h.errors.object) as number[];
    };
    const adapted = await history("run-adapted", [...inputs, "--mapping", at("probe.yaml")]);
    const canonical = await history("run-canonical", [at("canonical.h5")]);
    expect(adapted).toHaveLength(12);
    expect(adapted[11]).toBeLessThan(0.9 * adapted[0]);
    adapted.forEach((e, i) => expect(e).toBeCloseTo(canonical[i], 5));
  });
});
