import { describe, expect, it } from "vitest";
import { amplitudeLossOf, autocorrelationInit } from "../../src/solver/autocorrelation.js";
import { meanPattern, objectAmplitude, probeFromMeanPattern } from "../../src/solver/init.js";
import { scanGeometry } from "../../src/solver/problem.js";
import { runRpie } from "../../src/solver/rpie.js";
import { simScan } from "./simScan.js";

const data = simScan({ preset: "small", seed: 3, probeGuess: false });
const h = data.scan.header, n = h.frameSize, npos = h.npos;
const grid = { height: data.truth.object.height, width: data.truth.object.width };
const win = scanGeometry(h, true, grid).windows;
const diff = data.scan.diffraction;
const total = diff.reduce((s, v) => s + v, 0);

describe("autocorrelation initialisation (DAP section 2A)", () => {
  const r = autocorrelationInit(diff, npos, n, win);

  it("the fitted zeta minimises sum (sqrt I - sqrt D)^2; it reports that loss", () => {
    const J = (s: number) => amplitudeLossOf(diff, win, r.object, r.probe.map((v) => v * s));
    const j0 = J(1);
    expect(Math.abs(j0 - r.loss) / r.loss).toBeLessThan(1e-5);
    for (const s of [0.9, 0.99, 1.01, 1.1]) expect(J(s)).toBeGreaterThan(j0);
    expect(r.zeta).toBeGreaterThan(0);
  });

  it("shapes, the object normalisation, modes, beta2 and seeded noise", () => {
    const HW = grid.height * grid.width;
    expect(r.object.length).toBe(2 * HW);
    expect(r.probe.length).toBe(2 * n * n);
    expect(r.ratio.length).toBe(HW);
    // real, positive object with mean 1 over the scanned pixels (beta1); the probe formula is real too
    for (let p = 0; p < HW; p++) expect(r.object[2 * p + 1]).toBe(0);
    expect(Math.min(...r.object.filter((_, i) => i % 2 === 0))).toBeGreaterThan(0);
    const two = autocorrelationInit(diff, npos, n, win, { modes: 2, beta2: [0, 0.5] });
    expect(two.probe.length).toBe(2 * 2 * n * n);
    const power = (m: number) => two.probe.subarray(2 * m * n * n, 2 * (m + 1) * n * n).reduce((s, v) => s + v * v, 0);
    expect(power(1) / power(0)).toBeCloseTo(0.1, 6);
    const p = (grid.height / 2) * grid.width + grid.width / 2;
    expect(Math.atan2(two.object[2 * p + 1], two.object[2 * p])).toBeCloseTo(0.5 * two.ratio[p], 6);
    const a = autocorrelationInit(diff, npos, n, win, { noise: { seed: 1, object: 0.05, probe: 0.05 } });
    const b = autocorrelationInit(diff, npos, n, win, { noise: { seed: 1, object: 0.05, probe: 0.05 } });
    const c = autocorrelationInit(diff, npos, n, win, { noise: { seed: 2, object: 0.05, probe: 0.05 } });
    expect(a.object).toEqual(b.object);
    expect(a.probe).toEqual(b.probe);
    expect(a.object).not.toEqual(c.object);
    expect(autocorrelationInit(diff, npos, n, win).object).toEqual(r.object); // no noise: deterministic
    expect(() => autocorrelationInit(diff, npos - 1, n, win)).toThrow(/windows hold/);
  });

  it("against a flat object with the mean-pattern probe (small preset): worse at the start, better after 20 rPIE iterations", async () => {
    const mean = meanPattern(diff, npos, n);
    const probe = probeFromMeanPattern(mean, n, 1);
    const flat = new Float32Array(2 * grid.height * grid.width);
    const amp = objectAmplitude(mean, probe);
    for (let p = 0; p < flat.length; p += 2) flat[p] = amp;
    const flatLoss = amplitudeLossOf(diff, win, flat, probe) / total;
    // the paper's probe, sum |F^-1 sqrt(I_i)|, is real and non-negative: the rings of a focused probe lose
    // their signs and the model patterns match the data much worse than the mean-pattern probe's (measured:
    // 0.69 vs 0.0062 of the total counts)
    expect(r.loss / total).toBeGreaterThan(10 * flatLoss);
    // the coherent form keeps them: about the flat start's loss (0.0062 vs 0.0062)
    const coherent = autocorrelationInit(diff, npos, n, win, { probeForm: "coherent" });
    expect(coherent.loss / total).toBeLessThan(1.05 * flatLoss);
    // as a starting point for rPIE the paper's form ends lower (measured 2.25e-3 vs 2.42e-3)
    const fromFlat = await runRpie(data.scan, { iterations: 20, grid, initial: { object: flat, probe } });
    const fromAc = await runRpie(data.scan, { iterations: 20, grid, initial: { object: r.object, probe: r.probe } });
    expect(fromAc.history.records[19].losses.ptycho).toBeLessThan(fromFlat.history.records[19].losses.ptycho);
  });
});
