import { describe, expect, it } from "vitest";
import { addNoise, diffractionDtype } from "../../src/sim/noise.js";
import { Rng } from "../../src/sim/rng.js";

describe("noise", () => {
  const N = 20000;
  const values = new Float32Array(N).fill(400);

  it("gaussian: sigma = level x value, mean preserved, zeros stay zero, never negative", () => {
    const out = new Float32Array(N);
    addNoise(values, { kind: "gaussian", level: 0.03 }, new Rng(1), out);
    const mean = out.reduce((a, b) => a + b, 0) / N;
    const sd = Math.sqrt(out.reduce((a, b) => a + (b - mean) ** 2, 0) / N);
    expect(Math.abs(mean - 400)).toBeLessThan(5 * (12 / Math.sqrt(N)));
    expect(sd / 12).toBeGreaterThan(0.95);
    expect(sd / 12).toBeLessThan(1.05);
    const big = new Float32Array([0, 1, 2]);
    addNoise(big, { kind: "gaussian", level: 3 }, new Rng(2), big);
    expect(big[0]).toBe(0);
    const many = new Float32Array(N).fill(1);
    addNoise(many, { kind: "gaussian", level: 2 }, new Rng(3), many);
    expect(Math.min(...many)).toBe(0);
  });

  it("poisson: integer counts with mean and variance equal to the value", () => {
    const out = new Uint32Array(N);
    addNoise(values, { kind: "poisson", level: 0 }, new Rng(1), out);
    const mean = out.reduce((a, b) => a + b, 0) / N;
    const variance = out.reduce((a, b) => a + (b - mean) ** 2, 0) / N;
    expect(Math.abs(mean - 400)).toBeLessThan(5 * Math.sqrt(400 / N));
    expect(Math.abs(variance / 400 - 1)).toBeLessThan(0.06);
  });

  it("none copies; dtypes follow the noise kind; unknown kinds are rejected", () => {
    const out = new Float32Array(3);
    addNoise([1.5, 0, 2], { kind: "none", level: 0 }, new Rng(1), out);
    expect(Array.from(out)).toEqual([1.5, 0, 2]);
    expect(diffractionDtype("poisson")).toBe("uint32");
    expect(diffractionDtype("gaussian")).toBe("float32");
    expect(diffractionDtype("none")).toBe("float32");
    expect(() => addNoise([1], { kind: "salt" as never, level: 0 }, new Rng(1), out)).toThrow(/unknown noise kind/);
  });
});
