/**
 * The HTML reports in a real browser: Debian's chromium driven by playwright-core opens a run's report.html
 * (from a real tiny reconstruction) and a sweep summary (synthetic, with a failed task) through file://, and
 * checks that every image decoded, that nothing was fetched from outside the page (file: / data: only), and
 * that the console and the page reported no errors. Full-page screenshots go to artifacts/ (the CI artefact),
 * with each PNG preview of the run as written and as Chromium shows it (artifacts/preview-*.png). The sweep page
 * is checked at a 1400-pixel window: no table wider than its card, no plot title running into its subtitle.
 */
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { PNG } from "pngjs";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPORT } from "../../src/pipeline/outputs.js";
import { runReconstruction } from "../../src/pipeline/reconstructRun.js";
import { renderSweepReport } from "../../src/report/sweepReport.js";
import { writeScan, writeTruth } from "../../src/scan/write.js";
import { simulate } from "../../src/sim/simulate.js";
import { tmpDir } from "../scan/fixtures.js";
import { syntheticSweep } from "./sweepFixture.js";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = path.resolve(import.meta.dirname, "../../artifacts");
const dir = tmpDir("ptyxrf-report-");
let browser: Browser;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run \`npm run setup:tools\` (installs Debian's chromium) to run the report browser test`);
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Box { x: number; y: number; width: number; height: number }

interface PageCheck {
  images: Array<{ src: string; complete: boolean; naturalWidth: number }>;
  /** The document's scroll width: more than the viewport's width means a horizontal scroll bar. */
  pageWidth: number;
  extra?: unknown;
  requests: string[];
  consoleErrors: string[];
  pageErrors: string[];
  text: string;
}

/** Opens an HTML file, waits for it to load, takes a full-page screenshot and reports what a reader would see. */
async function open(file: string, screenshot: string, inspect?: (page: import("playwright-core").Page) => Promise<unknown>): Promise<PageCheck> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const requests: string[] = [], consoleErrors: string[] = [], pageErrors: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => pageErrors.push(e.message));
  try {
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
    const images = await page.$$eval("img", (els) => els.map((e) => {
      const img = e as unknown as { src: string; complete: boolean; naturalWidth: number }; // no DOM lib here
      return { src: img.src.slice(0, 32), complete: img.complete, naturalWidth: img.naturalWidth };
    }));
    const text = await page.innerText("body");
    const pageWidth = await page.evaluate("document.documentElement.scrollWidth") as number;
    const extra = inspect ? await inspect(page) : undefined;
    await page.screenshot({ path: path.join(ARTIFACTS, screenshot), fullPage: true });
    return { images, requests, consoleErrors, pageErrors, text, pageWidth, extra };
  } finally {
    await page.close();
  }
}

/** Pixels of the figures' text colour (src/report/figure.ts) in a box of a decoded PNG. */
function inkIn(png: PNG, x0: number, y0: number, x1: number, y1: number): number {
  let n = 0;
  for (let y = Math.max(0, y0); y < Math.min(png.height, y1); y++) {
    for (let x = Math.max(0, x0); x < Math.min(png.width, x1); x++) {
      const o = 4 * (y * png.width + x);
      if (png.data[o] === 29 && png.data[o + 1] === 35 && png.data[o + 2] === 48) n++;
    }
  }
  return n;
}

/** The longest run of pure black pixels along a row in the box (the scale bar). */
function longestBlackRun(png: PNG, x0: number, y0: number, x1: number, y1: number): number {
  let best = 0;
  for (let y = y0; y < y1; y++) {
    let run = 0;
    for (let x = x0; x < x1; x++) {
      const o = 4 * (y * png.width + x);
      run = png.data[o] === 0 && png.data[o + 1] === 0 && png.data[o + 2] === 0 ? run + 1 : 0;
      best = Math.max(best, run);
    }
  }
  return best;
}

function expectCleanPage(c: PageCheck): void {
  expect(c.images.length).toBeGreaterThan(0);
  for (const img of c.images) {
    expect(img.src.startsWith("data:image/png;base64,"), img.src).toBe(true);
    expect(img.complete && img.naturalWidth > 0, `image ${img.src} did not decode`).toBe(true);
  }
  expect(c.requests.filter((u) => !u.startsWith("file:") && !u.startsWith("data:"))).toEqual([]);
  expect(c.consoleErrors).toEqual([]);
  expect(c.pageErrors).toEqual([]);
}

describe("reports in chromium", () => {
  it("a run's report.html from a real reconstruction renders offline, every image decoded", async () => {
    const sim = simulate({ preset: "small", seed: 3 });
    const scanPath = path.join(dir, "scan.h5"), truthPath = path.join(dir, "truth.h5");
    await writeScan(scanPath, sim.header, sim.frames);
    await writeTruth(truthPath, sim.truth);
    const out = path.join(dir, "run");
    const { files } = await runReconstruction({ scanPath, truthPath, outDir: out, config: { iterations: 10, threads: 2 } });
    expect(files).toContain(REPORT);

    const c = await open(path.join(out, REPORT), "report.png");
    expectCleanPage(c);
    // phase, amplitude, Fe, Zn, two overlays and the regions figure
    expect(c.images.length).toBe(7);
    for (const heading of ["Maps", "Elements on the phase", "Correlation analysis", "Convergence", "Config", "Provenance"]) {
      expect(c.text).toContain(heading);
    }
    expect(c.text).toMatch(/\b\d+(\.\d+)? (nm|µm)\b/); // a scale bar label
    expect(c.text).toMatch(/[0-9a-f]{64}/); // the scan's sha256
    expect(c.text).toMatch(/scan\.h5 · joint reconstruction · \d{4}-\d{2}-\d{2}/);
    expect(c.text).toContain("Fe areal density (µg/cm²)");
    expect(c.text).toContain("amplitude (dimensionless)");
    expect(c.pageWidth).toBeLessThanOrEqual(1400); // nothing wider than the window

    // every PNG preview, as written and as Chromium shows it: a figure with title, colour bar labels and a scale bar
    const previews = files.filter((f) => f.endsWith(".png"));
    expect(previews).toEqual(["phase.png", "amplitude.png", "element_Fe.png", "overlay_Fe.png", "element_Zn.png", "overlay_Zn.png"]);
    for (const name of previews) {
      fs.copyFileSync(path.join(out, name), path.join(ARTIFACTS, `preview-${name}`));
      const png = PNG.sync.read(fs.readFileSync(path.join(out, name)));
      expect(Math.min(png.width, png.height), name).toBeGreaterThanOrEqual(512);
      expect(inkIn(png, 0, 0, png.width, 40), `${name}: title`).toBeGreaterThan(150);
      expect(inkIn(png, Math.round(png.width * 0.8), 40, png.width, png.height), `${name}: tick labels and unit label`).toBeGreaterThan(400);
      expect(longestBlackRun(png, 0, Math.round(png.height * 0.8), Math.round(png.width * 0.5), png.height), `${name}: scale bar`).toBeGreaterThanOrEqual(20);
      const page = await browser.newPage({ viewport: { width: png.width + 40, height: png.height + 40 } });
      try {
        await page.goto(pathToFileURL(path.join(out, name)).href, { waitUntil: "load" });
        const shown = await page.$eval("img", (e) => (e as unknown as { naturalWidth: number }).naturalWidth);
        expect(shown).toBe(png.width);
        await page.screenshot({ path: path.join(ARTIFACTS, `preview-${name.replace(/\.png$/, "")}-chromium.png`) });
      } finally {
        await page.close();
      }
    }
  });

  it("a sweep summary with a failed task renders offline, its tables and plots fitting a 1400-pixel window", async () => {
    // the parameter of the sweep: "object_rel_error vs weights.alpha" ran into "ring: best of its scan"
    const s = syntheticSweep();
    for (const t of s.tasks) { t.params = { "weights.alpha": t.params["rates.maps"], "noise.ptycho": t.params["noise.ptycho"] }; }
    const file = path.join(dir, "sweep.html");
    fs.writeFileSync(file, renderSweepReport(s));
    const c = await open(file, "sweep-report.png", async (page) => {
      const tables = await page.$$eval(".table-wrap", (els) => els.map((e) => {
        const el = e as unknown as { scrollWidth: number; clientWidth: number };
        return { scroll: el.scrollWidth, client: el.clientWidth };
      }));
      const plots = await page.$$eval("svg.plot", (els) => els.map((svg) => {
        type Box = { x: number; y: number; width: number; height: number };
        const box = (sel: string): Box | null => {
          const b = (svg.querySelector(sel) as unknown as { getBBox(): Box } | null)?.getBBox();
          return b ? { x: b.x, y: b.y, width: b.width, height: b.height } : null; // an SVGRect serialises as {}
        };
        return { title: box("text.title"), subtitle: box("text.subtitle") };
      }));
      return { tables, plots };
    });
    expectCleanPage(c);
    expect(c.text).toContain("out of memory");
    expect(c.text).toContain("Zn_rel_error");
    expect(c.pageWidth).toBeLessThanOrEqual(1400);
    const { tables, plots } = c.extra as { tables: Array<{ scroll: number; client: number }>; plots: Array<{ title: Box | null; subtitle: Box | null }> };
    expect(tables.length).toBeGreaterThanOrEqual(3);
    for (const t of tables) expect(t.scroll, "a table wider than its card").toBeLessThanOrEqual(t.client);
    expect(plots.length).toBe(2);
    for (const { title, subtitle } of plots) {
      expect(title && subtitle).toBeTruthy();
      const apart = title!.x + title!.width <= subtitle!.x || subtitle!.x + subtitle!.width <= title!.x
        || title!.y + title!.height <= subtitle!.y || subtitle!.y + subtitle!.height <= title!.y;
      expect(apart, `title ${JSON.stringify(title)} overlaps subtitle ${JSON.stringify(subtitle)}`).toBe(true);
    }
  });
});
