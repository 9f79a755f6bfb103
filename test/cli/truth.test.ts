/** A --truth of another scan (src/pipeline/truthMatch.ts): exit 2 naming every difference, before any solve. */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeScan, writeTruth } from "../../src/scan/write.js";
import { simulate } from "../../src/sim/simulate.js";
import { tmpDir } from "../scan/fixtures.js";
import { bin, cli } from "./run.js";

const dir = tmpDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const at = (name: string) => path.join(dir, name);
const scan = at("scan.h5");

beforeAll(async () => {
  const sim = simulate({ preset: "small", seed: 8 });
  await writeScan(scan, sim.header, sim.frames);
  await writeTruth(at("truth.h5"), sim.truth);
  // truths of other scans (only the truth file is written)
  await writeTruth(at("probe16.h5"), simulate({ preset: "small", seed: 8, probeSize: 16 }).truth);
  await writeTruth(at("grid5.h5"), simulate({ preset: "small", seed: 8, scan: { grid: [5, 5] } }).truth);
  await writeTruth(at("cu.h5"), simulate({ preset: "small", seed: 8, elements: ["Fe", "Zn", "Cu"] }).truth);
  await writeTruth(at("object40.h5"), simulate({ preset: "small", seed: 8, objectSize: 40 }).truth);
  await writeTruth(at("fermat.h5"), simulate({ preset: "small", seed: 8, scan: { pattern: "fermat", npos: 36 } }).truth);
});

describe("--truth of another scan", () => {
  it("is exit 2 with 'truth does not match scan: ...' from the installed command, not an internal error (it was one for another probe size)", () => {
    const out = at("run-probe16");
    const r = bin("reconstruct", scan, "--out", out, "--iterations", "2", "--truth", at("probe16.h5"));
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `ptyxrf reconstruct: truth does not match scan: probe size: the scan's frames are 32 x 32, the truth's probe 16 x 16; ` +
        `pixel size: the scan's is 1.03320e-7 m, the truth's 2.06640e-7 m; ` +
        `positions: the scan's and the truth's differ by up to 45.1 pixels (more than half the 32-pixel probe window) (${at("probe16.h5")})`,
    );
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.existsSync(`${out}.partial`)).toBe(false);
    expect(fs.existsSync(`${out}.lock`)).toBe(false);
  });

  it("names each difference: positions, elements, object grid, scan pattern (these ran to exit 0 with errors against the wrong object)", async () => {
    const cases: [string, RegExp][] = [
      ["grid5.h5", /truth does not match scan: positions: the scan has 36, the truth 25 \(/],
      ["cu.h5", /truth does not match scan: elements: the scan has Fe, Zn, the truth Cu, Fe, Zn \(/],
      ["object40.h5", /truth does not match scan: .*object: the truth's 40 x 40 grid cannot hold the scan's probe windows \(64 x 64 needed\) \(/],
      ["fermat.h5", /truth does not match scan: positions: the scan's and the truth's differ by up to \d+\.\d pixels \(more than half the 32-pixel probe window\) \(/],
    ];
    for (const [truth, message] of cases) {
      const r = await cli("reconstruct", scan, "--out", at(`run-${truth}`), "--iterations", "2", "--truth", at(truth));
      expect(r.code, truth).toBe(2);
      expect(r.stderr, truth).toMatch(message);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    }
    const c = await cli("compare", scan, "--truth", at("cu.h5"), "--iterations", "2");
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/^ptyxrf compare: truth does not match scan: elements: /);
  });

  it("the scan's own truth is accepted", async () => {
    const r = await cli("reconstruct", scan, "--out", at("run-own"), "--iterations", "2", "--threads", "1", "--truth", at("truth.h5"));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/object error\s+0\.\d+/);
  });
});
