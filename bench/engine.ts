/**
 * cpu engine benchmark on the `bench` preset sizes: object 256 x 256, N = 64, K = 1, 400 positions on a 20 x 20
 * raster (step 10 px), Fe + Zn, full batch, ptycho + XRF, probe gradient. Times evaluate() (warm-up, then the
 * median of `reps` calls) at 1 thread (in the calling thread, and in one worker) and at 2 threads, for
 *   - integer positions and a fixed probe (the solver's common case), and
 *   - sub-pixel positions with the probe changing every call (the worst case: every shifted probe is
 *     recomputed, and the sub-pixel probe gradients cost extra FFTs).
 * and the same with position gradients (`_posgrad`: EvalRequest.positionGradient), plus the position-refinement
 * case (`subpixel_moving_2t_posgrad`: setWindows to new positions before every call, so every shifted probe is
 * recomputed, with probe and position gradients).
 * Prints one JSON object. Run: npx tsc -p tsconfig.build.json && node dist/bench/engine.js [--model poisson]
 * [--reps 15] [--threads 2]
 */
import { execFileSync } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { CpuEngine, type CpuEngineOptions } from "../src/engine/cpu/index.js";
import type { EngineProblem, EngineState, EvalRequest, PtychoNoiseModel } from "../src/engine/engine.js";
import { positionsToPixels } from "../src/physics/geometry.js";
import { windowsFromCorners } from "../src/solver/positions.js";
import { Rng } from "../src/sim/rng.js";

const SIZE = 256, N = 64, GRID = 20, STEP = 10, ELEMENTS = ["Fe", "Zn"];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/** Seeded uniforms in [0, 1) from the simulator's generator. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.uniform();
}

function makeState(rand: () => number): EngineState {
  const hw = SIZE * SIZE;
  const object = new Float32Array(2 * hw), maps = new Float32Array(ELEMENTS.length * hw);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const ph = 0.5 * Math.sin(x / 9) * Math.cos(y / 13) + 0.05 * rand();
      const amp = 0.9 + 0.1 * Math.cos((x + y) / 17);
      object[2 * (y * SIZE + x)] = amp * Math.cos(ph);
      object[2 * (y * SIZE + x) + 1] = amp * Math.sin(ph);
      for (let e = 0; e < ELEMENTS.length; e++) maps[e * hw + y * SIZE + x] = 0.5 + 0.5 * Math.sin((x * (e + 1)) / 11 + y / 7);
    }
  }
  // a defocused disc probe of ~1e7 photons
  const probe = new Float32Array(2 * N * N);
  let total = 0;
  for (let y = 0; y < N; y++) {
    for (let x = 0; x < N; x++) {
      const r2 = (y - N / 2) ** 2 + (x - N / 2) ** 2;
      const a = Math.exp(-r2 / (2 * 8 ** 2)), ph = r2 / 60;
      probe[2 * (y * N + x)] = a * Math.cos(ph);
      probe[2 * (y * N + x) + 1] = a * Math.sin(ph);
      total += a * a;
    }
  }
  const scale = Math.sqrt(1e7 / total);
  for (let i = 0; i < probe.length; i++) probe[i] *= scale;
  return { object, probe, maps };
}

async function makeProblem(subpixel: boolean, model: PtychoNoiseModel, state: EngineState): Promise<EngineProblem> {
  const rand = rng(subpixel ? 2 : 1);
  const pos = new Float64Array(2 * GRID * GRID);
  for (let i = 0; i < GRID; i++) {
    for (let j = 0; j < GRID; j++) {
      const k = i * GRID + j;
      // corners 0, 10, ..., 190 (inside 256 - 64); positions are measured from the centred window (corner 96)
      pos[2 * k] = i * STEP - (SIZE - N) / 2 + (subpixel ? 0.8 * (rand() - 0.5) : 0);
      pos[2 * k + 1] = j * STEP - (SIZE - N) / 2 + (subpixel ? 0.8 * (rand() - 0.5) : 0);
    }
  }
  const windows = positionsToPixels(pos, 1, { height: SIZE, width: SIZE }, N);
  const npos = windows.count;
  const diffraction = new Float32Array(new SharedArrayBuffer(4 * npos * N * N));
  const base: EngineProblem = {
    windows, modes: 1, diffraction, ptychoModel: model,
    xrf: { elements: ELEMENTS, sensitivity: Float32Array.from([1, 0.5]), measured: new Float32Array(2 * npos), model: "lsq" },
  };
  // measured data: the model of a slightly different state, rounded to counts
  const sim = new CpuEngine({ threads: 1 });
  await sim.load(base);
  const truth: EngineState = { ...state, object: state.object.map((v, i) => v * (1 + 0.02 * Math.sin(i / 77))) };
  diffraction.set((await sim.intensities(truth, 0, npos)).map((v) => Math.round(v)));
  base.xrf!.measured.set((await sim.fluorescence(truth)).map((v) => v * 1.01));
  await sim.dispose();
  return base;
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function time(
  options: CpuEngineOptions, problem: EngineProblem, state: EngineState, changeProbe: boolean, reps: number,
  positionGradient = false, move = false,
): Promise<{ median: number; min: number }> {
  const engine = new CpuEngine(options);
  await engine.load(problem);
  const req: EvalRequest = { ptycho: true, xrf: true, probeGradient: true, positionGradient };
  const probe = Float32Array.from(state.probe);
  const s: EngineState = { ...state, probe };
  const w = problem.windows;
  const moved = [w, windowsFromCorners(w.corner.map((c, i) => c + 0.01 * Math.sin(i)), w, w.n)];
  const times: number[] = [];
  for (let i = 0; i < reps + 5; i++) {
    if (changeProbe) probe[0] *= i % 2 ? 1.0001 : 1 / 1.0001;
    const t = performance.now();
    if (move) await engine.setWindows(moved[(i + 1) % 2]);
    await engine.evaluate(s, req);
    if (i >= 5) times.push(performance.now() - t);
    if (process.env.BENCH_TRACE) console.error(i, (performance.now() - t).toFixed(1), engine.lastKernelMs.map((v) => v.toFixed(1)).join(" "));
  }
  await engine.dispose();
  return { median: +median(times).toFixed(2), min: +Math.min(...times).toFixed(2) };
}

/** Configurations, each timed in a fresh child process (fresh JIT state, as in a solver run). */
const CONFIGS: [key: string, only: string][] = [
  ["ms_per_eval_1t", "1,int"],
  ["ms_per_eval_1t_worker", "1w,int"],
  ["ms_per_eval_2t", "2,int"],
  ["subpixel_fixed_probe_1t", "1,sub"],
  ["subpixel_fixed_probe_2t", "2,sub"],
  ["subpixel_probe_changing_1t", "1,sub,change"],
  ["subpixel_probe_changing_2t", "2,sub,change"],
  ["ms_per_eval_1t_posgrad", "1,int,fixed,pos"],
  ["ms_per_eval_2t_posgrad", "2,int,fixed,pos"],
  ["subpixel_fixed_probe_2t_posgrad", "2,sub,fixed,pos"],
  ["subpixel_probe_changing_2t_posgrad", "2,sub,change,pos"],
  ["subpixel_moving_2t_posgrad", "2,sub,change,pos,move"],
];

async function main(): Promise<void> {
  const model = arg("model", "poisson") as PtychoNoiseModel;
  const reps = Number(arg("reps", "15"));
  const only = arg("only", "");
  if (only) {
    // one configuration: threads ("1", "1w" = one worker, "2"...), "int" | "sub", then optional flags:
    // "change" (the probe changes every call), "pos" (position gradients), "move" (setWindows every call)
    const [t, sub, ...flags] = only.split(",");
    const state = makeState(rng(7));
    const problem = await makeProblem(sub === "sub", model, state);
    const r = await time({ threads: t === "1w" ? 1 : Number(t), inThread: t === "1w" ? false : undefined }, problem,
      state, flags.includes("change"), reps, flags.includes("pos"), flags.includes("move"));
    console.log(JSON.stringify({ only, ...r }));
    return;
  }
  const out: Record<string, unknown> = {
    preset: { object: SIZE, N, modes: 1, positions: GRID * GRID, elements: ELEMENTS.length, model, reps },
    cores: os.availableParallelism(),
  };
  const script = fileURLToPath(import.meta.url);
  for (const [key, cfg] of CONFIGS) {
    if (Number(cfg.split(",")[0].replace("w", "")) > os.availableParallelism()) continue;
    const res = execFileSync(process.execPath, [script, "--only", cfg, "--model", model, "--reps", String(reps)], {
      encoding: "utf8",
    });
    out[key] = JSON.parse(res.trim().split("\n").pop()!).median;
  }
  console.log(JSON.stringify(out, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
