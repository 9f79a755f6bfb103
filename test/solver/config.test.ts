import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_CONFIG, resolveConfig } from "../../src/solver/config.js";

describe("solver config", () => {
  it("fills defaults and round-trips through JSON", () => {
    const c = resolveConfig({ mode: "ptycho", weights: { alpha: 0.5 } });
    expect(c.mode).toBe("ptycho");
    expect(c.weights.alpha).toBe(0.5);
    expect(c.weights.strategy).toBe(DEFAULT_CONFIG.weights.strategy);
    expect(resolveConfig(JSON.parse(JSON.stringify(c)))).toEqual(c);
  });

  it("reports every invalid field at once", () => {
    try {
      resolveConfig({ mode: "both", iterations: 0, noise: { ptycho: "laplace" }, rates: { maps: 2 }, bogus: 1, threads: "two" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const p = (err as ConfigError).problems.join("\n");
      expect(p).toMatch(/"mode" must be one of joint, ptycho, xrf, rpie, got "both"/);
      expect(p).toMatch(/"noise\.ptycho" must be one of gaussian, poisson, weighted/);
      expect(p).toMatch(/unknown field "bogus"/);
      expect(p).toMatch(/"threads" must be a number/);
      expect(p).toMatch(/"iterations" must be an integer in \[1, 1e6\], got 0/);
      expect(p).toMatch(/"rates\.maps" must be in \[0, 1\], got 2/);
      expect((err as ConfigError).problems).toHaveLength(6);
    }
  });

  it("rejects a non-object", () => {
    expect(() => resolveConfig([1, 2])).toThrow(/JSON object/);
  });
});
