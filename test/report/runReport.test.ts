/** report.html and the correlation analysis as every run writes them (through runReconstruction -> writeRunOutputs). */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MANIFEST, REPORT } from "../../src/pipeline/outputs.js";
import { runReconstruction } from "../../src/pipeline/reconstructRun.js";
import { writeScan, writeTruth } from "../../src/scan/write.js";
import { simulate } from "../../src/sim/simulate.js";
import { tmpDir } from "../scan/fixtures.js";

const dir = tmpDir("ptyxrf-runreport-");
const scanPath = path.join(dir, "scan.h5"), truthPath = path.join(dir, "truth.h5");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  const sim = simulate({ preset: "small", seed: 5 });
  await writeScan(scanPath, sim.header, sim.frames);
  await writeTruth(truthPath, sim.truth);
});

/** A label PNG: left third 0 (background), the rest split into labels 1 (top) and 2 (bottom). */
function labelPng(file: string, width: number, height: number): void {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = x < width / 3 ? 0 : y < height / 2 ? 1 : 2;
      png.data.set([v, v, v, 255], 4 * (y * width + x));
    }
  }
  fs.writeFileSync(file, PNG.sync.write(png));
}

const read = (out: string, name: string) => fs.readFileSync(path.join(out, name), "utf8");

describe("report.html of a run", () => {
  it("is written before the manifest, listed in it, self-contained, with regions from the user's label image", async () => {
    const mask = path.join(dir, "labels.png");
    labelPng(mask, 64, 64);
    const out = path.join(dir, "joint");
    const { files, metrics } = await runReconstruction({
      scanPath, truthPath, outDir: out, config: { iterations: 6, threads: 2, correlation: { mask } },
    });
    expect(files.slice(-2)).toEqual([REPORT, MANIFEST]);
    const manifest = JSON.parse(read(out, MANIFEST));
    expect(manifest.files.map((f: { name: string }) => f.name)).toContain(REPORT);
    const scanSha = crypto.createHash("sha256").update(fs.readFileSync(scanPath)).digest("hex");
    expect(manifest.scan_sha256).toBe(scanSha);

    const m = JSON.parse(read(out, "metrics.json"));
    expect(m.scan_sha256).toBe(scanSha);
    expect(m.correlation).toMatchObject({ source: "mask", mask, elements: ["Fe", "Zn"], warnings: [] });
    expect(m.correlation.regions.map((r: { label: number }) => r.label)).toEqual([0, 1, 2]);
    const total = m.correlation.regions.reduce((s: number, r: { pixels: number }) => s + r.pixels, 0);
    expect(total).toBe(m.correlation.overall.pixels); // every analysed pixel has a label
    expect(m.correlation.overall.pixels).toBeLessThan(64 * 64); // only the illuminated region
    expect(Object.keys(m.correlation.overall.ratios)).toEqual(["Fe/Zn"]);
    expect(metrics.correlation).toEqual(m.correlation);

    const html = read(out, REPORT);
    for (const section of ["summary", "maps", "overlays", "correlation", "convergence", "config", "provenance"]) expect(html).toContain(`id="${section}"`);
    expect(html.match(/<img /g)).toHaveLength(7); // phase, amplitude, Fe, Zn, 2 overlays, regions
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toContain("<script");
    expect(html).toContain(scanSha);
    expect(html).toContain(">1 µm<"); // 64 px of 103 nm
    expect(html).toContain("label image labels.png");
    expect(html).toContain("Phase vs Fe");
    expect(html).toContain("Errors against the truth");
    expect(html).toMatch(/class="mono changed">6</); // iterations differ from the default
    // the title names the scan, the mode and the date
    expect(html).toMatch(/<h1>scan\.h5 · joint reconstruction · \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC<\/h1>/);
    // units on every map and in the correlation table; element maps are areal densities
    for (const label of ["phase (rad)", "amplitude (dimensionless)", "Fe areal density (µg/cm²)", "Zn areal density (µg/cm²)", "Fe mean (µg/cm²)", "phase mean (rad)"]) {
      expect(html).toContain(label);
    }
    expect(html).not.toMatch(/concentration/i);
    // colour bars: a label on each (phase, amplitude, Fe, Zn, two overlays with two bars each, regions) and round ticks
    const bars = [...html.matchAll(/<svg class="colourbar"[^>]*>(.*?)<\/svg>/g)].map((m) => m[1]);
    expect(bars).toHaveLength(9);
    for (const b of bars) {
      expect(b).toMatch(/class="axis-label">[^<]+<\/text>/);
      const ticks = [...b.matchAll(/class="tick">([^<]*)</g)].map((m) => m[1]);
      expect(ticks.length).toBeGreaterThanOrEqual(2);
      for (const t of ticks) expect(t).toMatch(/^−?\d+(\.\d{1,3})?(e−?\d+)?$/); // 0.4424-style labels are gone
    }
  });

  it("falls back to the phase segmentation, with a warning, when the label image has the wrong size", async () => {
    const mask = path.join(dir, "small-labels.png");
    labelPng(mask, 10, 10);
    const out = path.join(dir, "fallback");
    await runReconstruction({ scanPath, truthPath, outDir: out, config: { iterations: 3, threads: 2, correlation: { mask } } });
    const c = JSON.parse(read(out, "metrics.json")).correlation;
    expect(c.source).toBe("otsu");
    expect(c.warnings[0]).toMatch(/is 10 x 10 pixels but the object is 64 x 64/);
    // no region is smaller than the beam (the reconstructed probe's 86.5 % intensity diameter: about 10 px here)
    expect(c.beam_area_px).toBeGreaterThan(40);
    expect(c.beam_area_px).toBeLessThan(200);
    expect(c.region_min_pixels).toBe(Math.max(16, Math.ceil(c.beam_area_px)));
    for (const r of c.regions.filter((r: { label: number }) => r.label >= 1)) expect(r.pixels).toBeGreaterThanOrEqual(c.region_min_pixels);
    expect(read(out, REPORT)).toMatch(/connected components of at least \d+ pixels \(the beam's area: [\d.]+ pixels/);
    expect(read(out, REPORT)).toContain("is 10 x 10 pixels but the object is 64 x 64");
  });

  it("an XRF-only run has a report with element maps but no phase, overlays or correlation", async () => {
    const out = path.join(dir, "xrf");
    const { files } = await runReconstruction({ scanPath, outDir: out, config: { mode: "xrf", iterations: 3, threads: 2 } });
    expect(files).toContain(REPORT);
    expect(JSON.parse(read(out, "metrics.json")).correlation).toBeNull();
    const html = read(out, REPORT);
    expect(html.match(/<img /g)).toHaveLength(2);
    expect(html).not.toContain('id="correlation"');
    expect(html).not.toContain('id="overlays"');
  });
});
