/**
 * The tfjs engine on tfjs's CPU backend, held to the float64 reference (src/physics via the reference engine)
 * and to the cpu engine: every kernel of the Engine interface, with resident and streamed diffraction stacks,
 * host and device window indices, the matmul and the spectral FFT.
 */
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, describe, expect, it } from "vitest";
import { CpuEngine } from "../../src/engine/cpu/index.js";
import type { Engine, EngineProblem, EngineState, EvalRequest, EvalResult } from "../../src/engine/engine.js";
import { createEngine } from "../../src/engine/index.js";
import { ReferenceEngine } from "../../src/engine/reference.js";
import {
  autoEngine, CenteredFft2, fallbackReason, loadRuntime, parseBytes, planFor, TfjsEngine, type TfjsEngineOptions,
} from "../../src/engine/tfjs/index.js";
import { fft2 } from "../../src/physics/fft.js";
import type { PtychoNoiseModel, XrfNoiseModel } from "../../src/physics/losses.js";
import { ptychoIntensities } from "../../src/physics/ptycho.js";
import { randomArray, seeded } from "../physics/helpers.js";
import { H, MOVED_PX, N, NPOS, POS_PX, relL2, SUBSET, W, WIN, windowsAt } from "./fixtures.js";

const ALL: EvalRequest = { ptycho: true, xrf: true, probeGradient: true, positionGradient: true };


const relDiff = (a: number, b: number) => (a === b ? 0 : Math.abs(a - b) / Math.abs(b));

interface Case {
  problem: EngineProblem;
  state: EngineState;
}

/** Random state; measured data: a noisy model of a nearby object at nearby positions (plus zeros). */
function makeCase(seed: number, modes: number, model: PtychoNoiseModel, xrfModel: XrfNoiseModel, elements = 2): Case {
  const rand = seeded(seed);
  const hw = H * W;
  const near1 = (spread: number) => {
    const a = randomArray(rand, 2 * hw, -spread, spread);
    for (let i = 0; i < hw; i++) a[2 * i] += 1;
    return a;
  };
  const probe = Float32Array.from(randomArray(rand, 2 * modes * N * N, -1, 1));
  const object = Float32Array.from(near1(0.3));
  const d = new Float64Array(NPOS * N * N);
  ptychoIntensities(near1(0.35), Float64Array.from(probe), windowsAt(POS_PX.map((p, i) => p + 0.4 * Math.cos(i))), 0, NPOS, d, 0.1);
  const diffraction = new Float32Array(d.length);
  for (let i = 0; i < d.length; i++) diffraction[i] = i % 11 === 0 ? 0 : Math.round(d[i] * (1 + 0.2 * (rand() - 0.5)) * 10) / 10;
  const maps = Float32Array.from(randomArray(rand, elements * hw, 0, 1));
  const measured = Float32Array.from(randomArray(rand, elements * NPOS, 1, 2));
  return {
    state: { object, probe, maps },
    problem: {
      windows: WIN, modes, diffraction, ptychoModel: model, background: 0.1,
      xrf: {
        elements: ["Fe", "Zn", "Cu"].slice(0, elements), sensitivity: Float32Array.from([2, 0.5, 1.3].slice(0, elements)),
        measured, model: xrfModel,
      },
    },
  };
}

/** Losses within 1e-5, every gradient within 1e-4 (relative L2), of `ref`. */
function expectParity(got: EvalResult, ref: EvalResult, tol = { loss: 1e-5, grad: 1e-4 }): void {
  expect(relDiff(got.lossPtycho, ref.lossPtycho)).toBeLessThan(tol.loss);
  expect(relDiff(got.lossXrf, ref.lossXrf)).toBeLessThan(tol.loss);
  expect(relL2(got.gObject, ref.gObject)).toBeLessThan(tol.grad);
  for (const k of ["gProbePtycho", "gMaps", "gProbeXrf", "gPositions"] as const) {
    expect(got[k] === null, k).toBe(ref[k] === null);
    if (ref[k]) expect(relL2(got[k]!, ref[k]!), k).toBeLessThan(tol.grad);
  }
}

const engines: Engine[] = [];
async function tfjs(options: TfjsEngineOptions = {}): Promise<TfjsEngine> {
  const e = await TfjsEngine.create({ backend: "cpu", ...options });
  engines.push(e);
  return e;
}
function track<E extends Engine>(e: E): E {
  engines.push(e);
  return e;
}
afterAll(async () => {
  await Promise.all(engines.map((e) => e.dispose()));
});

describe("CenteredFft2 (split planes) is the centred orthonormal FFT of src/physics", () => {
  for (const method of ["matmul", "spectral"] as const) {
    it(`${method}: forward and inverse against physics/fft.ts (float64), batched`, async () => {
      await loadRuntime("cpu");
      const rand = seeded(1);
      for (const n of [4, 16]) {
        const frames = 3, nn = n * n;
        const x = randomArray(rand, 2 * frames * nn);
        const ref = Float64Array.from(x);
        for (let f = 0; f < frames; f++) fft2(n).forward(ref, f);
        const re = Float32Array.from({ length: frames * nn }, (_, i) => x[2 * i]);
        const im = Float32Array.from({ length: frames * nn }, (_, i) => x[2 * i + 1]);
        const fft = new CenteredFft2(n, method);
        const before = tf.memory().numTensors;
        const [yr, yi, zr, zi] = tf.tidy(() => {
          const X = { re: tf.tensor3d(re, [frames, n, n]), im: tf.tensor3d(im, [frames, n, n]) };
          const Y = fft.forward(X);
          const Z = fft.inverse(Y);
          return [Y.re, Y.im, Z.re, Z.im].map((t) => t.dataSync() as Float32Array);
        });
        expect(tf.memory().numTensors).toBe(before);
        fft.dispose();
        const got = new Float64Array(2 * frames * nn);
        for (let i = 0; i < frames * nn; i++) {
          got[2 * i] = yr[i];
          got[2 * i + 1] = yi[i];
        }
        expect(relL2(got, ref)).toBeLessThan(1e-6);
        expect(relL2(zr, re)).toBeLessThan(1e-6);
        expect(relL2(zi, im)).toBeLessThan(1e-6);
      }
    });
  }
});

describe("tfjs engine parity (tfjs CPU backend) with the float64 reference and the cpu engine", () => {
  const models: [PtychoNoiseModel, XrfNoiseModel][] = [["gaussian", "lsq"], ["poisson", "poisson"], ["weighted", "lsq"]];
  const variants: [string, TfjsEngineOptions][] = [
    ["resident stack, one batch, host indices", {}],
    ["streamed stack, batches of 5, device indices", { diffraction: "stream", maxBatch: 5, indices: "device" }],
  ];
  for (const [label, options] of variants) {
    it(`${label}: every noise model, K = 1 and 2, all positions and a mini-batch, position gradients`, async () => {
      const eng = await tfjs(options), ref = new ReferenceEngine(), cpu = track(new CpuEngine({ threads: 1 }));
      let seed = 100;
      for (const modes of [1, 2]) {
        for (const [pm, xm] of models) {
          const c = makeCase(seed++, modes, pm, xm);
          await eng.load(c.problem);
          await ref.load(c.problem);
          await cpu.load(c.problem);
          expect(eng.plan.resident).toBe(options.diffraction !== "stream");
          for (const req of [ALL, { ...ALL, positions: SUBSET }, { ptycho: true, xrf: true, probeGradient: true }]) {
            const got = structuredClone(await eng.evaluate(c.state, req));
            expectParity(got, await ref.evaluate(c.state, req));
            expectParity(got, await cpu.evaluate(c.state, req));
            if (req.positions) {
              const inBatch = new Set(req.positions);
              for (let j = 0; j < NPOS; j++) if (!inBatch.has(j)) expect([got.gPositions![2 * j], got.gPositions![2 * j + 1]]).toEqual([0, 0]);
            }
          }
        }
      }
    });
  }

  it("spectral FFT (tf.spectral.fft), one and three elements, empty mini-batch", async () => {
    const eng = await tfjs({ fft: "spectral", maxBatch: 8 }), ref = new ReferenceEngine();
    for (const elements of [1, 3]) {
      const c = makeCase(60 + elements, 2, "poisson", elements === 1 ? "poisson" : "lsq", elements);
      await eng.load(c.problem);
      await ref.load(c.problem);
      expect(eng.plan.fft).toBe("spectral");
      expectParity(structuredClone(await eng.evaluate(c.state, ALL)), await ref.evaluate(c.state, ALL));
      const empty = await eng.evaluate(c.state, { ...ALL, positions: new Int32Array(0) });
      expect(empty.lossPtycho).toBe(0);
      expect(empty.lossXrf).toBe(0);
      for (const g of [empty.gObject, empty.gMaps!, empty.gProbePtycho!, empty.gProbeXrf!, empty.gPositions!]) expect(g.every((v) => v === 0)).toBe(true);
    }
  });

  it("partial requests: ptycho only, XRF only (no object), no probe gradient", async () => {
    const c = makeCase(8, 1, "gaussian", "lsq");
    const eng = await tfjs(), ref = new ReferenceEngine();
    await eng.load(c.problem);
    await ref.load(c.problem);
    const p = await eng.evaluate(c.state, { ptycho: true, xrf: false, probeGradient: false });
    expect(p.gProbePtycho).toBeNull();
    expect(p.gMaps).toBeNull();
    expect(p.gProbeXrf).toBeNull();
    expect(p.gPositions).toBeNull();
    expect(p.lossXrf).toBe(0);
    expectParity(structuredClone(p), await ref.evaluate(c.state, { ptycho: true, xrf: false, probeGradient: false }));
    const xOnly = { object: new Float32Array(0), probe: c.state.probe, maps: c.state.maps };
    const req: EvalRequest = { ptycho: false, xrf: true, probeGradient: true, positionGradient: true };
    const x = await eng.evaluate(xOnly, req);
    expect(x.lossPtycho).toBe(0);
    expect(x.gProbePtycho).toBeNull();
    expect(x.gPositions).toBeNull(); // position gradients need the ptycho term
    expect(x.gObject.every((v) => v === 0)).toBe(true);
    expectParity(structuredClone(x), await ref.evaluate({ ...c.state }, req));
  });

  it("a per-call noise model overrides the problem's; unknown ones are rejected", async () => {
    const c = makeCase(10, 1, "gaussian", "lsq");
    const eng = await tfjs(), ref = new ReferenceEngine();
    await eng.load(c.problem);
    await ref.load(c.problem);
    const req: EvalRequest = { ptycho: true, xrf: false, probeGradient: true, ptychoModel: "poisson" };
    const switched = structuredClone(await eng.evaluate(c.state, req));
    expectParity(switched, await ref.evaluate(c.state, req));
    const asLoaded = await eng.evaluate(c.state, { ptycho: true, xrf: false, probeGradient: true });
    expect(relDiff(asLoaded.lossPtycho, switched.lossPtycho)).toBeGreaterThan(1e-3);
    await expect(eng.evaluate(c.state, { ptycho: true, xrf: false, probeGradient: false, ptychoModel: "laplace" as PtychoNoiseModel }))
      .rejects.toThrow(/unknown ptychography noise model "laplace"/);
  });

  it("intensities() and fluorescence() equal the reference (across batches)", async () => {
    const c = makeCase(9, 2, "poisson", "lsq", 3);
    const eng = await tfjs({ maxBatch: 3 }), ref = new ReferenceEngine();
    await eng.load(c.problem);
    await ref.load(c.problem);
    const d = await eng.intensities(c.state, 2, 7);
    const dr = await ref.intensities(c.state, 2, 7);
    expect(d.length).toBe(dr.length);
    expect(relL2(d, dr)).toBeLessThan(1e-6);
    const x = await eng.fluorescence(c.state), xr = await ref.fluorescence(c.state);
    expect(x.length).toBe(3 * NPOS);
    for (let i = 0; i < x.length; i++) expect(relDiff(x[i], xr[i])).toBeLessThan(1e-5);
    await expect(eng.intensities(c.state, 10, 5)).rejects.toThrow(/positions \[10, 15\) outside the scan's 12 positions/);
  });

  it("setWindows: moved positions give what a freshly loaded engine gives, and the reference's values", async () => {
    const c = makeCase(340, 2, "poisson", "lsq");
    const moved = windowsAt(MOVED_PX);
    const eng = await tfjs({ maxBatch: 4 }), fresh = await tfjs({ maxBatch: 4 }), ref = new ReferenceEngine();
    await eng.load(c.problem);
    await eng.evaluate(c.state, ALL);
    await eng.setWindows(moved);
    await fresh.load({ ...c.problem, windows: moved });
    await ref.load({ ...c.problem, windows: moved });
    const a = structuredClone(await eng.evaluate(c.state, ALL));
    expect(a).toEqual(await fresh.evaluate(c.state, ALL));
    expectParity(a, await ref.evaluate(c.state, ALL));
    await expect(eng.setWindows({ ...moved, count: 3 })).rejects.toThrow(/setWindows needs the loaded 12 positions/);
  });

  it("its position gradient is the derivative of its own loss (central differences through setWindows)", async () => {
    const c = makeCase(330, 1, "gaussian", "lsq");
    const eng = await tfjs();
    await eng.load(c.problem);
    const req: EvalRequest = { ptycho: true, xrf: false, probeGradient: false, positionGradient: true };
    const g = Float32Array.from((await eng.evaluate(c.state, req)).gPositions!);
    const dir = randomArray(seeded(331), 2 * NPOS);
    for (let j = 0; j < NPOS; j++) {
      for (const a of [0, 1]) if (Math.abs(Math.abs(WIN.corner[2 * j + a] - Math.round(WIN.corner[2 * j + a])) - 0.5) < 0.01 || j === 8) dir[2 * j + a] = 0;
    }
    const h = 2e-3;
    const lossAt = async (s: number) => {
      await eng.setWindows(windowsAt(POS_PX.map((p, i) => p + s * dir[i])));
      return (await eng.evaluate(c.state, { ptycho: true, xrf: false, probeGradient: false })).lossPtycho;
    };
    const fd = ((await lossAt(h)) - (await lossAt(-h))) / (2 * h);
    let analytic = 0;
    for (let i = 0; i < dir.length; i++) analytic += g[i] * dir[i];
    expect(relDiff(fd, analytic)).toBeLessThan(2e-3);
  });
});

describe("tfjs engine memory: plans, streaming and no leaks", () => {
  it("plans the batch from the memory budget; streams a stack that does not fit; refuses a budget too small", () => {
    const dims = { n: 64, modes: 1, height: 256, width: 256, npos: 400, elements: 2 };
    const big = planFor(dims, 2 ** 30, { fft: "matmul", indices: "host" });
    expect(big.resident).toBe(true);
    expect(big.batch).toBe(400);
    expect(big.stackBytes).toBe(400 * 64 * 64 * 4);
    const small = planFor(dims, 24 * 2 ** 20, { fft: "matmul", indices: "host" });
    expect(small.resident).toBe(false);
    expect(small.batch).toBeGreaterThan(10);
    expect(small.batch).toBeLessThan(400);
    expect(small.fixedBytes + small.batch * small.bytesPerPosition).toBeLessThanOrEqual(24 * 2 ** 20);
    expect(planFor(dims, 2 ** 30, { fft: "matmul", indices: "host", maxBatch: 50 }).batch).toBe(50);
    expect(() => planFor(dims, 2 ** 20, { fft: "matmul", indices: "host" })).toThrow(/cannot hold one position.*raise deviceMemoryBytes/);
  });

  it("a small deviceMemoryBytes streams the stack in batches with the same results", async () => {
    const c = makeCase(11, 1, "poisson", "lsq");
    const streamed = await tfjs({ deviceMemoryBytes: 4e5 }), whole = await tfjs();
    await streamed.load(c.problem);
    await whole.load(c.problem);
    expect(streamed.plan.resident).toBe(false);
    expect(streamed.plan.batch).toBeLessThan(NPOS);
    expect(whole.plan).toMatchObject({ resident: true, batch: NPOS, fft: "matmul", indices: "host" });
    expectParity(structuredClone(await streamed.evaluate(c.state, ALL)), await whole.evaluate(c.state, ALL), { loss: 1e-6, grad: 1e-6 });
  });

  it("every call frees its tensors; dispose frees the problem's; later calls throw", async () => {
    const c = makeCase(12, 2, "weighted", "poisson");
    const start = tf.memory().numTensors;
    const eng = await TfjsEngine.create({ backend: "cpu", maxBatch: 5 });
    await eng.load(c.problem);
    const loaded = tf.memory().numTensors;
    expect(loaded).toBeGreaterThan(start);
    await eng.evaluate(c.state, ALL);
    expect(eng.memory().numTensors).toBe(loaded);
    await eng.evaluate(c.state, { ...ALL, positions: SUBSET });
    await eng.intensities(c.state, 0, NPOS);
    await eng.fluorescence(c.state);
    await expect(eng.evaluate({ ...c.state, maps: undefined }, ALL)).rejects.toThrow(/needs state.maps/);
    expect(tf.memory().numTensors).toBe(loaded);
    await eng.load(c.problem); // reloading replaces, does not add
    expect(tf.memory().numTensors).toBe(loaded);
    await eng.dispose();
    expect(tf.memory().numTensors).toBe(start);
    await expect(eng.evaluate(c.state, ALL)).rejects.toThrow(/evaluate after dispose\(\)/);
    await eng.dispose();
  });
});

describe("tfjs engine errors, registry and engine selection", () => {
  it("rejects bad inputs with clear messages and keeps working", async () => {
    const c = makeCase(41, 1, "gaussian", "lsq");
    const eng = await tfjs(), ref = new ReferenceEngine();
    await expect(eng.evaluate(c.state, ALL)).rejects.toThrow(/tfjs engine: load\(\) a problem first/);
    await expect(eng.load({ ...c.problem, diffraction: new Float32Array(5) })).rejects.toThrow(/diffraction stack holds 5 values/);
    await eng.load(c.problem);
    await ref.load(c.problem);
    await expect(eng.evaluate({ ...c.state, object: new Float32Array(4) }, ALL)).rejects.toThrow(/object holds 4 floats/);
    await expect(eng.evaluate({ ...c.state, probe: new Float32Array(4) }, ALL)).rejects.toThrow(/probe holds 4 floats/);
    await expect(eng.evaluate(c.state, { ...ALL, positions: Int32Array.from([0, NPOS]) })).rejects.toThrow(/batch position 12/);
    expectParity(structuredClone(await eng.evaluate(c.state, ALL)), await ref.evaluate(c.state, ALL));
    expect(() => new TfjsEngine(eng.runtime, { maxBatch: 0 })).toThrow(/maxBatch/);
    await expect(loadRuntime("webgpu" as "cpu")).rejects.toThrow(/unknown backend "webgpu"/);
  });

  it("createEngine('tfjs') runs here on tfjs's CPU backend; an explicit tensorflow backend says why it is missing", async () => {
    const lines: string[] = [];
    const e = track(await createEngine("tfjs", { threads: 2, log: (l) => lines.push(l) }));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^engine tfjs: tfjs-cpu: pure-JS CPU backend.*; @tensorflow\/tfjs-node-gpu is not installed; @tensorflow\/tfjs-node is not installed$/);
    expect(e.name).toBe("tfjs");
    expect(e.device).toMatch(/^tfjs-cpu: pure-JS CPU backend/);
    expect((e as TfjsEngine).runtime.notes.join(" ")).toMatch(/@tensorflow\/tfjs-node-gpu is not installed/);
    await expect(TfjsEngine.create({ backend: "tensorflow" })).rejects.toThrow(/@tensorflow\/tfjs-node-gpu is not installed; @tensorflow\/tfjs-node is not installed/);
    expect(tf.getBackend()).toBe("cpu");
  });

  it("auto: the cpu engine when tfjs-node-gpu is missing (reason logged and in device); tfjs when a GPU loads", async () => {
    const lines: string[] = [];
    const a = track(await autoEngine({ threads: 1, log: (l) => lines.push(l) }));
    expect(a.name).toBe("cpu");
    expect(a.device).toBe("cpu: 1 thread (in-thread) (auto: no GPU: @tensorflow/tfjs-node-gpu is not installed)");
    expect(lines).toEqual(["engine auto: cpu (cpu: 1 thread (in-thread)); no GPU: @tensorflow/tfjs-node-gpu is not installed"]);
    const c = makeCase(50, 1, "poisson", "lsq");
    await a.load(c.problem);
    const ref = new ReferenceEngine();
    await ref.load(c.problem);
    expectParity(structuredClone(await a.evaluate(c.state, ALL)), await ref.evaluate(c.state, ALL));
    // a loader that finds a GPU (simulated with the cpu backend flagged as a GPU)
    const fake = async () => ({ ...(await loadRuntime("cpu")), gpu: true, description: "gpu: simulated" });
    const g = track(await autoEngine({ log: (l) => lines.push(l), loadGpu: fake }));
    expect(g).toBeInstanceOf(TfjsEngine);
    expect(g.device).toBe("gpu: simulated");
    expect(lines[1]).toBe("engine auto: tfjs on gpu: simulated");
    // a tfjs-node that loads without a GPU, and a loader error
    const noGpu = track(await autoEngine({ threads: 1, log: () => {}, loadGpu: async () => ({ ...(await loadRuntime("cpu")), package: "@tensorflow/tfjs-node-gpu" }) }));
    expect(noGpu.device).toMatch(/auto: no GPU: @tensorflow\/tfjs-node-gpu runs on the CPU/);
    expect(fallbackReason(new Error("tfjs engine: float32 matmul on gpu: X has relative error 3e-4"))).toMatch(/^no GPU: tfjs engine: float32 matmul/);
  });

  it("parses memory sizes", () => {
    expect(parseBytes("8GiB")).toBe(8 * 2 ** 30);
    expect(parseBytes("512 MiB")).toBe(512 * 2 ** 20);
    expect(parseBytes("1e9")).toBe(1e9);
    expect(parseBytes(undefined)).toBeNull();
    expect(() => parseBytes("lots")).toThrow(/must be bytes/);
  });
});
