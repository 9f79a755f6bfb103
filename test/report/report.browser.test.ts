/**
 * The HTML reports in a real browser: Debian's chromium driven by playwright-core opens a run's report.html
 * (from a real tiny reconstruction) and a sweep summary (synthetic, with a failed task) through file://, and
 * checks that every image decoded, that nothing was fetched from outside the page (file: / data: only), and
 * that the console and the page reported no errors. Full-page screenshots go to artifacts/ (the CI artefact).
 */
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
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

interface PageCheck {
  images: Array<{ src: string; complete: boolean; naturalWidth: number }>;
  requests: string[];
  consoleErrors: string[];
  pageErrors: string[];
  text: string;
}

/** Opens an HTML file, waits for it to load, takes a full-page screenshot and reports what a reader would see. */
async function open(file: string, screenshot: string): Promise<PageCheck> {
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
    await page.screenshot({ path: path.join(ARTIFACTS, screenshot), fullPage: true });
    return { images, requests, consoleErrors, pageErrors, text };
  } finally {
    await page.close();
  }
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
  });

  it("a sweep summary with a failed task renders offline", async () => {
    const file = path.join(dir, "sweep.html");
    fs.writeFileSync(file, renderSweepReport(syntheticSweep()));
    const c = await open(file, "sweep-report.png");
    expectCleanPage(c);
    expect(c.text).toContain("out of memory");
  });
});
