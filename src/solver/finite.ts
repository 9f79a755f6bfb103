/**
 * A run whose losses or results stop being finite numbers has no result: it ends with NonFiniteError
 * (exit 2 in the CLI and the worker, never retried: the solver is deterministic) and nothing is written,
 * so a manifest never blesses NaN maps. Checked on every iteration's record (the run stops at the first
 * bad one, not after the remaining GPU time) and on the final variables.
 */
import type { HistoryRecord } from "../metrics/history.js";
import type { ReconstructionState } from "./reconstruct.js";

export class NonFiniteError extends Error {
  constructor(readonly reason: string, readonly iteration: number | null) {
    super(reason);
    this.name = "NonFiniteError";
  }
}

const HINT = "the reconstruction diverged and no results were written (all-zero or extreme data, or step sizes too large for this scan?)";

function show(v: number): string {
  return Number.isNaN(v) ? "NaN" : String(v);
}

/** Throws NonFiniteError when a loss or weight of this iteration's record is NaN or infinite. */
export function checkRecordFinite(record: Pick<HistoryRecord, "iteration" | "losses" | "weights">): void {
  const bad: [string, number][] = [
    ...Object.entries(record.losses).map(([k, v]): [string, number] => [k === "total" ? "loss" : `loss ${k}`, v]),
    ...Object.entries(record.weights ?? {}).map(([k, v]): [string, number] => [`weight ${k}`, v]),
  ].filter(([, v]) => typeof v !== "number" || !Number.isFinite(v));
  if (!bad.length) return;
  // the total first (what a user watches), then the terms and weights that made it so
  bad.sort(([a], [b]) => Number(b === "loss") - Number(a === "loss"));
  const [what, value] = bad[0];
  const also = bad.slice(1).map(([k, v]) => `${k} ${show(v)}`);
  throw new NonFiniteError(`${what} became ${show(value)} at iteration ${record.iteration}${also.length ? ` (${also.join(", ")})` : ""}: ${HINT}`, record.iteration);
}

/** How many values are NaN or infinite, and the index of the first (-1: none). */
export function firstNonFinite(a: ArrayLike<number>): { count: number; first: number } {
  let count = 0, first = -1;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) {
      count++;
      if (first < 0) first = i;
    }
  }
  return { count, first };
}

/** Throws NonFiniteError when the object, probe, element maps or free map hold NaN or infinite values. */
export function checkStateFinite(state: ReconstructionState): void {
  const parts: [string, ArrayLike<number> | null][] = [["object", state.object], ["probe", state.probe], ["element maps", state.maps], ["free map", state.free]];
  const bad = parts.flatMap(([name, a]) => {
    if (!a) return [];
    const { count, first } = firstNonFinite(a);
    return count ? [`the reconstructed ${name} holds ${count} NaN or infinite values of ${a.length} (the first at index ${first})`] : [];
  });
  if (bad.length) throw new NonFiniteError(`${bad.join("; ")}: ${HINT}`, null);
}
