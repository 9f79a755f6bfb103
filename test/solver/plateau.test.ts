import { describe, expect, it } from "vitest";
import { PlateauScheduler, validatePlateauOptions } from "../../src/solver/plateau.js";

describe("plateau scheduler (ReduceLROnPlateau, mode min)", () => {
  it("reduces after more than `patience` steps without improvement", () => {
    const s = new PlateauScheduler({ factor: 0.5, patience: 2 });
    expect([10, 9, 9, 9].map((l) => s.step(l))).toEqual([1, 1, 1, 1]);
    expect(s.step(9)).toBe(0.5); // third bad step > patience 2
    expect(s.state().reductions).toBe(1);
    expect([9, 9].map((l) => s.step(l))).toEqual([0.5, 0.5]);
    expect(s.step(9)).toBe(0.25);
  });

  it("follows ReduceLROnPlateau's algorithm with cooldown (factor 0.1, patience 1, cooldown 1, threshold 0.1 rel)", () => {
    // expected multipliers traced by hand through torch's step() (lr 1 at the start)
    const s = new PlateauScheduler({ factor: 0.1, patience: 1, cooldown: 1, threshold: 0.1 });
    const losses = [1.0, 0.95, 0.92, 0.5, 0.49, 0.48, 0.47, 0.2, 0.2];
    // 1.0 better(best=1); 0.95 not < 0.9 bad=1; 0.92 bad=2>1 -> 0.1, cooldown 1;
    // 0.5 better (best 0.5), cooldown 1->0, bad 0; 0.49 not < 0.45 bad=1; 0.48 bad=2 -> 0.01, cooldown 1;
    // 0.47 bad=1 but cooldown -> 0, bad 0; 0.2 better; 0.2 bad 1
    const r2 = 0.1 * 0.1;
    expect(losses.map((l) => s.step(l))).toEqual([1, 1, 0.1, 0.1, 0.1, r2, r2, r2, r2]);
    expect(s.best).toBe(0.2);
  });

  it("absolute threshold, min scale and NaN", () => {
    const s = new PlateauScheduler({ factor: 0.1, patience: 0, thresholdMode: "abs", threshold: 0.5, minScale: 0.05 });
    expect(s.step(10)).toBe(1);
    expect(s.step(9.6)).toBe(0.1); // not < 10 - 0.5
    expect(s.step(9)).toBe(0.1); // better
    expect(s.step(NaN)).toBe(0.05); // NaN is never better; clamped at minScale
    expect(s.step(NaN)).toBe(0.05);
    expect(s.state().reductions).toBe(2);
  });

  it("restores from a saved state and validates options", () => {
    const a = new PlateauScheduler({ patience: 1, factor: 0.5 });
    [3, 3].forEach((l) => a.step(l));
    const b = new PlateauScheduler({ patience: 1, factor: 0.5 }, a.state());
    expect(b.step(3)).toBe(a.step(3));
    expect(b.state()).toEqual(a.state());
    expect(validatePlateauOptions({ factor: 1, patience: -1, cooldown: 0.5, threshold: -1, thresholdMode: "x" as never, minScale: 2, eps: -1 })).toHaveLength(7);
    expect(() => new PlateauScheduler({ factor: 2 })).toThrow(/factor/);
    expect(new PlateauScheduler().options).toMatchObject({ factor: 0.1, patience: 10, threshold: 1e-4, cooldown: 0, minScale: 0 });
  });
});
