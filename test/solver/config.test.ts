import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_CONFIG, NUMBER_RULES, resolveConfig } from "../../src/solver/config.js";

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

describe("every numeric option has an upper bound", () => {
  /** Dotted paths of the numeric (or null-or-number) leaves of the defaults. */
  function numericLeaves(o: Record<string, unknown>, prefix = ""): string[] {
    return Object.entries(o).flatMap(([k, v]) =>
      v && typeof v === "object" ? numericLeaves(v as Record<string, unknown>, `${prefix}${k}.`) : typeof v === "number" || v === null ? [`${prefix}${k}`] : []);
  }

  it("each numeric field of the config has a rule (a new option cannot slip in unbounded)", () => {
    expect(numericLeaves(DEFAULT_CONFIG as unknown as Record<string, unknown>).sort()).toEqual(NUMBER_RULES.map((r) => r.key).sort());
  });

  it("a huge positions.search.radius is rejected with its name and bound; so is 1e999 (Infinity) in every field", () => {
    expect(() => resolveConfig({ positions: { search: { radius: 1e9 } } })).toThrow('"positions.search.radius" must be in [0, 64], got 1000000000');
    for (const rule of NUMBER_RULES) {
      const input: Record<string, unknown> = {};
      const parts = rule.key.split(".");
      let at = input;
      for (const p of parts.slice(0, -1)) at = (at[p] = {}) as Record<string, unknown>;
      at[parts[parts.length - 1]] = JSON.parse("1e999");
      let problems: string[] = [];
      try {
        resolveConfig(input);
      } catch (err) {
        problems = (err as ConfigError).problems;
      }
      expect(problems, rule.key).toEqual([expect.stringMatching(new RegExp(`^"${rule.key.replace(/\./g, "\\.")}" must be .*in [[(]\\S+, \\S+[\\])], got Infinity$`))]);
    }
  });

  it("reports out-of-range values with every other problem at once, each with its bound", () => {
    try {
      resolveConfig({ iterations: 2e6, seed: 2 ** 40, batches: { start: 1e7, factor: 1e4 }, positions: { search: { radius: 40, step: 0.5 } }, plateau: { cooldown: 1.5 }, mode: "x" });
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        '"mode" must be one of joint, ptycho, xrf, rpie, got "x"',
        '"iterations" must be an integer in [1, 1e6], got 2000000',
        '"seed" must be an integer in [0, 4294967295], got 1099511627776',
        '"batches.start" must be an integer in [1, 1e6], got 10000000',
        '"batches.factor" must be in (0, 1000], got 10000',
        '"plateau.cooldown" must be an integer in [0, 1e6], got 1.5',
        '"positions.search.radius" / "positions.search.step" must be at most 32 (each search costs (2 floor(radius / step) + 1)^2 forward passes, at most 4225), got 40 / 0.5',
      ]);
    }
  });

  it("the documented examples and the defaults stay valid at their bounds", () => {
    expect(() => resolveConfig({ positions: { refine: true, search: { radius: 64, step: 2 } }, iterations: 1e6, probe: { modes: 8 }, threads: 256 })).not.toThrow();
  });
});
