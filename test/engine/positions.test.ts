/** Position gradients and setWindows: the cpu engine against the reference engine (src/physics, float64). */
import { afterAll, describe, expect, it } from "vitest";
import { CpuEngine } from "../../src/engine/cpu/index.js";
import type { EngineProblem, EngineState, EvalRequest } from "../../src/engine/engine.js";
import { ReferenceEngine } from "../../src/engine/reference.js";
import { positionsToPixels } from "../../src/physics/geometry.js";
import type { PtychoNoiseModel } from "../../src/physics/losses.js";
import { ptychoIntensities } from "../../src/physics/ptycho.js";
import { randomArray, seeded } from "../physics/helpers.js";
import { dx, H, MOVED_PX, N, NPOS, POS_PX, relL2, SUBSET, W, WIN, windowsAt } from "./fixtures.js";



function makeCase(seed: number, modes: number, model: PtychoNoiseModel): { problem: EngineProblem; state: EngineState } {
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
  const maps = Float32Array.from(randomArray(rand, 2 * hw, 0, 1));
  const measured = Float32Array.from(randomArray(rand, 2 * NPOS, 1, 2));
  return {
    state: { object, probe, maps },
    problem: {
      windows: WIN, modes, diffraction, ptychoModel: model, background: 0.1,
      xrf: { elements: ["Fe", "Zn"], sensitivity: Float32Array.from([2, 0.5]), measured, model: "lsq" },
    },
  };
}

const engines: { dispose(): Promise<void> }[] = [];
function cpu(threads: number, probeCacheBytes?: number): CpuEngine {
  const e = new CpuEngine({ threads, probeCacheBytes });
  engines.push(e);
  return e;
}
afterAll(async () => {
  await Promise.all(engines.map((e) => e.dispose()));
});

const POS: EvalRequest = { ptycho: true, xrf: false, probeGradient: false, positionGradient: true };

describe("position gradients: cpu engine parity with the reference engine", () => {
  for (const threads of [1, 2]) {
    it(`${threads} thread(s): noise models, K = 1 and 2, with and without probe gradients / XRF, mini-batches`, async () => {
      const eng = cpu(threads), ref = new ReferenceEngine();
      let seed = 300;
      for (const modes of [1, 2]) {
        for (const model of ["gaussian", "poisson", "weighted"] as const) {
          const c = makeCase(seed++, modes, model);
          await eng.load(c.problem);
          await ref.load(c.problem);
          const requests: EvalRequest[] = [
            POS, { ...POS, probeGradient: true }, { ...POS, xrf: true, probeGradient: true },
            { ...POS, positions: SUBSET }, { ...POS, probeGradient: true, positions: SUBSET },
          ];
          for (const req of requests) {
            const r = structuredClone(await ref.evaluate(c.state, req));
            const g = await eng.evaluate(c.state, req);
            expect(r.gPositions).not.toBeNull();
            expect(relL2(g.gPositions!, r.gPositions!)).toBeLessThan(1e-4);
            expect(Math.abs(g.lossPtycho - r.lossPtycho) / r.lossPtycho).toBeLessThan(1e-5);
            expect(relL2(g.gObject, r.gObject)).toBeLessThan(1e-4);
            if (req.probeGradient) expect(relL2(g.gProbePtycho!, r.gProbePtycho!)).toBeLessThan(1e-4);
            if (req.positions) {
              const inBatch = new Set(req.positions);
              for (let j = 0; j < NPOS; j++) {
                if (!inBatch.has(j)) expect([g.gPositions![2 * j], g.gPositions![2 * j + 1]]).toEqual([0, 0]);
              }
            }
          }
          // a changed probe (the integer positions' probe derivative and the sub-pixel spectra follow it)
          const changed = { ...c.state, probe: c.state.probe.map((v, i) => v * (1 + 0.1 * Math.sin(i))) };
          const r = structuredClone(await ref.evaluate(changed, POS));
          expect(relL2((await eng.evaluate(changed, POS)).gPositions!, r.gPositions!)).toBeLessThan(1e-4);
        }
      }
    });
  }

  it("is null unless requested with the ptycho term; requesting it does not change the other outputs", async () => {
    const c = makeCase(320, 2, "poisson");
    const eng = cpu(2);
    await eng.load(c.problem);
    const full: EvalRequest = { ptycho: true, xrf: true, probeGradient: true };
    const without = structuredClone(await eng.evaluate(c.state, full));
    expect(without.gPositions).toBeNull();
    const withPos = structuredClone(await eng.evaluate(c.state, { ...full, positionGradient: true }));
    expect(withPos.gPositions).not.toBeNull();
    expect({ ...withPos, gPositions: null }).toEqual(without);
    expect((await eng.evaluate(c.state, { ptycho: false, xrf: true, probeGradient: false, positionGradient: true })).gPositions).toBeNull();
  });

  it("cpu engine: central differences of its own loss in the continuous positions (via setWindows)", async () => {
    const c = makeCase(330, 1, "gaussian");
    const eng = cpu(2);
    await eng.load(c.problem);
    const g = structuredClone((await eng.evaluate(c.state, POS)).gPositions!);
    const rand = seeded(331);
    const dir = randomArray(rand, 2 * NPOS);
    const h = 2e-3; // float32 losses: a larger step
    const lossAt = async (s: number) => {
      await eng.setWindows(windowsAt(POS_PX.map((p, i) => p + s * dir[i])));
      return (await eng.evaluate(c.state, { ptycho: true, xrf: false, probeGradient: false })).lossPtycho;
    };
    // positions at exactly +-0.5 or 1e-9 would flip their rounding: leave them out of the direction
    for (let j = 0; j < NPOS; j++) {
      for (const a of [0, 1]) if (Math.abs(Math.abs(WIN.corner[2 * j + a] - Math.round(WIN.corner[2 * j + a])) - 0.5) < 0.01 || j === 8) dir[2 * j + a] = 0;
    }
    const fd = ((await lossAt(h)) - (await lossAt(-h))) / (2 * h);
    let analytic = 0;
    for (let i = 0; i < dir.length; i++) analytic += g[i] * dir[i];
    expect(Math.abs(fd - analytic) / Math.abs(analytic)).toBeLessThan(2e-3);
  });
});

describe("setWindows", () => {
  for (const threads of [1, 2]) {
    it(`${threads} thread(s): moved positions give exactly what a freshly loaded engine gives`, async () => {
      const c = makeCase(340, 2, "poisson");
      const moved = windowsAt(MOVED_PX);
      // integer corners change and integer positions become sub-pixel (the cache must grow)
      expect(Array.from(moved.iy).some((v, j) => v !== WIN.iy[j])).toBe(true);
      const intToSub = Array.from({ length: NPOS }, (_, j) => j).filter((j) => WIN.fy[j] === 0 && WIN.fx[j] === 0 && (moved.fy[j] !== 0 || moved.fx[j] !== 0));
      expect(intToSub.length).toBeGreaterThan(0);
      for (const cacheBytes of [undefined, 0, 4 * 2 * 2 * N * N * 5]) {
        const eng = cpu(threads, cacheBytes), fresh = cpu(threads, cacheBytes);
        const full: EvalRequest = { ptycho: true, xrf: true, probeGradient: true, positionGradient: true };
        await eng.load(c.problem);
        await eng.evaluate(c.state, full); // fill the shifted-probe cache at the old positions
        await eng.setWindows(moved);
        await fresh.load({ ...c.problem, windows: moved });
        expect(structuredClone(await eng.evaluate(c.state, full))).toEqual(await fresh.evaluate(c.state, full));
        const sub = { ...full, positions: SUBSET };
        expect(structuredClone(await eng.evaluate(c.state, sub))).toEqual(await fresh.evaluate(c.state, sub));
        expect(await eng.intensities(c.state, 3, 5)).toEqual(await fresh.intensities(c.state, 3, 5));
        expect(await eng.fluorescence(c.state)).toEqual(await fresh.fluorescence(c.state));
        // and back
        await eng.setWindows(WIN);
        await fresh.load(c.problem);
        expect(structuredClone(await eng.evaluate(c.state, full))).toEqual(await fresh.evaluate(c.state, full));
      }
    });
  }

  it("the reference engine follows too; sizes must match and windows must fit", async () => {
    const c = makeCase(350, 1, "gaussian");
    const moved = windowsAt(MOVED_PX);
    const ref = new ReferenceEngine(), fresh = new ReferenceEngine();
    await ref.load(c.problem);
    await ref.setWindows(moved);
    await fresh.load({ ...c.problem, windows: moved });
    const full: EvalRequest = { ptycho: true, xrf: true, probeGradient: true, positionGradient: true };
    expect(structuredClone(await ref.evaluate(c.state, full))).toEqual(await fresh.evaluate(c.state, full));
    const eng = cpu(2);
    await eng.load(c.problem);
    const small = positionsToPixels([0, 0], dx, { height: H, width: W }, N);
    await expect(eng.setWindows(small)).rejects.toThrow(/setWindows needs the loaded 12 positions/);
    await expect(ref.setWindows(small)).rejects.toThrow(/setWindows needs the loaded 12 positions/);
    const outside = windowsAt(MOVED_PX);
    outside.iy[0] = H - N + 1;
    await expect(eng.setWindows(outside)).rejects.toThrow(/window 0 at corner/);
    await expect(ref.setWindows(outside)).rejects.toThrow(/window 0 at corner/);
    // a rejected call leaves the engine as it was
    const again = new CpuEngine({ threads: 2 });
    engines.push(again);
    await again.load(c.problem);
    expect(structuredClone(await eng.evaluate(c.state, full))).toEqual(await again.evaluate(c.state, full));
  });
});
