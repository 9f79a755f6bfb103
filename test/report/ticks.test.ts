import { describe, expect, it } from "vitest";
import { formatTick, niceTicks } from "../../src/report/ticks.js";

/** Whether x is 1, 2 or 5 times a power of ten. */
function is125(x: number): boolean {
  const m = x / 10 ** Math.floor(Math.log10(x) + 1e-12);
  return [1, 2, 5, 10].some((k) => Math.abs(m - k) < 1e-9);
}

describe("colour bar ticks", () => {
  it("are round 1-2-5 multiples inside the range, not its ends", () => {
    const t = niceTicks(0.4424, 0.9876);
    expect(t.values).toEqual([0.5, 0.6, 0.7, 0.8, 0.9]);
    expect(t.labels).toEqual(["0.5", "0.6", "0.7", "0.8", "0.9"]);
    expect(niceTicks(0, 207.3).values).toEqual([0, 50, 100, 150, 200]);
    expect(niceTicks(-1.3411, -0.7649).labels).toEqual(["−1.3", "−1.2", "−1.1", "−1.0", "−0.9", "−0.8"]);
    expect(niceTicks(0.9677, 0.9987).labels).toEqual(["0.970", "0.975", "0.980", "0.985", "0.990", "0.995"]);
  });

  it("hold for any range: inside, on a 1-2-5 step, at least two, at most maxCount where that leaves two", () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    for (let k = 0; k < 500; k++) {
      const mag = 10 ** Math.floor(rnd() * 12 - 6);
      const lo = (rnd() - 0.5) * 10 * mag, hi = lo + (0.01 + rnd() * 5) * mag;
      const max = 2 + Math.floor(rnd() * 7);
      const t = niceTicks(lo, hi, max);
      expect(is125(t.step), `step ${t.step}`).toBe(true);
      expect(t.values.length).toBeGreaterThanOrEqual(2);
      // at most maxCount, unless every coarser step leaves fewer than two inside: then the coarsest with two
      // or more, which gives at most 5 (a 1-2-5 step grows at most 2.5 times)
      expect(t.values.length <= max || t.values.length <= 5, `${t.values.length} ticks for at most ${max}`).toBe(true);
      for (const v of t.values) {
        expect(v).toBeGreaterThanOrEqual(lo - 1e-9 * (hi - lo));
        expect(v).toBeLessThanOrEqual(hi + 1e-9 * (hi - lo));
        expect(Math.abs(v / t.step - Math.round(v / t.step))).toBeLessThan(1e-6);
      }
      expect(new Set(t.labels).size).toBe(t.labels.length); // no two ticks read the same
    }
  });

  it("write very small and very large values with an exponent, and degenerate ranges as one tick", () => {
    expect(niceTicks(1.2e-5, 3.4e-5).labels).toEqual(["1.5e−5", "2.0e−5", "2.5e−5", "3.0e−5"]);
    expect(niceTicks(2e5, 9e5).labels).toEqual(["2e5", "4e5", "6e5", "8e5"]);
    expect(niceTicks(0.5, 0.5)).toMatchObject({ values: [0.5], labels: ["0.5"] });
    expect(niceTicks(-2.5e-6, -2.5e-6).labels).toEqual(["−2.5e−6"]);
    expect(niceTicks(NaN, 1).values).toEqual([]);
    expect(formatTick(-0.25, 0.05, "-")).toBe("-0.25");
    expect(formatTick(0, 0.05)).toBe("0.00");
  });
});
