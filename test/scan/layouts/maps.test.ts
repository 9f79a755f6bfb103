import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { classifyChannel } from "../../../src/scan/layouts/channels.js";
import { H5Input } from "../../../src/scan/layouts/h5input.js";
import { readMaps } from "../../../src/scan/layouts/maps.js";
import { tmpDir } from "../fixtures.js";
import { rasterOf, tinyScan, writeMapsFile, type MapsOptions } from "./foreign.js";

const dir = tmpDir("ptyxrf-maps-");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const sim = tinyScan();

async function read(name: string, o: MapsOptions = {}) {
  const file = path.join(dir, name);
  await writeMapsFile(file, sim, o);
  const input = await H5Input.open(file);
  try {
    return { file, p: readMaps(input) };
  } finally {
    input.close();
  }
}

describe("channel names", () => {
  it("maps element channels to symbol + line and skips fit by-products", () => {
    const el = (symbol: string, line: string) => ({ kind: "element", symbol, line });
    expect(classifyChannel("Fe")).toEqual(el("Fe", "K"));
    expect(classifyChannel("Zn_K")).toEqual(el("Zn", "K"));
    expect(classifyChannel("Pb_L")).toEqual(el("Pb", "L"));
    expect(classifyChannel("Ca K")).toEqual(el("Ca", "K"));
    expect(classifyChannel("Fe_Ka")).toEqual(el("Fe", "K"));
    expect(classifyChannel("Au_M")).toEqual(el("Au", "M"));
    expect(classifyChannel("Si")).toEqual(el("Si", "K"));
    expect(classifyChannel("Se")).toEqual(el("Se", "K"));
    for (const n of ["Compton", "Elastic", "Num_Iter", "Total_Fluorescence_Yield", "Sum", "s_i", "s_e", "TFY", "Background"]) {
      expect(classifyChannel(n).kind, n).toBe("skip");
    }
    for (const n of ["Xy", "fe", "Fe_Q", "Detector 3"]) expect(classifyChannel(n).kind, n).toBe("unknown");
  });
});

describe("XRF-Maps / MAPS files", () => {
  for (const version of ["v10", "v9"] as const) {
    it(`${version}: element maps, raster positions in metres, non-element channels skipped`, async () => {
      const { p } = await read(`${version}.h5`, { version, channels: ["Fe", "Compton", "Zn_K", "Num_Iter", "Sum"] });
      expect(Object.keys(p.xrf!.maps)).toEqual(["Fe", "Zn"]);
      expect(Array.from(p.xrf!.maps.Fe)).toEqual(Array.from(sim.header.xrf.maps.Fe));
      expect(Array.from(p.xrf!.maps.Zn)).toEqual(Array.from(sim.header.xrf.maps.Zn));
      expect(p.xrf!.raster).toEqual(rasterOf(sim));
      const pos = p.positions!.data;
      expect(pos.length).toBe(2 * sim.header.npos);
      pos.forEach((v, i) => expect(Math.abs(v - sim.header.positions[i])).toBeLessThan(1e-15));
      expect(p.notes.join("\n")).toMatch(/channels skipped from \/MAPS\/\S+: Compton \(scatter\), Num_Iter \(fit diagnostic\), Sum \(total\)/);
      expect(p.notes.join("\n")).toMatch(/has no units attribute: read as mm/);
      if (version === "v10") {
        expect(p.metadata.energy_keV!.value).toBe(10);
        expect(p.notes.join("\n")).toMatch(/beam energy from the PV 2xfm:DCMenergy.VAL/);
      } else {
        expect(p.metadata.energy_keV).toBeUndefined(); // /MAPS/energy is the spectrum axis there
      }
    });
  }

  it("names an element with several lines by symbol and line", async () => {
    const { p } = await read("lines.h5", { channels: ["Fe", "Pb_L", "Pb_M"] });
    expect(Object.keys(p.xrf!.maps)).toEqual(["Fe", "Pb_L", "Pb_M"]);
  });

  it("an unknown channel name is an error naming the file, dataset and name", async () => {
    const file = path.join(dir, "unknown.h5");
    await expect(read("unknown.h5", { channels: ["Fe", "Zn", "Detector 3"] })).rejects.toThrow(
      `${file}: /MAPS/XRF_Analyzed/Fitted/Channel_Names[2]: expected an element channel (Fe, Fe_K, Pb_L, "Ca K") or a known non-element channel`,
    );
    await expect(read("unknown.h5", { channels: ["Fe", "Zn", "Detector 3"] })).rejects.toThrow(/found "Detector 3" \(leave it out with xrf.skip in a mapping file\)/);
  });

  it("axes that do not match the maps are a shape mismatch", async () => {
    const [ny] = rasterOf(sim);
    await expect(read("axes.h5", { yAxisLength: ny + 1 })).rejects.toThrow(
      `/MAPS/Scan/y_axis: expected ${ny} positions (the rows of /MAPS/XRF_Analyzed/Fitted/Counts_Per_Sec), found [${ny + 1}] = ${ny + 1}`,
    );
  });
});
