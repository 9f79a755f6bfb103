import { describe, expect, it } from "vitest";
import { gradNormInit, gradNormUpdate } from "../../src/solver/gradnorm.js";

describe("GradNorm", () => {
  it("starts with equal weighted gradient norms and keeps w_p + w_x = 2", () => {
    const s = gradNormInit();
    const [wp, wx] = gradNormUpdate(s, [1, 1], [10, 1], 1.5, 0.1);
    expect(wp + wx).toBeCloseTo(2, 12);
    expect(wp * 10).toBeCloseTo(wx * 1, 12);
  });

  it("raises the weight of the term that trains slower", () => {
    const s = gradNormInit();
    gradNormUpdate(s, [1, 1], [1, 1], 1.5, 0.1);
    let w: [number, number] = s.weights;
    // ptycho loss falls fast, xrf stalls: xrf's target gradient norm grows, so its weight must rise
    for (let t = 1; t <= 20; t++) w = gradNormUpdate(s, [0.5 ** t, 0.9], [1, 1], 1.5, 0.1);
    expect(w[1]).toBeGreaterThan(1.2);
    expect(w[0] + w[1]).toBeCloseTo(2, 12);
  });

  it("alpha = 0 pulls the weighted norms together whatever the losses", () => {
    const s = gradNormInit();
    gradNormUpdate(s, [1, 1], [1, 1], 0, 0.2);
    let w: [number, number] = s.weights;
    for (let t = 0; t < 200; t++) w = gradNormUpdate(s, [1, 1], [1, 3], 0, 0.2);
    expect(w[0] * 1).toBeCloseTo(w[1] * 3, 2);
  });
});
