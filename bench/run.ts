/**
 * `npm run bench [-- --json] [-- --threads T] [-- --iterations N]`: the speed of a full-batch joint iteration
 * (ptychography + XRF, probe refinement on) on the `bench` preset: object 256 x 256, probe 64 x 64,
 * 400 positions, 2 elements. Runs at 1 thread and at all cores (or at --threads), reports the median time
 * per iteration after warm-up, and the process's peak RSS.
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { createEngine } from "../src/engine/index.js";
import { simulate } from "../src/sim/simulate.js";
import { reconstruct } from "../src/solver/reconstruct.js";
import type { LoadedScan } from "../src/solver/problem.js";

const { values } = parseArgs({
  options: { json: { type: "boolean" }, threads: { type: "string" }, iterations: { type: "string" }, warmup: { type: "string" } },
});
const iterations = Number(values.iterations ?? 30);
const warmup = Number(values.warmup ?? 5);
const cores = os.availableParallelism();
const threadCounts = values.threads ? [Number(values.threads)] : [...new Set([1, cores])];

const sim = simulate({ preset: "bench", seed: 1 });
const { npos, frameSize: n } = sim.header;
const diffraction = new Float32Array(new SharedArrayBuffer(4 * npos * n * n));
diffraction.set(sim.frames.frames(0, npos));
const scan: LoadedScan = { header: sim.header, diffraction, source: "sim:bench" };

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s[s.length >> 1];
}

const runs: { threads: number; ms_per_iter: number; device: string }[] = [];
for (const threads of threadCounts) {
  const engine = await createEngine("cpu", { threads });
  const times: number[] = [];
  let last = 0;
  try {
    await reconstruct(scan, { mode: "joint", iterations: warmup + iterations, probe: { refine: true, refineAfter: 0 } }, {
      engine,
      onIteration: (record) => {
        const t = record.time_s * 1000;
        if (record.iteration > warmup) times.push(t - last);
        last = t;
      },
    });
  } finally {
    await engine.dispose();
  }
  runs.push({ threads, ms_per_iter: median(times), device: engine.device });
}
const peak_rss_mb = process.resourceUsage().maxRSS / 1024;
const best = runs[runs.length - 1];
const result = {
  ms_per_iter: Number(best.ms_per_iter.toFixed(2)),
  threads: best.threads,
  peak_rss_mb: Number(peak_rss_mb.toFixed(1)),
  by_threads: Object.fromEntries(runs.map((r) => [r.threads, Number(r.ms_per_iter.toFixed(2))])),
  preset: { object: sim.config.objectSize, probe: n, positions: npos, elements: sim.config.elements.length },
  iterations_timed: iterations,
  device: best.device,
};
if (values.json) console.log(JSON.stringify(result));
else {
  for (const r of runs) console.log(`${r.threads} thread(s): ${r.ms_per_iter.toFixed(1)} ms per joint iteration (${r.device})`);
  console.log(`peak RSS ${peak_rss_mb.toFixed(0)} MB; bench preset: object ${result.preset.object}, probe ${n}, ${npos} positions, ${result.preset.elements} elements, probe refinement on`);
}
