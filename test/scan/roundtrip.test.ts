import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ScanReader } from "../../src/scan/read.js";
import { validateScan } from "../../src/scan/validate.js";
import { writeScan, type Compression } from "../../src/scan/write.js";
import { smallScan, tmpDir } from "./fixtures.js";

const dir = tmpDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("scan write/read round trip", () => {
  for (const compression of ["none", "gzip", "bitshuffle-lz4"] as Compression[]) {
    for (const dtype of ["uint16", "uint32", "float32"] as const) {
      it(`${compression} ${dtype}: frames, positions, maps and attributes read back equal`, async () => {
        const { header, frames } = smallScan({ dtype });
        const file = path.join(dir, `rt-${compression}-${dtype}.h5`);
        await writeScan(file, header, frames, { compression, blockFrames: 3 });
        expect(fs.existsSync(`${file}.partial`)).toBe(false);
        const r = await ScanReader.open(file);
        try {
          expect(r.npos).toBe(header.npos);
          expect(r.frameSize).toBe(16);
          expect(r.dtype).toBe(dtype);
          const got = r.readFrames(5, 4);
          expect(got.constructor.name).toBe(frames.frames(0, 1).constructor.name);
          expect(Array.from(got)).toEqual(Array.from(frames.frames(5, 4)));
          const all = r.readAllFramesFloat32(undefined, 7);
          expect(Array.from(all.subarray(0, 16 * 16))).toEqual(Array.from(frames.frames(0, 1)));
          const h = r.header();
          expect(Array.from(h.positions)).toEqual(Array.from(header.positions));
          expect(h.xrf.raster).toEqual([4, 5]);
          expect(Array.from(h.xrf.maps.Fe)).toEqual(Array.from(header.xrf.maps.Fe));
          expect(h.xrf.elements.find((e) => e.symbol === "Fe")).toEqual({ symbol: "Fe", sensitivity: 2, beta: 1e-9, delta: 3e-8 });
          expect(h.metadata).toMatchObject({ energy_keV: 10, detector_distance_m: 2, detector_pixel_size_m: 75e-6, sample: "fixture" });
          if (compression !== "none") {
            const ids = r.diffraction.filters.map((f) => f.id);
            expect(ids).toContain(compression === "gzip" ? 1 : 32008);
          }
        } finally {
          r.close();
        }
        const report = await validateScan(file);
        expect(report.errors).toEqual([]);
        expect(report.ok).toBe(true);
      });
    }
  }

  it("per-position XRF maps ([Npos]) are accepted", async () => {
    const { header, frames } = smallScan({ raster: false });
    const file = path.join(dir, "vec.h5");
    await writeScan(file, header, frames);
    const r = await ScanReader.open(file);
    expect(r.header().xrf.raster).toBeUndefined();
    r.close();
    expect((await validateScan(file)).ok).toBe(true);
  });
});
