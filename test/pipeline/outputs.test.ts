import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PNG } from "pngjs";
import h5wasm from "h5wasm/node";
import { runReconstruction, InvalidScanError } from "../../src/pipeline/reconstructRun.js";
import { MANIFEST } from "../../src/pipeline/outputs.js";
import { simulate } from "../../src/sim/simulate.js";
import { writer } from "../../src/scan/h5runtime.js";
import { writeScan, writeTruth } from "../../src/scan/write.js";
import { tmpDir } from "../scan/fixtures.js";

const dir = tmpDir();
const scanPath = path.join(dir, "scan.h5"), truthPath = path.join(dir, "truth.h5");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  const sim = simulate({ preset: "small", seed: 4 });
  await writeScan(scanPath, sim.header, sim.frames);
  await writeTruth(truthPath, sim.truth);
});

describe("runReconstruction outputs", () => {
  it("writes result.h5, metrics.json, previews and the manifest, with errors against the truth", async () => {
    const out = path.join(dir, "joint");
    const seen: number[] = [];
    const { metrics, files } = await runReconstruction({
      scanPath, truthPath, outDir: out, config: { iterations: 12, threads: 2 }, onIteration: (r) => seen.push(r.iteration),
    });
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(files[files.length - 1]).toBe(MANIFEST);
    expect(files).toEqual(expect.arrayContaining(["result.h5", "metrics.json", "phase.png", "amplitude.png", "element_Fe.png", "overlay_Zn.png"]));

    const m = JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8"));
    expect(m).toMatchObject({ engine: "cpu", device: "cpu: 2 threads", mode: "joint", iterations: 12 });
    expect(m.wall_s).toBeGreaterThan(0);
    expect(m.final.object_rel_error).toBeGreaterThan(0);
    expect(m.final.object_rel_error).toBeLessThan(1);
    expect(Object.keys(m.final.element_rel_error).sort()).toEqual(["Fe", "Zn"]);
    expect(m.history).toHaveLength(12);
    expect(m.history[11].errors.object).toBeCloseTo(m.final.object_rel_error, 6);
    expect(m.history[0].losses.ptycho).toBeGreaterThan(m.history[11].losses.ptycho);
    expect(metrics.final).toEqual(m.final);

    await writer();
    const f = new h5wasm.File(path.join(out, "result.h5"), "r");
    try {
      const phase = f.get("reconstructed/phase") as InstanceType<typeof h5wasm.Dataset>;
      const [H, W] = phase.shape!;
      expect(H).toBe(64);
      expect((f.get("reconstructed/amplitude") as InstanceType<typeof h5wasm.Dataset>).shape).toEqual([H, W]);
      expect((f.get("reconstructed/object") as InstanceType<typeof h5wasm.Dataset>).shape).toEqual([H, W, 2]);
      expect((f.get("reconstructed/probe") as InstanceType<typeof h5wasm.Dataset>).shape).toEqual([1, 32, 32, 2]);
      expect((f.get("reconstructed/elemental_maps/Fe") as InstanceType<typeof h5wasm.Dataset>).shape).toEqual([H, W]);
      const px = (f.get("reconstructed/pixel_size") as InstanceType<typeof h5wasm.Dataset>).value as Float64Array;
      expect(px[0] ?? px).toBeCloseTo(((12.398419843320026e-10 / 10) * 2) / (32 * 75e-6), 15);
      expect(JSON.parse(f.attrs.config.value as string).iterations).toBe(12);
      expect(f.attrs.mode.value).toBe("joint");
    } finally {
      f.close();
    }

    const png = PNG.sync.read(fs.readFileSync(path.join(out, "overlay_Fe.png")));
    expect(png.width).toBeGreaterThanOrEqual(256);

    const manifest = JSON.parse(fs.readFileSync(path.join(out, MANIFEST), "utf8"));
    expect(manifest.complete).toBe(true);
    for (const entry of manifest.files) {
      const bytes = fs.readFileSync(path.join(out, entry.name));
      expect(entry.bytes).toBe(bytes.length);
      expect(entry.sha256).toBe(crypto.createHash("sha256").update(bytes).digest("hex"));
    }
    const mtime = (n: string) => fs.statSync(path.join(out, n)).mtimeMs;
    for (const entry of manifest.files) expect(mtime(MANIFEST)).toBeGreaterThanOrEqual(mtime(entry.name));
  });

  it("an XRF-only run writes element previews but no phase", async () => {
    const out = path.join(dir, "xrf");
    const { files } = await runReconstruction({ scanPath, outDir: out, config: { mode: "xrf", iterations: 3 } });
    expect(files).toContain("element_Zn.png");
    expect(files).not.toContain("phase.png");
    expect(files).not.toContain("overlay_Fe.png");
  });

  it("an invalid scan is refused before anything is written", async () => {
    const bad = path.join(dir, "bad.h5");
    fs.writeFileSync(bad, "not hdf5");
    const out = path.join(dir, "bad-run");
    await expect(runReconstruction({ scanPath: bad, outDir: out, config: {} })).rejects.toBeInstanceOf(InvalidScanError);
    expect(fs.existsSync(out)).toBe(false);
  });
});
