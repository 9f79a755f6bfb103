/**
 * Round tick values for colour bars (docs/reports.md): multiples of a 1, 2 or 5 x 10^k step that lie inside
 * the bar's range, and their labels written to the step's precision ("0.25", "100", "−1.5", "2e−5"); the
 * same ticks in the PNG previews and the report.
 */

/** The 1-2-5 steps around x: ..., 0.1, 0.2, 0.5, 1, 2, 5, 10, ... starting at the largest one <= x. */
function stepsFrom(x: number): number[] {
  const e = Math.floor(Math.log10(x));
  const out: number[] = [];
  for (let k = e - 1; k <= e + 2; k++) for (const m of [1, 2, 5]) out.push(Number((m * 10 ** k).toPrecision(12)));
  return out;
}

export interface Ticks {
  /** The step between ticks (a 1-2-5 number). */
  step: number;
  /** Tick values inside [lo, hi], increasing. */
  values: number[];
  /** Labels of the values, written to the step's precision. */
  labels: string[];
}

/**
 * Ticks inside [lo, hi]: the finest 1-2-5 step that gives at most `maxCount` (>= 2) multiples of the step in
 * the range; if that step leaves fewer than two, the coarsest step that gives two or more (at most five). A
 * degenerate range (lo = hi) gets the one tick lo (4 significant digits); a non-finite one none.
 */
export function niceTicks(lo: number, hi: number, maxCount = 6, minus = "−"): Ticks {
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) return { step: NaN, values: [], labels: [] };
  if (hi < lo) [lo, hi] = [hi, lo];
  const count = Math.max(2, Math.floor(maxCount));
  if (hi === lo) {
    const step = lo === 0 ? 1 : 10 ** (Math.floor(Math.log10(Math.abs(lo))) - 3);
    const a = Math.abs(lo), text = a >= 1e5 || (a < 1e-3 && a > 0) ? a.toExponential(3).replace(/\.?0+e/, "e").replace("e+", "e").replace("e-", `e${minus}`) : String(Number(a.toPrecision(4)));
    return { step, values: [lo], labels: [lo < 0 ? `${minus}${text}` : text] }; // 4 significant digits
  }
  const span = hi - lo, eps = span * 1e-9;
  // the finest step with at most `count` ticks; if that leaves fewer than two, the coarsest step with two or more
  let step = NaN, a = 0, b = -1, prev: [number, number, number] | null = null;
  for (const s of stepsFrom(span / count)) {
    const sa = Math.ceil((lo - eps) / s), sb = Math.floor((hi + eps) / s);
    if (sb - sa + 1 <= count) {
      [step, a, b] = sb - sa + 1 < 2 && prev ? prev : [s, sa, sb];
      break;
    }
    prev = [s, sa, sb];
  }
  const values: number[] = [];
  for (let k = a; k <= b; k++) values.push(Number((k * step).toPrecision(12)) || 0);
  return { step, values, labels: values.map((v) => formatTick(v, step, minus)) };
}

/**
 * A tick value written with as many decimals as the step needs: 0.25 (step 0.05), 100 (step 50), 0.0 (step 0.5). Exponent form
 * with a common mantissa precision for very large or small values: 1.5e−5. `minus` is the sign used (the PNG
 * figures and the report use the typographic minus U+2212).
 */
export function formatTick(v: number, step: number, minus = "−"): string {
  if (!Number.isFinite(v)) return "—";
  const a = Math.abs(v);
  const stepExp = Math.floor(Math.log10(Math.abs(step)) + 1e-9);
  if (v === 0) return (0).toFixed(Math.max(0, Math.min(10, -stepExp))); // "0.0" among "-0.5" and "0.5"
  let s: string;
  if (a >= 1e5 || a < 1e-3) {
    const e = Math.floor(Math.log10(a) + 1e-9);
    const digits = Math.max(0, Math.min(6, e - stepExp));
    s = `${(a / 10 ** e).toFixed(digits)}e${e < 0 ? minus : ""}${Math.abs(e)}`;
  } else {
    s = a.toFixed(Math.max(0, Math.min(10, -stepExp)));
  }
  return v < 0 ? `${minus}${s}` : s;
}
