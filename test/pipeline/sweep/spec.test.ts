/**
 * Sweep specs: YAML and JSON, grid x list expansion with dotted keys, every task's config resolved up front,
 * and errors that name the task and the key (or the spec field) before anything is written.
 */
import { describe, expect, it } from "vitest";
import { expandConfigurations, expandTasks, taskId } from "../../../src/pipeline/sweep/expand.js";
import { globToRegExp } from "../../../src/pipeline/sweep/scans.js";
import { nestOverrides, parseSweepSpec, SweepSpecError } from "../../../src/pipeline/sweep/spec.js";

const scan = (given: string) => ({ given, label: given, truth: null });

function specError(text: string): string {
  try {
    expandTasks(parseSweepSpec(text, "spec"), [scan("a.h5"), scan("b.h5")]);
  } catch (err) {
    expect(err).toBeInstanceOf(SweepSpecError);
    return (err as Error).message;
  }
  throw new Error("expected a SweepSpecError");
}

describe("sweep spec", () => {
  it("YAML: grid is a cartesian product, list entries follow, base under both; tasks are scan-major", () => {
    const spec = parseSweepSpec(`
name: noise-alpha
scans: [a.h5, {prefix: "s3://bucket/run/", pattern: "*.h5"}]
base: { iterations: 20, noise: { xrf: poisson } }
grid:
  noise.ptycho: [gaussian, poisson]
  weights.alpha: [0.5, 1]
list:
  - { weights.strategy: fixed, weights: { ptycho: 1.5, xrf: 0.5 } }
rankBy: { metric: object_rel_error, order: min }
`, "file");
    expect(spec.name).toBe("noise-alpha");
    expect(spec.scans).toEqual(["a.h5", { prefix: "s3://bucket/run/", pattern: "*.h5" }]);
    expect(spec.rankBy).toEqual({ metric: "object_rel_error", order: "min" });
    const tasks = expandTasks(spec, [scan("a.h5"), scan("b.h5")]);
    expect(tasks).toHaveLength(10);
    expect(tasks.map((t) => t.id)).toEqual(["t000", "t001", "t002", "t003", "t004", "t005", "t006", "t007", "t008", "t009"]);
    expect(tasks.slice(0, 5).every((t) => t.scan.given === "a.h5")).toBe(true);
    expect(tasks.slice(0, 5).map((t) => t.params)).toEqual([
      { "noise.ptycho": "gaussian", "weights.alpha": 0.5 }, { "noise.ptycho": "gaussian", "weights.alpha": 1 },
      { "noise.ptycho": "poisson", "weights.alpha": 0.5 }, { "noise.ptycho": "poisson", "weights.alpha": 1 },
      { "weights.strategy": "fixed", "weights.ptycho": 1.5, "weights.xrf": 0.5 },
    ]);
    const c = tasks[3].config;
    expect([c.iterations, c.noise.ptycho, c.noise.xrf, c.weights.alpha, c.mode]).toEqual([20, "poisson", "poisson", 1, "joint"]);
    expect(tasks[4].config.weights).toMatchObject({ strategy: "fixed", ptycho: 1.5, xrf: 0.5 });
  });

  it("JSON works too; no grid and no list is the base alone; the name defaults to the file's", () => {
    const spec = parseSweepSpec(`{"scans": ["x.h5"], "base": {"iterations": 5}}`, "my sweep");
    expect(spec.name).toBe("my-sweep");
    expect(expandConfigurations(spec).map((c) => [c.params, c.config.iterations])).toEqual([[{}, 5]]);
  });

  it("dotted keys nest; task ids widen past 1000 tasks", () => {
    expect(nestOverrides({ "noise.ptycho": "poisson", "weights.alpha": 1, iterations: 3 })).toEqual({ noise: { ptycho: "poisson" }, weights: { alpha: 1 }, iterations: 3 });
    expect([taskId(7, 12), taskId(7, 1001), taskId(1000, 1001)]).toEqual(["t007", "t0007", "t1000"]);
  });

  it("an invalid override names the tasks using it, the configuration and the key, with the solver's own message", () => {
    const msg = specError(`
scans: [a.h5, b.h5]
grid: { noise.ptycho: [gaussian, poison], weights.alpah: [1] }`);
    expect(msg).toContain(`tasks t001, t003 (configuration 2 of 2: noise.ptycho=poison, weights.alpah=1): "noise.ptycho" must be one of gaussian, poisson, weighted, got "poison"`);
    expect(msg).toContain(`unknown field "weights.alpah"`);
    expect(specError(`{"scans": ["a.h5"], "list": [{"iterations": 0}]}`)).toMatch(/tasks t000, t001 \(configuration 1 of 1: iterations=0\): "iterations" must be an integer in \[1, 1e6\], got 0/);
  });

  it("shape problems are all reported at once, each naming the field", () => {
    let err: SweepSpecError | null = null;
    try {
      parseSweepSpec(`
scans: []
grid: { weights.alpha: [] }
list: [3]
rankBy: { metric: x, order: best }
truth: { c.h5: t.h5 }
colour: red`, "spec", "sweep.yaml");
    } catch (e) {
      err = e as SweepSpecError;
    }
    expect(err).toBeInstanceOf(SweepSpecError);
    expect(err!.message).toMatch(/^sweep\.yaml: 6 problems/);
    expect(err!.problems).toEqual([
      `unknown field "colour" (expected name, scans, truth, base, grid, list, rankBy)`,
      `"scans" must be a non-empty list (s3:// URIs, local paths, or {prefix: "s3://bucket/prefix/", pattern: "*.h5"}), got []`,
      `truth["c.h5"]: no such entry under "scans" (write the scan exactly as under "scans")`,
      `grid["weights.alpha"] must be a non-empty list of values, got []`,
      `list[0] must be a mapping of config keys to values, got 3`,
      `"rankBy" must be {metric: NAME, order: min|max} (e.g. {metric: object_rel_error, order: min}), got {"metric":"x","order":"best"}`,
    ]);
    expect(() => parseSweepSpec("scans: [a.h5\n  grid: {", "spec")).toThrow(/not valid JSON or YAML/);
    expect(() => parseSweepSpec(`{"scans": ["s3://bucket/folder/"]}`, "spec")).toThrow(/expected s3:\/\/bucket\/key of one scan, got "s3:\/\/bucket\/folder\/" \(for a folder use \{prefix/);
  });

  it("more tasks than one array job holds is an error", () => {
    const spec = parseSweepSpec(`{"scans": ["a.h5"], "grid": {"seed": [${Array.from({ length: 101 }, (_, i) => i).join(",")}]}}`, "big");
    expect(() => expandTasks(spec, Array.from({ length: 100 }, (_, i) => scan(`s${i}.h5`)))).toThrow(/100 scans x 101 configurations = 10100 tasks: at most 10000/);
  });

  it("globs: * within a folder, ** across folders", () => {
    expect(globToRegExp("*.h5").test("run-1.h5")).toBe(true);
    expect(globToRegExp("*.h5").test("2026/run-1.h5")).toBe(false);
    expect(globToRegExp("**/*.h5").test("2026/01/run-1.h5")).toBe(true);
    expect(globToRegExp("run-?.h5").test("run-7.h5")).toBe(true);
    expect(globToRegExp("run-?.h5").test("run-7xh5")).toBe(false);
  });
});

describe("ptyxrf sweep (command line)", () => {
  it("a spec error exits 2 with every problem; --dry-run prints the tasks and writes nothing", async () => {
    const fs = await import("node:fs");
    const os = await import("node:os");
    const path = await import("node:path");
    const { main } = await import("../../../src/cli/main.js");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ptyxrf-spec-"));
    try {
      fs.writeFileSync(path.join(dir, "scan.h5"), "bytes");
      fs.writeFileSync(path.join(dir, "bad.yaml"), "scans: [scan.h5, missing.h5]\ngrid: { iterations: [10, -1] }\n");
      fs.writeFileSync(path.join(dir, "good.yaml"), "scans: [scan.h5]\ngrid: { iterations: [10, 20] }\n");
      let out = "", err = "";
      const io = { out: (t: string) => (out += `${t}\n`), err: (t: string) => (err += `${t}\n`), isTTY: false };
      expect(await main(["sweep", path.join(dir, "bad.yaml"), "--dry-run"], io)).toBe(2);
      expect(err).toContain(`scan missing.h5: no such file (${path.join(dir, "missing.h5")})`);
      err = "";
      fs.writeFileSync(path.join(dir, "missing.h5"), "bytes");
      expect(await main(["sweep", path.join(dir, "bad.yaml"), "--dry-run"], io)).toBe(2);
      expect(err).toMatch(/tasks t001, t003 \(configuration 2 of 2: iterations=-1\): "iterations" must be an integer in \[1, 1e6\], got -1/);
      expect(await main(["sweep", path.join(dir, "good.yaml"), "--dry-run"], io)).toBe(0);
      expect(out).toMatch(/sweep good: 2 tasks \(1 scan x 2 configurations\); dry run: nothing written or submitted/);
      expect(out).toMatch(/t001\s+scan\s+iterations=20\s+joint\s+20/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
