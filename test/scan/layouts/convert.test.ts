/**
 * Round trips through the adapters: a simulated scan written as MAPS + Eiger, or as a beamline file with a
 * mapping, converts to the canonical scan the simulator writes (positions, maps, frames, metadata), and
 * the inputs are left untouched. Merge errors name the files and what disagrees or is missing.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertScan } from "../../../src/scan/layouts/adapt.js";
import { ScanReader } from "../../../src/scan/read.js";
import { validateScan } from "../../../src/scan/validate.js";
import { writeScan } from "../../../src/scan/write.js";
import { sha256, tmpDir } from "../fixtures.js";
import { BEAMLINE_MAPPING, tinyScan, writeBeamlineFile, writeEiger, writeMapsFile } from "./foreign.js";

const dir = tmpDir("ptyxrf-convert-");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const sim = tinyScan();
const at = (f: string) => path.join(dir, f);
let canonical: ScanReader;

beforeAll(async () => {
  const { probeGuess: _omit, ...header } = sim.header;
  await writeScan(at("canonical.h5"), header, sim.frames);
  canonical = await ScanReader.open(at("canonical.h5"));
  await writeMapsFile(at("maps.h5"), sim);
  await writeEiger(dir, "scan", sim, { framesPerFile: 7 });
  await writeBeamlineFile(at("beamline.h5"), sim);
  fs.writeFileSync(at("beamline.yaml"), BEAMLINE_MAPPING);
});
afterAll(() => canonical?.close());

async function expectEqualToCanonical(file: string, positionTolerance: number): Promise<void> {
  const r = await ScanReader.open(file);
  try {
    const a = r.header(), b = canonical.header();
    expect(a.npos).toBe(b.npos);
    expect(a.frameSize).toBe(b.frameSize);
    expect(a.xrf.raster).toEqual(b.xrf.raster);
    a.positions.forEach((v, i) => expect(Math.abs(v - b.positions[i])).toBeLessThanOrEqual(positionTolerance));
    expect(Object.keys(a.xrf.maps)).toEqual(Object.keys(b.xrf.maps));
    for (const el of Object.keys(b.xrf.maps)) expect(Array.from(a.xrf.maps[el])).toEqual(Array.from(b.xrf.maps[el]));
    expect(r.dtype).toBe(canonical.dtype);
    expect(Array.from(r.readFrames(0, a.npos))).toEqual(Array.from(canonical.readFrames(0, b.npos)));
    for (const k of ["energy_keV", "detector_distance_m", "detector_pixel_size_m"] as const) expect(a.metadata[k]).toBeCloseTo(b.metadata[k], 12);
  } finally {
    r.close();
  }
}

describe("convert", () => {
  it("MAPS + Eiger (auto-detected) converts to the canonical scan and validates with no errors; inputs untouched", async () => {
    const inputs = [at("maps.h5"), at("scan_master.h5"), at("scan_data_000001.h5"), at("scan_data_000003.h5")];
    const before = inputs.map(sha256);
    const r = await convertScan([at("maps.h5"), at("scan_master.h5")], at("out1.h5"));
    expect(r.layouts).toEqual(["maps", "eiger"]);
    expect(r.notes.join("\n")).toMatch(/20 frames from 3 data files/);
    await expectEqualToCanonical(at("out1.h5"), 1e-15);
    const report = await validateScan(at("out1.h5"));
    expect(report.errors).toEqual([]);
    expect(inputs.map(sha256)).toEqual(before);
    expect(fs.existsSync(at("out1.h5.partial"))).toBe(false);
  });

  it("a mapping-file layout with transposed positions in mm converts equal to the canonical scan", async () => {
    const r = await convertScan([at("beamline.h5")], at("out2.h5"), { layout: "mapping", mapping: at("beamline.yaml") });
    expect(r.notes.join("\n")).toMatch(/XRF maps transposed from 5 x 4 to 4 x 5/);
    await expectEqualToCanonical(at("out2.h5"), 1e-15);
    expect((await validateScan(at("out2.h5"))).errors).toEqual([]);
  });

  it("a mapping supplies what the inputs lack and overrides them", async () => {
    const mapping = at("energy.yaml");
    fs.writeFileSync(mapping, "metadata:\n  wavelength: { value: 1.2398419843320026, units: A }\n  sample: cells\n");
    await convertScan([at("maps.h5"), at("scan_master.h5")], at("out3.h5"), { mapping });
    const r = await ScanReader.open(at("out3.h5"));
    expect(r.metadata().energy_keV).toBeCloseTo(10, 12);
    expect(r.metadata().sample).toBe("cells");
    r.close();
  });

  it("a mapping can re-read MAPS fitted maps as a stack to give element coefficients", async () => {
    const mapping = at("coefficients.yaml");
    fs.writeFileSync(mapping, [
      "xrf:", "  file: maps.h5",
      "  stack: { path: /MAPS/XRF_Analyzed/Fitted/Counts_Per_Sec, names: /MAPS/XRF_Analyzed/Fitted/Channel_Names }",
      "  elements: { Fe: { sensitivity: 2, beta: 1e-9, delta: 3e-8 }, Zn: { sensitivity: 1.5, beta: 2e-9, delta: 4e-8 } }", "",
    ].join("\n"));
    await convertScan([at("maps.h5"), at("scan_master.h5")], at("out4.h5"), { mapping });
    const r = await ScanReader.open(at("out4.h5"));
    const h = r.header();
    r.close();
    expect(h.xrf.elements).toEqual([{ symbol: "Fe", sensitivity: 2, beta: 1e-9, delta: 3e-8 }, { symbol: "Zn", sensitivity: 1.5, beta: 2e-9, delta: 4e-8 }]);
    expect(Array.from(h.xrf.maps.Zn)).toEqual(Array.from(sim.header.xrf.maps.Zn));
  });

  it("never writes over an input", async () => {
    await expect(convertScan([at("maps.h5"), at("scan_master.h5")], at("maps.h5"))).rejects.toThrow(/--out: expected a new file \(inputs are never overwritten\)/);
  });

  it("missing parts are named, with how to supply them", async () => {
    await expect(convertScan([at("maps.h5")], at("x.h5"))).rejects.toThrow(
      /maps\.h5 \(maps\): scan: expected every part of a joint scan, found no diffraction frames \(diffraction:\), no the detector distance .*, no the detector pixel size .* \(supply them with --mapping FILE/,
    );
  });

  it("frames and positions that disagree in number are a shape mismatch naming both sources", async () => {
    const other = tinyScan(4);
    await writeEiger(dir, "short", { ...other, header: { ...other.header, npos: 15 }, frames: { dtype: "uint32", frames: (s, c) => other.frames.frames(s, c) } });
    await expect(convertScan([at("maps.h5"), at("short_master.h5")], at("y.h5"))).rejects.toThrow(
      /maps\.h5:\/MAPS\/Scan\/y_axis x \/MAPS\/Scan\/x_axis: positions: expected 15 positions \(one per frame of .*short_master\.h5:\/entry\/data\), found 20/,
    );
  });

  it("two inputs that disagree on a value are an error naming both", async () => {
    const mapsOnly = at("maps-energy.h5");
    await writeMapsFile(mapsOnly, { ...sim, config: { ...sim.config, energy_keV: 12 } });
    await expect(convertScan([mapsOnly, at("scan_master.h5")], at("z.h5"))).rejects.toThrow(
      /scan_master\.h5:\/entry\/instrument\/beam\/incident_wavelength: energy_keV: expected 12 \(as .*maps-energy\.h5:\/MAPS\/Scan\/Extra_PVs\/Values\[0\]\), found 10[.\d]* \(set metadata\.energy in a mapping file to choose\)/,
    );
  });

  it("an input of no known layout is named, with the top-level groups found", async () => {
    await expect(convertScan([at("beamline.h5")], at("w.h5"))).rejects.toThrow(/beamline\.h5: \/: expected a known layout: .*, found \/fluo, \/scan \(describe it with --layout mapping --mapping FILE/);
  });

  it("mapping mistakes name the mapping key", async () => {
    const bad = at("bad.yaml");
    fs.writeFileSync(bad, BEAMLINE_MAPPING.replace("units: mm", "units: inch"));
    await expect(convertScan([at("beamline.h5")], at("v.h5"), { layout: "mapping", mapping: bad })).rejects.toThrow(/bad\.yaml: positions\.units: expected one of m, mm, um, nm, A, found "inch"/);
    fs.writeFileSync(bad, BEAMLINE_MAPPING.replace("diffraction:", "difraction:"));
    await expect(convertScan([at("beamline.h5")], at("v.h5"), { layout: "mapping", mapping: bad })).rejects.toThrow(/bad\.yaml: difraction: expected one of the keys version, files, diffraction/);
    fs.writeFileSync(bad, BEAMLINE_MAPPING.replace("transpose: true      # stored", "transpose: false      # stored"));
    await expect(convertScan([at("beamline.h5")], at("v.h5"), { layout: "mapping", mapping: bad })).rejects.toThrow(/beamline\.h5: \/scan\/pos: expected \[Npos, 2\] positions, found \[2, 20\] \(set positions\.transpose: true\)/);
  });
});
