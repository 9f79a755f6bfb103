import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { CpuEngine, SplitFFT2, workerScriptUrl } from "../../src/engine/cpu/index.js";
import type { EngineProblem, EngineState, EvalRequest, EvalResult } from "../../src/engine/engine.js";
import { createEngine, engineNames } from "../../src/engine/index.js";
import { fft2 } from "../../src/physics/fft.js";
import { xrfLoss, type PtychoNoiseModel, type XrfNoiseModel } from "../../src/physics/losses.js";
import { ptychoIntensities, ptychoLossGradient } from "../../src/physics/ptycho.js";
import { xrfAdjoint, xrfForward, xrfProbeGradient } from "../../src/physics/xrf.js";
import { randomArray, seeded } from "../physics/helpers.js";
import { H, N, NPOS, relL2, SUBSET, W, WIN as win } from "./fixtures.js";

const ALL_ELEMENTS = ["Fe", "Zn", "Cu"];
const ALL_SENS = [2.5, 0.7, 1.3];
const BACKGROUND = 0.1;

const f32 = (a: ArrayLike<number>) => Float32Array.from(a);
const f64 = (a: ArrayLike<number>) => Float64Array.from(a);

function complexNear1(rand: () => number, count: number, spread = 0.3): Float64Array {
  const a = randomArray(rand, 2 * count, -spread, spread);
  for (let i = 0; i < count; i++) a[2 * i] += 1;
  return a;
}


function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

interface Case {
  problem: EngineProblem;
  state: EngineState;
}

/** Random state, and measured data = a noisy model of a nearby "true" state. */
function makeCase(
  seed: number, modes: number, ptychoModel: PtychoNoiseModel, xrfModel: XrfNoiseModel, elementCount = 2,
): Case {
  const rand = seeded(seed);
  const ELEMENTS = ALL_ELEMENTS.slice(0, elementCount), SENS = Float32Array.from(ALL_SENS.slice(0, elementCount));
  const hw = H * W, probeLen = 2 * modes * N * N;
  const probe = randomArray(rand, probeLen, -1, 1);
  const state: EngineState = {
    object: f32(complexNear1(rand, hw)),
    probe: f32(probe),
    maps: f32(randomArray(rand, ELEMENTS.length * hw, 0, 1)),
  };
  const trueObject = f64(complexNear1(rand, hw, 0.35));
  const trueMaps = randomArray(rand, ELEMENTS.length * hw, 0, 1);
  const d = new Float64Array(NPOS * N * N);
  ptychoIntensities(trueObject, f64(state.probe), win, 0, NPOS, d, BACKGROUND);
  const diffraction = new Float32Array(d.length);
  for (let i = 0; i < d.length; i++) diffraction[i] = i % 11 === 0 ? 0 : Math.round(d[i] * (1 + 0.2 * (rand() - 0.5)) * 10) / 10;
  const x = xrfReference(ELEMENTS, trueMaps, f64(state.probe), SENS);
  const measured = f32(x.map((v) => v * (1 + 0.2 * (rand() - 0.5))));
  return {
    state,
    problem: {
      windows: win, modes, diffraction, ptychoModel, background: BACKGROUND,
      xrf: { elements: ELEMENTS, sensitivity: SENS, measured, model: xrfModel },
    },
  };
}

const hw = H * W;
const mapViews = (els: string[], maps: Float64Array) => Object.fromEntries(els.map((el, e) => [el, maps.subarray(e * hw, (e + 1) * hw)]));
const sensRecord = (els: string[], s: Float32Array) => Object.fromEntries(els.map((el, e) => [el, s[e]]));

/** X [E, npos] with the physics operators (float64). */
function xrfReference(els: string[], maps: Float64Array, probe: Float64Array, sens: Float32Array): Float64Array {
  const out = new Float64Array(els.length * NPOS);
  const views = Object.fromEntries(els.map((el, e) => [el, out.subarray(e * NPOS, (e + 1) * NPOS)]));
  xrfForward(mapViews(els, maps), sensRecord(els, sens), probe, win, 0, NPOS, views);
  return out;
}

interface Reference {
  lossPtycho: number;
  lossXrf: number;
  gObject: Float64Array;
  gProbePtycho: Float64Array;
  gMaps: Float64Array;
  gProbeXrf: Float64Array;
}

/** The src/physics reference of one evaluate call, in float64 on the float32 inputs. */
function reference(c: Case, positions?: Int32Array): Reference {
  const { problem, state } = c;
  const xrf = problem.xrf!;
  const object = f64(state.object), probe = f64(state.probe), maps = f64(state.maps!);
  const nn = N * N;
  const list = positions ?? Int32Array.from({ length: NPOS }, (_, j) => j);
  const r: Reference = {
    lossPtycho: 0, lossXrf: 0,
    gObject: new Float64Array(object.length), gProbePtycho: new Float64Array(probe.length),
    gMaps: new Float64Array(maps.length), gProbeXrf: new Float64Array(probe.length),
  };
  const ELEMENTS = xrf.elements;
  const sens = sensRecord(ELEMENTS, xrf.sensitivity), mapsV = mapViews(ELEMENTS, maps), gMapsV = mapViews(ELEMENTS, r.gMaps);
  const one = Object.fromEntries(ELEMENTS.map((el) => [el, new Float64Array(1)]));
  const resid = Object.fromEntries(ELEMENTS.map((el) => [el, new Float64Array(1)]));
  const grad = new Float64Array(1);
  for (const j of list) {
    r.lossPtycho += ptychoLossGradient(
      object, probe, win, j, 1, problem.diffraction.subarray(j * nn, (j + 1) * nn), problem.ptychoModel,
      r.gObject, r.gProbePtycho, { background: problem.background },
    );
    xrfForward(mapsV, sens, probe, win, j, 1, one);
    ELEMENTS.forEach((el, e) => {
      r.lossXrf += xrfLoss(xrf.model, one[el], xrf.measured.subarray(e * NPOS + j, e * NPOS + j + 1), grad);
      resid[el][0] = grad[0];
    });
    xrfAdjoint(resid, sens, probe, win, j, 1, gMapsV);
    xrfProbeGradient(resid, mapsV, sens, probe, win, j, 1, r.gProbeXrf);
  }
  return r;
}

const FULL: EvalRequest = { ptycho: true, xrf: true, probeGradient: true };

function expectParity(got: EvalResult, ref: Reference): void {
  expect(Math.abs(got.lossPtycho - ref.lossPtycho) / ref.lossPtycho).toBeLessThan(1e-5);
  expect(Math.abs(got.lossXrf - ref.lossXrf) / ref.lossXrf).toBeLessThan(1e-5);
  expect(relL2(got.gObject, ref.gObject)).toBeLessThan(1e-4);
  expect(relL2(got.gProbePtycho!, ref.gProbePtycho)).toBeLessThan(1e-4);
  expect(relL2(got.gMaps!, ref.gMaps)).toBeLessThan(1e-4);
  expect(relL2(got.gProbeXrf!, ref.gProbeXrf)).toBeLessThan(1e-4);
}

const engines: CpuEngine[] = [];
function engine(threads: number, inThread?: boolean, probeCacheBytes?: number): CpuEngine {
  const e = new CpuEngine({ threads, inThread, probeCacheBytes });
  engines.push(e);
  return e;
}
afterAll(async () => {
  await Promise.all(engines.map((e) => e.dispose()));
});

describe("SplitFFT2", () => {
  it("matches a naive DFT (bit-reversed frequency layout) and inverts, for odd and even log2 N", () => {
    const rand = seeded(3);
    for (const n of [2, 4, 8, 16]) {
      const f = new SplitFFT2(n), nn = n * n;
      const re = randomArray(rand, nn), im = randomArray(rand, nn);
      const r0 = re.slice(), i0 = im.slice();
      f.forward(re, im, 0);
      let err = 0;
      for (let ky = 0; ky < n; ky++) {
        for (let kx = 0; kx < n; kx++) {
          let sr = 0, si = 0;
          for (let y = 0; y < n; y++) {
            for (let x = 0; x < n; x++) {
              const ph = (-2 * Math.PI * (ky * y + kx * x)) / n;
              sr += r0[y * n + x] * Math.cos(ph) - i0[y * n + x] * Math.sin(ph);
              si += r0[y * n + x] * Math.sin(ph) + i0[y * n + x] * Math.cos(ph);
            }
          }
          const p = f.bitrev[ky] * n + f.bitrev[kx];
          expect(f.freqIndex[p]).toBe(ky * n + kx);
          err = Math.max(err, Math.abs(re[p] - sr), Math.abs(im[p] - si));
        }
      }
      expect(err).toBeLessThan(1e-12);
      f.inverse(re, im, 0);
      for (let i = 0; i < nn; i++) {
        expect(re[i] / nn).toBeCloseTo(r0[i], 13);
        expect(im[i] / nn).toBeCloseTo(i0[i], 13);
      }
    }
  });

  it("is the centred orthonormal FFT of src/physics up to the checkerboard and 1/N (radix plans 8.4, 8.8, 8.4.4)", () => {
    const rand = seeded(4);
    for (const n of [32, 64, 128]) {
      const f = new SplitFFT2(n), nn = n * n;
      const x = randomArray(rand, 2 * nn);
      const ref = x.slice();
      fft2(n).forward(ref);
      const cb = (p: number) => (((p / n) | 0) + (p % n)) & 1 ? -1 : 1;
      const re = new Float64Array(nn), im = new Float64Array(nn);
      for (let p = 0; p < nn; p++) {
        re[p] = cb(p) * x[2 * p];
        im[p] = cb(p) * x[2 * p + 1];
      }
      f.forward(re, im, 0);
      let err = 0;
      for (let p = 0; p < nn; p++) {
        const k = f.freqIndex[p];
        err = Math.max(err, Math.abs((cb(k) * re[p]) / n - ref[2 * k]), Math.abs((cb(k) * im[p]) / n - ref[2 * k + 1]));
      }
      expect(err).toBeLessThan(1e-12);
      f.inverse(re, im, 0);
      for (let p = 0; p < nn; p++) expect(cb(p) * re[p] / nn).toBeCloseTo(x[2 * p], 12);
    }
  });
});

describe("cpu engine parity with src/physics (float64 reference)", () => {
  const models: [PtychoNoiseModel, XrfNoiseModel][] = [["gaussian", "lsq"], ["poisson", "poisson"], ["weighted", "lsq"]];
  for (const threads of [1, 2]) {
    it(`${threads} thread(s): every noise model, K = 1 and 2, all positions and a mini-batch`, async () => {
      const eng = engine(threads);
      let seed = 100;
      for (const modes of [1, 2]) {
        for (const [pm, xm] of models) {
          const c = makeCase(seed++, modes, pm, xm);
          await eng.load(c.problem);
          expectParity(await eng.evaluate(c.state, FULL), reference(c));
          expectParity(await eng.evaluate(c.state, { ...FULL, positions: SUBSET }), reference(c, SUBSET));
        }
      }
    });
  }

  it("one worker (threads: 1, inThread: false) gives the in-thread results", async () => {
    const c = makeCase(7, 2, "poisson", "poisson");
    const a = engine(1), b = engine(1, false);
    await a.load(c.problem);
    await b.load(c.problem);
    expect(b.device).toBe("cpu: 1 thread");
    const ra = structuredClone(await a.evaluate(c.state, FULL));
    const rb = await b.evaluate(c.state, FULL);
    expect(rb).toEqual(ra);
  });

  it("one or three elements; no shifted-probe cache; more threads than positions", async () => {
    for (const [elements, threads, cacheBytes] of [[1, 2, 0], [3, 3, undefined], [3, 1, 4 * 2 * 2 * N * N * 3]] as const) {
      const c = makeCase(60 + elements, 2, "poisson", elements === 1 ? "poisson" : "lsq", elements);
      const eng = engine(threads, undefined, cacheBytes);
      await eng.load(c.problem);
      for (let rep = 0; rep < 2; rep++) {
        expectParity(await eng.evaluate(c.state, FULL), reference(c));
        expectParity(await eng.evaluate(c.state, { ...FULL, positions: SUBSET.subarray(0, 2) }), reference(c, SUBSET.subarray(0, 2)));
      }
      const empty = await eng.evaluate(c.state, { ...FULL, positions: new Int32Array(0) });
      expect(empty.lossPtycho).toBe(0);
      expect(empty.gObject.every((v) => v === 0) && empty.gMaps!.every((v) => v === 0)).toBe(true);
    }
  });

  it("partial requests: ptycho only, XRF only, no probe gradient", async () => {
    const c = makeCase(8, 1, "gaussian", "lsq");
    const eng = engine(2);
    await eng.load(c.problem);
    const ref = reference(c);
    const p = await eng.evaluate(c.state, { ptycho: true, xrf: false, probeGradient: false });
    expect(p.gProbePtycho).toBeNull();
    expect(p.gMaps).toBeNull();
    expect(p.gProbeXrf).toBeNull();
    expect(p.lossXrf).toBe(0);
    expect(relL2(p.gObject, ref.gObject)).toBeLessThan(1e-4);
    const x = await eng.evaluate({ object: new Float32Array(0), probe: c.state.probe, maps: c.state.maps }, {
      ptycho: false, xrf: true, probeGradient: true,
    });
    expect(x.lossPtycho).toBe(0);
    expect(x.gProbePtycho).toBeNull();
    expect(x.gObject.every((v) => v === 0)).toBe(true);
    expect(Math.abs(x.lossXrf - ref.lossXrf) / ref.lossXrf).toBeLessThan(1e-5);
    expect(relL2(x.gMaps!, ref.gMaps)).toBeLessThan(1e-4);
    expect(relL2(x.gProbeXrf!, ref.gProbeXrf)).toBeLessThan(1e-4);
  });

  for (const threads of [1, 2]) {
    it(`${threads} thread(s): a per-call noise model overrides the problem's (noise-model schedules)`, async () => {
      const c = makeCase(10, 1, "gaussian", "lsq");
      const eng = engine(threads);
      await eng.load(c.problem);
      const switched = await eng.evaluate(c.state, { ptycho: true, xrf: false, probeGradient: true, ptychoModel: "poisson" });
      const lossSwitched = switched.lossPtycho, gSwitched = Float32Array.from(switched.gObject);
      const asLoaded = await eng.evaluate(c.state, { ptycho: true, xrf: false, probeGradient: true });
      expect(Math.abs(asLoaded.lossPtycho - lossSwitched) / lossSwitched).toBeGreaterThan(1e-3);
      const ref = reference({ ...c, problem: { ...c.problem, ptychoModel: "poisson" } });
      expect(Math.abs(lossSwitched - ref.lossPtycho) / ref.lossPtycho).toBeLessThan(1e-5);
      expect(relL2(gSwitched, ref.gObject)).toBeLessThan(1e-4);
      await expect(eng.evaluate(c.state, { ptycho: true, xrf: false, probeGradient: false, ptychoModel: "laplace" as PtychoNoiseModel }))
        .rejects.toThrow(/unknown ptychography noise model "laplace"/);
    });
  }

  for (const threads of [1, 2]) {
    it(`${threads} thread(s): intensities() and fluorescence() equal the reference`, async () => {
      const c = makeCase(9, 2, "poisson", "lsq", 3);
      const eng = engine(threads);
      await eng.load(c.problem);
      const d = await eng.intensities(c.state, 2, 7);
      const ref = new Float64Array(7 * N * N);
      ptychoIntensities(f64(c.state.object), f64(c.state.probe), win, 2, 7, ref, BACKGROUND);
      expect(d.length).toBe(ref.length);
      expect(relL2(d, ref)).toBeLessThan(1e-6);
      const x = await eng.fluorescence(c.state);
      const xrf = c.problem.xrf!;
      const xref = xrfReference(xrf.elements, f64(c.state.maps!), f64(c.state.probe), xrf.sensitivity);
      expect(x.length).toBe(3 * NPOS);
      for (let i = 0; i < x.length; i++) expect(Math.abs(x[i] - xref[i]) / Math.abs(xref[i])).toBeLessThan(1e-5);
    });
  }
});

describe("cpu engine gradient: finite differences of its own total loss", () => {
  it("object, probe and maps directions (float32 inputs, central differences)", async () => {
    const c = makeCase(21, 2, "poisson", "lsq");
    const eng = engine(2);
    await eng.load(c.problem);
    const g = structuredClone(await eng.evaluate(c.state, FULL));
    const total = async (s: EngineState) => {
      const r = await eng.evaluate(s, { ptycho: true, xrf: true, probeGradient: false });
      return r.lossPtycho + r.lossXrf;
    };
    const rand = seeded(22);
    for (const key of ["object", "probe", "maps"] as const) {
      for (let trial = 0; trial < 2; trial++) {
        const x = c.state[key]!;
        const h = randomArray(rand, x.length);
        const step = 1e-3 * Math.sqrt(dot(x, x) / dot(h, h));
        const plus = f32(x.map((v, i) => v + step * h[i])), minus = f32(x.map((v, i) => v - step * h[i]));
        const fd = (await total({ ...c.state, [key]: plus })) - (await total({ ...c.state, [key]: minus }));
        // the actual (float32-rounded) perturbation; dL = 2 Re <dL/dz*, dz> for complex z, <dL/dc, dc> for maps
        const dz = plus.map((v, i) => v - minus[i]);
        const analytic = key === "object"
          ? 2 * dot(g.gObject, dz)
          : key === "probe"
            ? 2 * (dot(g.gProbePtycho!, dz) + dot(g.gProbeXrf!, dz))
            : dot(g.gMaps!, dz);
        expect(Math.abs(fd - analytic) / Math.abs(analytic)).toBeLessThan(1e-3);
      }
    }
  });
});

describe("cpu engine shifted-probe cache", () => {
  for (const threads of [1, 2]) {
    it(`${threads} thread(s): a changed probe gives exactly what a fresh engine gives`, async () => {
      const c = makeCase(31, 2, "weighted", "poisson");
      const rand = seeded(32);
      const eng = engine(threads), fresh = engine(threads);
      await eng.load(c.problem);
      await fresh.load(c.problem);
      await eng.evaluate(c.state, FULL);
      // mutate the same array in place (a solver updating its probe)
      const probe = c.state.probe;
      for (let i = 0; i < probe.length; i++) probe[i] += 0.05 * (rand() - 0.5);
      const changed = structuredClone(await eng.evaluate(c.state, FULL));
      expect(changed).toEqual(await fresh.evaluate(c.state, FULL));
      // and a new array; then back to a cached probe with a mini-batch
      const other = { ...c.state, probe: f32(probe.map((v) => v * 0.9)) };
      const a = structuredClone(await eng.evaluate(other, { ...FULL, positions: SUBSET }));
      const fresh2 = engine(threads);
      await fresh2.load(c.problem);
      expect(a).toEqual(await fresh2.evaluate(other, { ...FULL, positions: SUBSET }));
      expectParity(a, reference({ problem: c.problem, state: other }, SUBSET));
    });
  }
});

describe("cpu engine lifecycle and errors", () => {
  it("rejects bad inputs with clear messages", async () => {
    const c = makeCase(41, 1, "gaussian", "lsq");
    const eng = engine(2);
    await expect(eng.evaluate(c.state, FULL)).rejects.toThrow(/load\(\) a problem first/);
    await expect(eng.load({ ...c.problem, diffraction: new Float32Array(5) })).rejects.toThrow(/diffraction stack holds 5 values/);
    await eng.load(c.problem);
    await expect(eng.evaluate({ ...c.state, object: new Float32Array(4) }, FULL)).rejects.toThrow(/object holds 4 floats/);
    await expect(eng.evaluate(c.state, { ...FULL, positions: Int32Array.from([0, NPOS]) })).rejects.toThrow(/batch position 12/);
    await expect(eng.evaluate({ ...c.state, maps: undefined }, FULL)).rejects.toThrow(/needs state.maps/);
    // the engine still works after rejected calls
    expectParity(await eng.evaluate(c.state, FULL), reference(c));
    expect(() => new CpuEngine({ threads: 0 })).toThrow(/threads/);
  });

  it("adopts a SharedArrayBuffer diffraction stack without copying", async () => {
    const c = makeCase(42, 1, "poisson", "lsq");
    const shared = new Float32Array(new SharedArrayBuffer(c.problem.diffraction.byteLength));
    shared.set(c.problem.diffraction);
    const eng = engine(2);
    await eng.load({ ...c.problem, diffraction: shared });
    const before = (await eng.evaluate(c.state, FULL)).lossPtycho;
    shared[0] += 1000; // the engine reads the caller's shared stack
    expect((await eng.evaluate(c.state, FULL)).lossPtycho).not.toBe(before);
  });

  it("dispose terminates the workers; later calls throw", async () => {
    const c = makeCase(43, 1, "gaussian", "lsq");
    const eng = new CpuEngine({ threads: 2 });
    await eng.load(c.problem);
    await eng.evaluate(c.state, FULL);
    await eng.dispose();
    await expect(eng.evaluate(c.state, FULL)).rejects.toThrow(/evaluate after dispose\(\)/);
    await expect(eng.load(c.problem)).rejects.toThrow(/after dispose/);
    await eng.dispose(); // idempotent
  });

  it("a process exits after dispose, and also when dispose is forgotten", () => {
    const url = pathToFileURL(path.resolve("dist/src/engine/cpu/cpuEngine.js")).href;
    for (const tail of ["await e.dispose();", ""]) {
      const script = `
        import { CpuEngine } from ${JSON.stringify(url)};
        const n = 8, count = 2, win = { height: 8, width: 8, n, count, corner: new Float64Array(4),
          iy: new Int32Array(count), ix: new Int32Array(count), fy: Float64Array.from([0, 0.3]), fx: new Float64Array(count) };
        const e = new CpuEngine({ threads: 2 });
        await e.load({ windows: win, modes: 1, diffraction: new Float32Array(count * n * n).fill(1), ptychoModel: "poisson" });
        const r = await e.evaluate({ object: new Float32Array(128).fill(1), probe: new Float32Array(128).fill(0.5) },
          { ptycho: true, xrf: false, probeGradient: true });
        console.log(r.lossPtycho > 0 ? "ok" : "bad");
        ${tail}`;
      const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { timeout: 20_000, encoding: "utf8" });
      expect(out.trim()).toBe("ok");
    }
  });

  it("names the compiled worker, and says to build when it is missing", () => {
    expect(workerScriptUrl(pathToFileURL("/x/dist/src/engine/cpu/cpuEngine.js").href).href).toBe("file:///x/dist/src/engine/cpu/worker.js");
    const dir = mkdtempSync(path.join(os.tmpdir(), "ptyxrf-"));
    writeFileSync(path.join(dir, "package.json"), "{}");
    expect(() => workerScriptUrl(pathToFileURL(path.join(dir, "src/engine/cpu/cpuEngine.ts")).href)).toThrow(/npm run build/);
  });

  it("createEngine builds registered engines and names the valid ones otherwise", async () => {
    expect(engineNames()).toEqual(["cpu", "reference", "tfjs", "auto"]);
    const e = await createEngine("cpu", { threads: 1 });
    expect(e.name).toBe("cpu");
    expect(e.device).toMatch(/^cpu: 1 thread/);
    await e.dispose();
    expect((await createEngine("reference")).name).toBe("reference");
    await expect(createEngine("gpu9000" as "cpu")).rejects.toThrow(/unknown engine "gpu9000" \(valid: cpu, reference, tfjs, auto\)/);
  });
});
