import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readEiger } from "../../../src/scan/layouts/eiger.js";
import { cropWindow } from "../../../src/scan/layouts/frames.js";
import { H5Input } from "../../../src/scan/layouts/h5input.js";
import { LayoutError } from "../../../src/scan/layouts/partial.js";
import { sha256, tmpDir } from "../fixtures.js";
import { tinyScan, writeEiger } from "./foreign.js";

const dir = tmpDir("ptyxrf-eiger-");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const sim = tinyScan();

async function read(master: string, frameSize?: number) {
  const input = await H5Input.open(master);
  try {
    const p = await readEiger(input, frameSize ? { frameSize } : {});
    return { p, input };
  } catch (err) {
    input.close();
    throw err;
  }
}

describe("Eiger master + external-linked data files", () => {
  it("reads the frames of two data files in order, cropped around the beam centre, equal to the source", async () => {
    const master = await writeEiger(dir, "two", sim, { framesPerFile: 12 }); // 20 frames: 12 + 8
    const before = sha256(master);
    const { p, input } = await read(master);
    try {
      expect(p.ptycho!.npos).toBe(20);
      expect(p.ptycho!.frameSize).toBe(16);
      expect(p.ptycho!.frames.dtype).toBe("uint32");
      // a block spanning the two files, and the whole stack
      expect(Array.from(p.ptycho!.frames.frames(10, 4))).toEqual(Array.from(sim.frames.frames(10, 4)));
      expect(Array.from(p.ptycho!.frames.frames(0, 20))).toEqual(Array.from(sim.frames.frames(0, 20)));
      expect(p.metadata.energy_keV!.value).toBeCloseTo(10, 10);
      expect(p.metadata.detector_distance_m!.value).toBeCloseTo(2, 12); // written in mm
      expect(p.metadata.detector_pixel_size_m!.value).toBe(75e-6);
      expect(p.notes.join("\n")).toMatch(/20 frames from 2 data files/);
      expect(p.notes.join("\n")).toMatch(/cropped from 24 x 28 to 16 x 16 at \(y 3, x 7\)/);
    } finally {
      p.close();
      input.close();
    }
    expect(sha256(master)).toBe(before);
  });

  it("a missing data file names the master, the link and the file it points to", async () => {
    const master = await writeEiger(dir, "gone", sim, { missingFile: 2 });
    const err = await read(master).catch((e) => e);
    expect(err).toBeInstanceOf(LayoutError);
    expect(err.message).toContain(`${master}: /entry/data/data_000002: expected an external link to an existing data file`);
    expect(err.message).toContain(`gone_data_000002.h5:/entry/data/data`);
    expect(err.message).toContain(path.join(dir, "gone_data_000002.h5"));
  });

  it("a frame size that does not fit around the beam centre is refused; one that fits is used", async () => {
    const master = await writeEiger(dir, "crop", sim);
    await expect(read(master, 32)).rejects.toThrow(/expected room for a 32 x 32 window around the beam centre \(y 11, x 15\) of 24 x 28 frames, found room for at most 22/);
    const { p, input } = await read(master, 16);
    expect(p.ptycho!.frameSize).toBe(16);
    p.close();
    input.close();
  });
});

describe("crop window", () => {
  it("takes the largest power of two that fits around the centre", () => {
    const where = { file: "f", path: "/d" };
    expect(cropWindow(100, 120, [50, 60], undefined, where)).toMatchObject({ size: 64, y0: 18, x0: 28 });
    expect(cropWindow(100, 120, [20.4, 60], undefined, where)).toMatchObject({ size: 32, y0: 4, x0: 44 });
    expect(cropWindow(64, 64, undefined, undefined, where)).toMatchObject({ size: 64, y0: 0, x0: 0, defaultCentre: true });
    expect(() => cropWindow(64, 64, [60, 32], undefined, where)).toThrow(/room for a window of at least 16 x 16/);
    expect(() => cropWindow(64, 64, undefined, 24, where)).toThrow(/a frame size that is a power of two >= 16, found 24/);
  });
});
