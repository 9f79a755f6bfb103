import { describe, expect, it } from "vitest";
import { ReferenceEngine } from "../../src/engine/reference.js";
import { ConfigError } from "../../src/solver/config.js";
import { makeEvaluator } from "../../src/solver/evaluate.js";
import { reconstruct, type Reconstruction } from "../../src/solver/reconstruct.js";
import { simScan } from "./simScan.js";

const linear = simScan({ preset: "small", seed: 2, link: "linear", noise: { kind: "gaussian", level: 0.03 } });
const grid = { height: linear.truth.object.height, width: linear.truth.object.width };

async function run(mode: string, iterations: number, extra: Record<string, unknown> = {}, data = linear): Promise<Reconstruction> {
  return reconstruct(data.scan, { mode, iterations, engine: "reference", ...extra }, { engine: new ReferenceEngine(), grid });
}

function errors(r: Reconstruction, data = linear) {
  return makeEvaluator(data.truth, r.geometry.windows)(r, r.elements, r.config.mode);
}

describe("reconstruct", () => {
  it("joint beats the separate baselines on the same budget (small preset, linear link, 3% noise)", async () => {
    const joint = errors(await run("joint", 60));
    const ptycho = errors(await run("ptycho", 60));
    const xrf = errors(await run("xrf", 60));
    expect(joint.object_rel_error!).toBeLessThan(0.15);
    expect(joint.object_rel_error!).toBeLessThan(0.7 * ptycho.object_rel_error!);
    expect(joint.object_cpcc!).toBeGreaterThan(ptycho.object_cpcc!);
    for (const el of ["Fe", "Zn"]) expect(joint.element_rel_error[el]).toBeLessThan(0.9 * xrf.element_rel_error[el]);
  });

  it("the losses fall and the history records every iteration", async () => {
    const r = await run("joint", 25);
    const h = r.history.records;
    expect(h).toHaveLength(25);
    expect(h[24].losses.ptycho).toBeLessThan(0.2 * h[0].losses.ptycho);
    expect(h[24].losses.xrf).toBeLessThan(h[0].losses.xrf);
    for (const rec of h) {
      expect(rec.weights.ptycho + rec.weights.xrf).toBeCloseTo(2, 9);
      expect(rec.steps.map_Fe).toBeGreaterThan(0);
    }
    expect(h[24].steps.probe).toBeGreaterThan(0); // probe refinement on after refineAfter (20)
    expect(h[5].steps.probe).toBeUndefined();
    expect(Math.min(...r.maps!)).toBeGreaterThanOrEqual(0);
  });

  it("is deterministic", async () => {
    const a = await run("joint", 8), b = await run("joint", 8);
    expect(Buffer.from(a.object.buffer).equals(Buffer.from(b.object.buffer))).toBe(true);
    expect(Buffer.from(a.maps!.buffer).equals(Buffer.from(b.maps!.buffer))).toBe(true);
  });

  it("starting from the truth stays at the truth (the joint objective's minimum is the right one)", async () => {
    const t = linear.truth;
    const maps = new Float32Array(2 * grid.height * grid.width);
    maps.set(t.elementMaps.Fe, 0);
    maps.set(t.elementMaps.Zn, grid.height * grid.width);
    const r = await reconstruct(linear.scan, { mode: "joint", iterations: 10, engine: "reference", probe: { refine: false } }, {
      engine: new ReferenceEngine(), grid, initial: { maps, free: t.matrix, probe: t.probe.data },
    });
    expect(errors(r).object_rel_error!).toBeLessThan(0.03);
  });

  it("without a probe guess the probe starts from the mean diffraction pattern", async () => {
    const data = simScan({ preset: "small", seed: 2, probeGuess: false });
    expect(data.scan.header.probeGuess).toBeUndefined();
    const r = await run("ptycho", 3, {}, data);
    expect(r.probe.some((v) => v !== 0)).toBe(true);
    await expect(run("ptycho", 1, { probe: { init: "file" } }, data)).rejects.toThrow(/no \/ptychography\/probe_guess/);
  });

  it("the exponential link needs beta/delta for every element", async () => {
    await expect(run("joint", 1, { link: "exponential" })).rejects.toBeInstanceOf(ConfigError);
  });
});
