/**
 * The tfjs engine (tfjs CPU backend) inside the solver: a 20-iteration joint reconstruction on the `small`
 * preset reaches the cpu engine's errors, the number of live tfjs tensors does not grow from iteration to
 * iteration, and mini-batches with position refinement (setWindows every step) follow the cpu engine.
 */
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { CpuEngine } from "../../src/engine/cpu/index.js";
import type { Engine } from "../../src/engine/engine.js";
import { TfjsEngine } from "../../src/engine/tfjs/index.js";
import { makeEvaluator } from "../../src/solver/evaluate.js";
import { reconstruct, type Reconstruction } from "../../src/solver/reconstruct.js";
import { simScan } from "../solver/simScan.js";

const small = simScan({ preset: "small", seed: 1 });
const grid = { height: small.truth.object.height, width: small.truth.object.width };

function errors(r: Reconstruction) {
  return makeEvaluator(small.truth, r.geometry.windows)(r, r.elements, r.config.mode);
}

async function run(engine: Engine, config: Record<string, unknown>, onIteration?: (it: number) => void): Promise<Reconstruction> {
  try {
    return await reconstruct(small.scan, config, { engine, grid, onIteration: (rec) => onIteration?.(rec.iteration) });
  } finally {
    await engine.dispose();
  }
}

describe("tfjs engine in the solver (small preset: 64^2 object, 32^2 frames, 36 positions)", () => {
  it("20 joint iterations: the cpu engine's errors within 1 %, and no tensor leak between iterations 2 and 20", async () => {
    const config = { mode: "joint", iterations: 20 };
    const cpu = errors(await run(new CpuEngine({ threads: 2 }), config));
    const engine = await TfjsEngine.create({ backend: "cpu" });
    const before = tf.memory().numTensors;
    const live: Record<number, number> = {};
    const tfjsRun = await run(engine, config, (it) => { live[it] = tf.memory().numTensors; });
    const got = errors(tfjsRun);
    expect(tf.memory().numTensors).toBe(before); // dispose frees everything
    expect(live[2]).toBeGreaterThan(before); // the loaded problem lives on the device...
    expect(live[20]).toBe(live[2]); // ...and nothing accumulates
    expect(tfjsRun.engine.name).toBe("tfjs");
    expect(Math.abs(got.object_rel_error! - cpu.object_rel_error!) / cpu.object_rel_error!).toBeLessThan(0.01);
    expect(Math.abs(got.object_cpcc! - cpu.object_cpcc!)).toBeLessThan(1e-3);
    for (const el of ["Fe", "Zn"]) {
      expect(Math.abs(got.element_rel_error[el] - cpu.element_rel_error[el]) / cpu.element_rel_error[el]).toBeLessThan(0.01);
    }
  });

  it("ptycho mode with mini-batches, position refinement and a streamed stack follows the cpu engine", async () => {
    const config = {
      mode: "ptycho", iterations: 8, batches: { growth: "constant", start: 12 },
      positions: { refine: true, refineAfter: 2 }, probe: { refineAfter: 3 },
    };
    const cpu = await run(new CpuEngine({ threads: 1 }), config);
    const engine = await TfjsEngine.create({ backend: "cpu", deviceMemoryBytes: 2e6 });
    let plan = { resident: true, batch: 0 };
    const t = await run(engine, config, () => { plan = engine.plan; });
    expect(plan.resident).toBe(false); // frames streamed from the host...
    expect(plan.batch).toBeLessThan(12); // ...in device batches smaller than the solver's mini-batches
    const a = errors(cpu), b = errors(t);
    expect(Math.abs(b.object_rel_error! - a.object_rel_error!) / a.object_rel_error!).toBeLessThan(0.01);
    // refined corners: float32 rounding reaches them through Adam, which normalises near-zero gradients (the
    // cpu engine's corners differ from the float64 reference engine's by ~0.02 px on this run, the tfjs
    // engine's by ~0.04 px); the losses and errors agree far better
    const ca = cpu.geometry.windows.corner, cb = t.geometry.windows.corner, nominal = small.scan.header;
    let diff = 0;
    for (let i = 0; i < ca.length; i++) diff = Math.max(diff, Math.abs(ca[i] - cb[i]));
    expect(nominal.npos).toBe(36);
    expect(diff).toBeLessThan(0.1);
    const last = t.history.records.at(-1)!, lastCpu = cpu.history.records.at(-1)!;
    expect(Math.abs(last.losses.ptycho - lastCpu.losses.ptycho) / lastCpu.losses.ptycho).toBeLessThan(0.01);
    expect(t.history.records.at(-1)!.steps.positions).toBeGreaterThan(0);
  });
});
