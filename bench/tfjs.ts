/**
 * The tfjs engine's design measurements on the current tfjs backend (tfjs's pure-JS CPU backend here; the
 * tensorflow backend where @tensorflow/tfjs-node(-gpu) is installed: `--backend tensorflow`):
 *
 *   complex   complex64 tensors vs split float32 planes: an element-wise product and |z|^2
 *   fft       centred FFT2 of B x N x N: tf.spectral.fft (rows, transpose, rows) vs the DFT as matrix products
 *             (4 + 4 real GEMMs, the engine's "matmul"; and 3 + 3 with the Karatsuba product)
 *   scatter   adding B windows of N x N into an H x W plane: tf.scatterND (sums duplicate indices) vs
 *             per-window tf.pad + tf.addN, one-hot matrix products and (--full, or a non-cpu backend)
 *             tf.unsortedSegmentSum, whose tfjs-cpu kernel costs O(H W x B N^2): ~30 s for 36 x 32^2 -> 128^2
 *   gather    window extraction (tf.gather of flat indices) and building those indices on the device
 *   engine    one evaluate (ptycho + XRF + probe gradient) of the tfjs engine against the cpu engine
 *
 * `node dist/bench/tfjs.js [--json] [--backend cpu|tensorflow] [--full]` (`--full` adds the bench preset's
 * 400 x 64 x 64 sizes, tf.spectral.fft at 100 x 64 x 64 and tf.unsortedSegmentSum at 36 x 32 x 32: slow on tfjs-cpu).
 * Never part of `npm test`.
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { CpuEngine } from "../src/engine/cpu/index.js";
import type { EngineProblem, EngineState } from "../src/engine/engine.js";
import { loadRuntime, TfjsEngine, type TfjsBackendChoice } from "../src/engine/tfjs/index.js";
import { positionsToPixels } from "../src/physics/geometry.js";

const { values } = parseArgs({ options: { json: { type: "boolean" }, backend: { type: "string" }, full: { type: "boolean" } } });
const runtime = await loadRuntime((values.backend ?? "cpu") as TfjsBackendChoice);
const results: Record<string, Record<string, number>> = {};
const log = (line: string) => { if (!values.json) console.log(line); };
log(`backend: ${runtime.description}`);

/** Median milliseconds of fn (after one warm-up), disposing what it returns; data() forces GPU work to finish. */
async function time(fn: () => tf.Tensor | tf.Tensor[], reps = 5): Promise<number> {
  const once = async () => {
    const out = fn();
    const list = Array.isArray(out) ? out : [out];
    await Promise.all(list.map((t) => t.data()));
    list.forEach((t) => t.dispose());
  };
  await once();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await once();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return ms[ms.length >> 1];
}

function record(group: string, key: string, ms: number): void {
  (results[group] ??= {})[key] = Number(ms.toFixed(2));
  log(`  ${group.padEnd(22)} ${key.padEnd(34)} ${ms.toFixed(2).padStart(10)} ms`);
}

function dft(n: number): [tf.Tensor2D, tf.Tensor2D] {
  const re = new Float32Array(n * n), im = new Float32Array(n * n);
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < n; j++) {
      const ph = (-2 * Math.PI * (((k - n / 2) * (j - n / 2)) % n)) / n;
      re[k * n + j] = Math.cos(ph) / Math.sqrt(n);
      im[k * n + j] = Math.sin(ph) / Math.sqrt(n);
    }
  }
  return [tf.tensor2d(re, [n, n]), tf.tensor2d(im, [n, n])];
}

const sizes: [number, number][] = [[36, 32], [100, 64]];
if (values.full) sizes.push([400, 64]);

for (const [B, N] of sizes) {
  const label = `${B}x${N}x${N}`;
  const xr = tf.randomNormal([B, N, N]), xi = tf.randomNormal([B, N, N]);
  const yr = tf.randomNormal([B, N, N]), yi = tf.randomNormal([B, N, N]);
  const xc = tf.complex(xr, xi), yc = tf.complex(yr, yi);
  record(`complex ${label}`, "product complex64", await time(() => tf.mul(xc, yc)));
  record(`complex ${label}`, "product split planes", await time(() => tf.tidy(() => [
    tf.sub(tf.mul(xr, yr), tf.mul(xi, yi)), tf.add(tf.mul(xr, yi), tf.mul(xi, yr)),
  ])));
  record(`complex ${label}`, "|z|^2 complex64", await time(() => tf.tidy(() => tf.square(tf.abs(xc)))));
  record(`complex ${label}`, "|z|^2 split planes", await time(() => tf.tidy(() => tf.add(tf.square(xr), tf.square(xi)))));

  const [cr, ci] = dft(N);
  const cr3 = tf.reshape(cr, [1, N, N]), ci3 = tf.reshape(ci, [1, N, N]), cs = tf.add(cr, ci), cs3 = tf.reshape(cs, [1, N, N]);
  const cb = tf.tensor2d(Float32Array.from({ length: N * N }, (_, p) => ((((p / N) | 0) + (p % N)) & 1 ? -1 : 1)), [N, N]);
  record(`fft2 ${label}`, "matmul 4+4 (engine)", await time(() => tf.tidy(() => {
    const ar = tf.reshape(xr, [B * N, N]), ai = tf.reshape(xi, [B * N, N]);
    const zr = tf.reshape(tf.sub(tf.matMul(ar, cr), tf.matMul(ai, ci)), [B, N, N]);
    const zi = tf.reshape(tf.add(tf.matMul(ar, ci), tf.matMul(ai, cr)), [B, N, N]);
    return [tf.sub(tf.matMul(cr3, zr), tf.matMul(ci3, zi)), tf.add(tf.matMul(cr3, zi), tf.matMul(ci3, zr))];
  })));
  record(`fft2 ${label}`, "matmul 3+3 (Karatsuba)", await time(() => tf.tidy(() => {
    const ar = tf.reshape(xr, [B * N, N]), ai = tf.reshape(xi, [B * N, N]);
    const k1 = tf.matMul(ar, cr), k2 = tf.matMul(ai, ci), k3 = tf.matMul(tf.add(ar, ai), cs);
    const zr = tf.reshape(tf.sub(k1, k2), [B, N, N]), zi = tf.reshape(tf.sub(tf.sub(k3, k1), k2), [B, N, N]);
    const m1 = tf.matMul(cr3, zr), m2 = tf.matMul(ci3, zi), m3 = tf.matMul(cs3, tf.add(zr, zi));
    return [tf.sub(m1, m2), tf.sub(tf.sub(m3, m1), m2)];
  })));
  if (runtime.backend !== "cpu" || B * N <= 36 * 32 || (values.full && B <= 100)) {
    record(`fft2 ${label}`, "tf.spectral.fft", await time(() => tf.tidy(() => {
      let z = tf.complex(tf.mul(xr, cb), tf.mul(xi, cb));
      z = tf.spectral.fft(z);
      z = tf.complex(tf.transpose(tf.real(z), [0, 2, 1]), tf.transpose(tf.imag(z), [0, 2, 1]));
      z = tf.spectral.fft(z);
      return [tf.mul(tf.transpose(tf.real(z), [0, 2, 1]), cb), tf.mul(tf.transpose(tf.imag(z), [0, 2, 1]), cb)];
    }), runtime.backend === "cpu" ? 1 : 5));
  }

  // windows of an object that the positions tile (raster with overlap)
  const Hs = Math.round(Math.sqrt(B)) * (N / 2) + N;
  const side = Math.ceil(Math.sqrt(B));
  const iy = Int32Array.from({ length: B }, (_, j) => Math.min(Hs - N, Math.floor(j / side) * (N / 2)));
  const ix = Int32Array.from({ length: B }, (_, j) => Math.min(Hs - N, (j % side) * (N / 2)));
  const idxHost = new Int32Array(B * N * N);
  for (let b = 0, o = 0; b < B; b++) for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) idxHost[o++] = (iy[b] + y) * Hs + ix[b] + x;
  const idx = tf.tensor1d(idxHost, "int32"), idx2 = tf.reshape(idx, [B * N * N, 1]);
  const upd = tf.reshape(xr, [B * N * N]);
  const group = `scatter ${label} -> ${Hs}^2`;
  record(group, "scatterND (engine)", await time(() => tf.scatterND(idx2, upd, [Hs * Hs])));
  if (runtime.backend !== "cpu" || (values.full && B <= 36)) {
    record(group, "unsortedSegmentSum", await time(() => tf.unsortedSegmentSum(upd, idx, Hs * Hs), 1));
  }
  record(group, "pad + addN", await time(() => tf.tidy(() => tf.addN(tf.unstack(xr).map((u, j) =>
    tf.pad(u, [[iy[j], Hs - N - iy[j]], [ix[j], Hs - N - ix[j]]])))), 2));
  if (B <= 100) {
    record(group, "one-hot matmul", await time(() => tf.tidy(() => {
      const rows = tf.add(tf.reshape(tf.tensor1d(iy, "int32"), [B, 1]), tf.range(0, N, 1, "int32"));
      const cols = tf.add(tf.reshape(tf.tensor1d(ix, "int32"), [B, 1]), tf.range(0, N, 1, "int32"));
      return tf.sum(tf.matMul(tf.oneHot(rows, Hs), tf.matMul(xr, tf.oneHot(cols, Hs)), true, false), 0);
    }), 2));
  }
  const obj = tf.randomNormal([Hs * Hs]);
  const g2 = `gather ${label}`;
  record(g2, "tf.gather flat indices (engine)", await time(() => tf.gather(obj, idx)));
  const base = tf.tensor1d(Int32Array.from({ length: N * N }, (_, p) => ((p / N) | 0) * Hs + (p % N)), "int32");
  const off = tf.tensor1d(Int32Array.from({ length: B }, (_, b) => iy[b] * Hs + ix[b]), "int32");
  record(g2, "indices on device (off + base)", await time(() => tf.tidy(() => tf.reshape(tf.add(tf.reshape(off, [B, 1]), base), [-1]))));
  record(g2, "indices on host + upload", await time(() => {
    const a = new Int32Array(B * N * N);
    for (let b = 0, o = 0; b < B; b++) for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) a[o++] = (iy[b] + y) * Hs + ix[b] + x;
    return tf.tensor1d(a, "int32");
  }));
  tf.dispose([xr, xi, yr, yi, xc, yc, cr, ci, cr3, ci3, cs, cs3, cb, idx, idx2, upd, obj, base, off]);
}

// one engine evaluate: the small preset's sizes and (with --full) the bench preset's
const engineSizes: [string, number, number, number, number][] = [["small (64^2, N 32, 36 pos, sub-pixel)", 64, 32, 6, 6.35]];
if (values.full) engineSizes.push(["bench (256^2, N 64, 400 pos, integer)", 256, 64, 20, 10]);
for (const [label, H, N, side, step] of engineSizes) {
  const npos = side * side, dx = 1e-8;
  const pos: number[] = [];
  for (let a = 0; a < side; a++) for (let b = 0; b < side; b++) pos.push(((a - (side - 1) / 2) * step) * dx, ((b - (side - 1) / 2) * step) * dx);
  const windows = positionsToPixels(pos, dx, { height: H, width: H }, N);
  const problem: EngineProblem = {
    windows, modes: 1, diffraction: Float32Array.from({ length: npos * N * N }, (_, i) => (i * 7919) % 1000), ptychoModel: "gaussian",
    xrf: { elements: ["Fe", "Zn"], sensitivity: Float32Array.from([1, 1]), measured: new Float32Array(2 * npos).fill(1), model: "lsq" },
  };
  const state: EngineState = {
    object: Float32Array.from({ length: 2 * H * H }, (_, i) => (i % 2 ? 0.1 : 1)), probe: Float32Array.from({ length: 2 * N * N }, (_, i) => Math.sin(i)),
    maps: new Float32Array(2 * H * H).fill(0.5),
  };
  const req = { ptycho: true, xrf: true, probeGradient: true };
  for (const [name, make] of [
    ["tfjs", async () => new TfjsEngine(runtime)], ["cpu (2 threads)", async () => new CpuEngine({ threads: 2 })],
  ] as const) {
    const engine = await make();
    await engine.load(problem);
    await engine.evaluate(state, req);
    const ms: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await engine.evaluate(state, req);
      ms.push(performance.now() - t0);
    }
    await engine.dispose();
    record(`evaluate ${label}`, name, ms.sort((a, b) => a - b)[1]);
  }
}

if (values.json) console.log(JSON.stringify({ backend: runtime.description, results }, null, 2));
