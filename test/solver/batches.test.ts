import { describe, expect, it } from "vitest";
import { batchCount, batchSchedule, epochBatches, validateBatchSpec } from "../../src/solver/batches.js";
import { Rng } from "../../src/sim/rng.js";

describe("mini-batch size schedule", () => {
  it("constant, linear, geometric and steps growth, clamped to max and npos", () => {
    const sizes = (spec: Parameters<typeof batchSchedule>[0], npos = 225) => [0, 1, 2, 3, 4, 5, 9, 50].map((e) => batchSchedule(spec, e, npos));
    expect(sizes({ growth: "constant", start: 16 })).toEqual([16, 16, 16, 16, 16, 16, 16, 16]);
    expect(sizes({ growth: "linear", start: 8 })).toEqual([8, 16, 24, 32, 40, 48, 80, 225]);
    expect(sizes({ growth: "linear", start: 8, factor: 4, every: 2 })).toEqual([8, 8, 12, 12, 16, 16, 24, 108]);
    expect(sizes({ growth: "geometric", start: 4 })).toEqual([4, 8, 16, 32, 64, 128, 225, 225]);
    expect(sizes({ growth: "geometric", start: 4, factor: 1.5, every: 3, max: 20 })).toEqual([4, 4, 4, 6, 6, 6, 14, 20]);
    expect(sizes({ growth: "steps", start: 10, steps: [{ epoch: 2, size: 50 }, { epoch: 5, size: 500 }] })).toEqual([10, 10, 50, 50, 50, 225, 225, 225]);
    expect(batchSchedule({ growth: "geometric", start: 2, factor: 10 }, 100000, 7)).toBe(7);
    expect(batchSchedule({ growth: "constant", start: 300 }, 0, 225)).toBe(225);
  });

  it("reports every problem of a spec", () => {
    expect(validateBatchSpec({ growth: "linear", start: 1 })).toEqual([]);
    const errors = validateBatchSpec({ growth: "geometric", start: 0, factor: 1, every: 0, max: -3 });
    expect(errors).toHaveLength(4);
    expect(validateBatchSpec({ growth: "steps", start: 1, steps: [{ epoch: 3, size: 2 }, { epoch: 3, size: 0 }] })).toHaveLength(2);
    expect(validateBatchSpec({ growth: "nope" as never, start: 1 })[0]).toMatch(/growth/);
    expect(() => batchSchedule({ growth: "linear", start: 1 }, -1, 5)).toThrow(/epoch/);
  });
});

describe("epoch batches", () => {
  it("are disjoint, cover every position once, sized size except the last", () => {
    const groups = epochBatches(225, 16, new Rng(1, 7));
    expect(groups).toHaveLength(batchCount(225, 16));
    expect(groups.slice(0, -1).every((g) => g.length === 16)).toBe(true);
    expect(groups[groups.length - 1].length).toBe(225 % 16);
    const all = groups.flatMap((g) => Array.from(g)).sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 225 }, (_, i) => i));
    for (const g of groups) {
      expect(g).toBeInstanceOf(Int32Array);
      for (let i = 1; i < g.length; i++) expect(g[i]).toBeGreaterThan(g[i - 1]);
    }
  });

  it("are deterministic for an Rng state and differ between epochs", () => {
    const a = new Rng(3, 1), b = new Rng(3, 1);
    const e1 = epochBatches(100, 10, a), e1b = epochBatches(100, 10, b);
    expect(e1).toEqual(e1b);
    const e2 = epochBatches(100, 10, a);
    expect(e2).not.toEqual(e1);
  });

  it("mix the positions (not the identity order)", () => {
    const groups = epochBatches(400, 20, new Rng(5));
    // a contiguous block would have span 19; a random group of 20 out of 400 spans far more
    const spans = groups.map((g) => g[g.length - 1] - g[0]);
    expect(spans.filter((s) => s > 100).length).toBeGreaterThan(15);
    // each position lands in each group about equally often over many epochs
    const rng = new Rng(9), hits = new Float64Array(10);
    for (let e = 0; e < 2000; e++) hits[epochBatches(10, 5, rng)[0].includes(0) ? 0 : 1]++;
    expect(hits[0] / 2000).toBeGreaterThan(0.45);
    expect(hits[0] / 2000).toBeLessThan(0.55);
  });

  it("a full batch is all positions in order and draws nothing", () => {
    const rng = new Rng(2), ref = new Rng(2);
    expect(epochBatches(5, 5, rng)).toEqual([Int32Array.from([0, 1, 2, 3, 4])]);
    expect(epochBatches(5, 99, rng)).toEqual([Int32Array.from([0, 1, 2, 3, 4])]);
    expect(rng.uint32()).toBe(ref.uint32());
    expect(epochBatches(0, 3, rng)).toEqual([]);
    expect(() => epochBatches(5, 0, rng)).toThrow(/size/);
  });
});
