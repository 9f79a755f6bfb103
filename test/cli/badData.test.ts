/**
 * Scans that pass validation but hold what must never become a result: NaN, infinite or negative counts in
 * frames outside the validator's sample, a NaN probe guess, and data on which the solver diverges. Each is
 * exit 2 with the reason, and the output folder gets no manifest (no outputs at all). Names from files reach
 * the terminal escaped.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runReconstruction } from "../../src/pipeline/reconstructRun.js";
import { validateScan } from "../../src/scan/validate.js";
import { tmpDir } from "../scan/fixtures.js";
import { unsampled, writeSmallScan } from "../pipeline/badRuns.js";
import { cli } from "./run.js";

const dir = tmpDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => path.join(dir, name);
let skip: number[];

beforeAll(async () => {
  const { npos } = await writeSmallScan(file("ok.h5"));
  skip = unsampled(npos);
  await writeSmallScan(file("nan-frames.h5"), {
    pixels: [{ frame: skip[0], pixel: 37, value: Number.NaN }, { frame: skip[2], pixel: 3, value: Number.POSITIVE_INFINITY }, { frame: skip[3], pixel: 0, value: -2 }],
  });
  await writeSmallScan(file("nan-probe.h5"), { probeNaN: true });
  await writeSmallScan(file("zero-xrf.h5"), { zeroXrf: true });
  await writeSmallScan(file("evil-name.h5"), { renameElement: ["Zn", EVIL] });
});

const EVIL = "Zn\u202e\u001b[2J\r";

describe("every frame is checked as it loads", () => {
  it("NaN, Inf and negative counts outside the validator's sample: exit 2 naming the first bad frame and the count; nothing written", async () => {
    const report = await validateScan(file("nan-frames.h5"));
    expect(report.ok).toBe(true); // the sample misses them: only the load can see them
    const out = file("out-nan");
    const t0 = performance.now();
    const r = await cli("reconstruct", file("nan-frames.h5"), "--out", out, "--iterations", "5", "--threads", "1");
    expect(r.code).toBe(2);
    const n = 32;
    expect(r.stderr).toContain(`error   [non-finite-counts] /ptychography/diffraction: expected finite counts in every frame, found NaN or infinite values in 2 of 36 frames (the first: frame ${skip[0]}, pixel [${Math.floor(37 / n)}, ${37 % n}] = NaN)`);
    expect(r.stderr).toContain(`error   [negative-counts] /ptychography/diffraction: expected non-negative counts in every frame, found negative counts in 1 of 36 frames (the first: frame ${skip[3]}, pixel [0, 0] = -2)`);
    expect(r.stderr).toMatch(/INVALID, 2 error\(s\)/);
    expect(fs.existsSync(out)).toBe(false);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });

  it("a probe guess holding NaN: exit 2, [non-finite-probe], nothing written", async () => {
    const out = file("out-probe");
    const r = await cli("reconstruct", file("nan-probe.h5"), "--out", out, "--iterations", "5", "--threads", "1");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("[non-finite-probe] /ptychography/probe_guess: expected finite values, found 1 NaN or infinite value");
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe("names from files are escaped in CLI output", () => {
  it("an element named with a bidi override, an escape sequence and a carriage return: shown as escapes, in --json too", async () => {
    const r = await cli("validate", file("evil-name.h5"));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("/xrf/elemental_maps/Zn\\u202e\\u001b[2J\\u000d");
    expect(r.stderr + r.stdout).not.toMatch(/[\u001b\r\u202e]/);
    const j = await cli("validate", file("evil-name.h5"), "--json");
    expect(j.stdout).not.toMatch(/[\u001b\r\u202e]/);
    // the validator escapes names where it writes them (src/scan/safeText.ts), so every copy of a problem is safe
    expect(JSON.parse(j.stdout).errors[0].path).toBe("/xrf/elemental_maps/Zn\\u202e\\u001b[2J\\u000d");
    expect(EVIL).toBe("Zn\u202e\u001b[2J\r");
  });
});

describe("a run whose losses or results are not finite", () => {
  it("all-zero XRF maps make the joint losses NaN: exit 2 at that iteration, no manifest, no outputs", async () => {
    const out = file("out-zero");
    const r = await cli("reconstruct", file("zero-xrf.h5"), "--out", out, "--iterations", "30", "--threads", "1");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("ptyxrf reconstruct: loss became NaN at iteration 2 (weight ptycho NaN, weight xrf NaN): the reconstruction diverged and no results were written");
    expect(r.stderr).not.toMatch(/iteration 30\/30/); // stopped at the first NaN, not after the remaining iterations
    expect(r.stderr).not.toMatch(/internal error/);
    expect(fs.existsSync(path.join(out, "manifest.json"))).toBe(false);
    expect(fs.existsSync(path.join(out, "result.h5"))).toBe(false);
    expect(fs.existsSync(path.join(out, "metrics.json"))).toBe(false);
  });

  it("a run that diverges after a checkpoint leaves no checkpoint behind to block the folder (resuming would diverge again)", async () => {
    const out = file("out-zero-ckpt");
    await expect(runReconstruction({
      scanPath: file("zero-xrf.h5"), outDir: out, config: { iterations: 30, threads: 1 }, cadence: { everyIterations: 1, everyMs: 0 },
    })).rejects.toThrow(/loss became NaN at iteration 2/);
    expect(fs.existsSync(`${out}.partial`)).toBe(false);
    expect(fs.existsSync(out)).toBe(false);
    const again = await cli("reconstruct", file("ok.h5"), "--out", out, "--iterations", "2", "--threads", "1");
    expect(again.code, again.stderr).toBe(0);
  });

  it("the same scan's ptychography alone is finite and completes (the check does not reject good runs)", async () => {
    const out = file("out-ptycho");
    const r = await cli("reconstruct", file("zero-xrf.h5"), "--out", out, "--mode", "ptycho", "--iterations", "5", "--threads", "1");
    expect(r.code, r.stderr).toBe(0);
    expect(fs.existsSync(path.join(out, "manifest.json"))).toBe(true);
  });
});
