/**
 * Mini-batches with a growing size (DAP: "the mini-batch size generally increases as the epochs increase";
 * each epoch splits the patterns randomly into groups of that size, one update per group).
 *
 * Size at epoch e (from 0), before clamping to [1, min(max, npos)] (max defaults to npos = full batch):
 *   constant:   start
 *   linear:     start + factor * floor(e / every)            (factor default: start, every default 1)
 *   geometric:  round(start * factor^floor(e / every))       (factor default 2, every default 1)
 *   steps:      the size of the last step whose epoch <= e   (steps sorted by epoch; before the first: start)
 *
 * `epochBatches` draws one epoch's groups with the seeded Rng of src/sim/rng.ts: deterministic for a given Rng
 * state, disjoint, covering every position exactly once.
 */
import type { Rng } from "../sim/rng.js";

export type BatchGrowth = "constant" | "linear" | "geometric" | "steps";

export interface BatchSpec {
  growth: BatchGrowth;
  /** Size at epoch 0 (integer >= 1). */
  start: number;
  /** linear: added every `every` epochs; geometric: multiplied every `every` epochs (> 1). */
  factor?: number;
  /** Epochs between increases (integer >= 1, default 1). */
  every?: number;
  /** steps: [{ epoch, size }], the size from that epoch on. */
  steps?: { epoch: number; size: number }[];
  /** Upper bound (default npos: the full batch). */
  max?: number;
}

/** Problems with a batch spec, one message each (empty when valid). */
export function validateBatchSpec(spec: BatchSpec): string[] {
  const errors: string[] = [];
  const posInt = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= 1;
  if (!["constant", "linear", "geometric", "steps"].includes(spec.growth)) {
    errors.push(`batch growth must be constant, linear, geometric or steps, got ${String(spec.growth)}`);
  }
  if (!posInt(spec.start)) errors.push(`batch start must be an integer >= 1, got ${spec.start}`);
  if (spec.every !== undefined && !posInt(spec.every)) errors.push(`batch every must be an integer >= 1, got ${spec.every}`);
  if (spec.max !== undefined && !posInt(spec.max)) errors.push(`batch max must be an integer >= 1, got ${spec.max}`);
  if (spec.factor !== undefined) {
    if (spec.growth === "linear" && !(Number.isInteger(spec.factor) && spec.factor >= 0)) errors.push(`linear batch factor must be an integer >= 0, got ${spec.factor}`);
    if (spec.growth === "geometric" && !(spec.factor > 1 && Number.isFinite(spec.factor))) errors.push(`geometric batch factor must be > 1, got ${spec.factor}`);
  }
  if (spec.growth === "steps") {
    if (!Array.isArray(spec.steps) || spec.steps.length === 0) errors.push("steps batch growth needs a non-empty steps list [{epoch, size}]");
    else {
      spec.steps.forEach((s, i) => {
        if (!(Number.isInteger(s?.epoch) && s.epoch >= 0)) errors.push(`batch steps[${i}].epoch must be an integer >= 0, got ${s?.epoch}`);
        if (!posInt(s?.size)) errors.push(`batch steps[${i}].size must be an integer >= 1, got ${s?.size}`);
        if (i > 0 && !(s?.epoch > spec.steps![i - 1]?.epoch)) errors.push(`batch steps must have increasing epochs (steps[${i}])`);
      });
    }
  }
  return errors;
}

/** Mini-batch size at `epoch` (from 0) for `npos` positions; npos means the full batch. */
export function batchSchedule(spec: BatchSpec, epoch: number, npos: number): number {
  const errors = validateBatchSpec(spec);
  if (errors.length) throw new Error(errors.join("; "));
  if (!(Number.isInteger(epoch) && epoch >= 0)) throw new Error(`batchSchedule: epoch must be an integer >= 0, got ${epoch}`);
  if (!(Number.isInteger(npos) && npos >= 1)) throw new Error(`batchSchedule: npos must be an integer >= 1, got ${npos}`);
  const every = spec.every ?? 1;
  const k = Math.floor(epoch / every);
  let size: number;
  switch (spec.growth) {
    case "constant":
      size = spec.start;
      break;
    case "linear":
      size = spec.start + (spec.factor ?? spec.start) * k;
      break;
    case "geometric":
      size = Math.round(spec.start * Math.pow(spec.factor ?? 2, Math.min(k, 1100)));
      break;
    case "steps": {
      size = spec.start;
      for (const s of spec.steps!) if (s.epoch <= epoch) size = s.size;
      break;
    }
  }
  const cap = Math.min(spec.max ?? npos, npos);
  return Math.max(1, Math.min(cap, Number.isFinite(size) ? size : cap));
}

/** Number of groups of an epoch: ceil(npos / size). */
export function batchCount(npos: number, size: number): number {
  return Math.ceil(npos / Math.max(1, Math.min(size, npos)));
}

/**
 * One epoch's mini-batches: a uniform random permutation of 0..npos-1 (Fisher-Yates on `rng`) cut into
 * consecutive groups of `size`, the last group holding the remainder (npos mod size, when non-zero). Each
 * group's indices are sorted ascending (memory order for the engine; membership is what is random).
 * size >= npos gives the single full batch [0..npos-1] and draws nothing from rng.
 */
export function epochBatches(npos: number, size: number, rng: Rng): Int32Array[] {
  if (!(Number.isInteger(npos) && npos >= 0)) throw new Error(`epochBatches: npos must be an integer >= 0, got ${npos}`);
  if (!(Number.isInteger(size) && size >= 1)) throw new Error(`epochBatches: size must be an integer >= 1, got ${size}`);
  if (npos === 0) return [];
  const order = new Int32Array(npos);
  for (let i = 0; i < npos; i++) order[i] = i;
  if (size >= npos) return [order];
  for (let i = npos - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  const groups: Int32Array[] = [];
  for (let s = 0; s < npos; s += size) groups.push(order.slice(s, Math.min(npos, s + size)).sort());
  return groups;
}
