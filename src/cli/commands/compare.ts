import fs from "node:fs";
import { LOWDOSE_PHOTONS, runLowdoseSuite, type LowdoseResult } from "../../pipeline/lowdoseSuite.js";
import { prepare, solve } from "../../pipeline/reconstructRun.js";
import { finalMetrics } from "../../pipeline/outputs.js";
import type { Mode } from "../../solver/config.js";
import { choiceOption, intOption, parse, UsageError, type Command, type Io } from "../args.js";
import { formatNumber, table } from "../format.js";
import { createProgress } from "../progress.js";
import { SOLVER_HELP, SOLVER_OPTIONS, solverConfigInput } from "./configOptions.js";

interface MethodResult {
  rel_error?: number;
  cpcc?: number;
  loss: number;
  wall_s: number;
  elements: Record<string, number>;
}

export interface Comparison {
  scan: string;
  truth: string;
  iterations: number;
  engine: string;
  object: { joint: { rel_error: number; cpcc: number }; ptycho: { rel_error: number; cpcc: number } };
  elements: Record<string, { joint: { rel_error: number }; xrf: { rel_error: number } }>;
  ratios: { object: number; elements: Record<string, number> };
  final_loss: Record<"joint" | "ptycho" | "xrf", number>;
  time_s: Record<"joint" | "ptycho" | "xrf", number>;
}

export function formatComparison(c: Comparison): string {
  const els = Object.keys(c.elements);
  const rows = [
    ["joint", c.object.joint.rel_error.toFixed(4), c.object.joint.cpcc.toFixed(4), ...els.map((e) => c.elements[e].joint.rel_error.toFixed(4)), formatNumber(c.final_loss.joint), `${c.time_s.joint.toFixed(1)} s`],
    ["ptycho only", c.object.ptycho.rel_error.toFixed(4), c.object.ptycho.cpcc.toFixed(4), ...els.map(() => "-"), formatNumber(c.final_loss.ptycho), `${c.time_s.ptycho.toFixed(1)} s`],
    ["xrf only", "-", "-", ...els.map((e) => c.elements[e].xrf.rel_error.toFixed(4)), formatNumber(c.final_loss.xrf), `${c.time_s.xrf.toFixed(1)} s`],
    ["joint / separate", c.ratios.object.toFixed(3), "", ...els.map((e) => c.ratios.elements[e].toFixed(3)), "", ""],
  ];
  return `${c.scan}, ${c.iterations} iterations each, ${c.engine} engine\n\n` +
    table(["method", "object error", "object cPCC", ...els.map((e) => `${e} error`), "final loss", "time"], rows);
}

export function formatLowdose(r: LowdoseResult): string {
  const methods = Object.keys(r.doses[0]?.methods ?? {});
  const rows = r.doses.flatMap((d) => methods.map((m, i) => {
    const s = d.methods[m];
    return [i === 0 ? d.photons.toExponential(0) : "", m, s.rel_error.toFixed(4), s.cpcc.toFixed(4), s.grid_artifact.toFixed(2), `${s.wall_s.toFixed(1)} s`];
  }));
  return `low-dose suite (lowdose preset, seed ${r.seed}, ${r.iterations} iterations each)\n\n` +
    table(["photons", "method", "rel. error", "cPCC", "grid artifact", "time"], rows);
}

export const compareCommand: Command = {
  name: "compare",
  summary: "joint vs separate reconstructions of one scan against its ground truth",
  usage: "ptyxrf compare SCAN.h5 --truth TRUTH.h5 [--iterations N] [--json]   |   ptyxrf compare --suite lowdose [--seed S] [--json]",
  help: `Runs the joint reconstruction, ptychography alone and XRF alone with the same iteration budget and
engine, and prints a table: the object's relative error (after removing a global complex factor) and cPCC
for joint vs ptychography alone, each element map's relative error (after removing a real scale) for joint
vs XRF alone, over the illuminated region; final losses and times. The last row gives joint / separate.

With --suite lowdose it simulates the DAP paper's low-dose setting (15 x 15 raster, probe 64, overlap 0.5,
Poisson counts with at most 1e3, 1e4, 1e5 photons in the brightest pattern) and scores plain ptychography,
ptychography with the DAP toolkit, rPIE and the joint reconstruction with the DAP toolkit: relative error,
cPCC and grid-artifact power of the phase (1 = no more periodic power than the true object).

Options:
  --json              print the comparison as JSON
  --suite lowdose     run the low-dose suite (no SCAN.h5)
  --seed S            the suite's simulation seed (default 1)
  --photons A,B,...   the suite's doses (default ${LOWDOSE_PHOTONS.join(",")})
${SOLVER_HELP}
  -h, --help          this help`,
  async run(argv: string[], io: Io): Promise<number> {
    const { values: v, positionals } = parse("compare", argv, {
      ...SOLVER_OPTIONS, json: { type: "boolean" }, suite: { type: "string" }, seed: { type: "string" }, photons: { type: "string" },
    });
    if (v.suite !== undefined) {
      choiceOption("compare", "suite", v.suite, ["lowdose"] as const);
      if (positionals.length) throw new UsageError("--suite simulates its own scans: give no SCAN.h5", "compare");
      const base = solverConfigInput("compare", v);
      const photons = v.photons?.split(",").map(Number);
      if (photons && photons.some((p) => !(p >= 1))) throw new UsageError(`--photons expects numbers >= 1, got "${v.photons}"`, "compare");
      const result = await runLowdoseSuite({
        seed: intOption("compare", "seed", v.seed, 0) ?? 1,
        iterations: (base.iterations as number | undefined) ?? 200,
        ...(base.engine ? { engine: base.engine as string } : {}),
        ...(base.threads ? { threads: base.threads as number } : {}),
        ...(photons ? { photons } : {}),
        onProgress: (line) => io.err(line),
      });
      io.out(v.json ? JSON.stringify(result, null, 2) : formatLowdose(result));
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError("expected exactly one SCAN.h5", "compare");
    const scanPath = positionals[0];
    if (!fs.existsSync(scanPath)) throw new UsageError(`no such file: ${scanPath}`, "compare");
    if (!v.truth) throw new UsageError("--truth TRUTH.h5 is required", "compare");
    if (!fs.existsSync(v.truth)) throw new UsageError(`no such file: ${v.truth}`, "compare");
    const base = solverConfigInput("compare", v);
    const prepared = await prepare(scanPath, v.truth);
    const results = {} as Record<"joint" | "ptycho" | "xrf", MethodResult>;
    let iterations = 0, engine = "";
    for (const mode of ["joint", "ptycho", "xrf"] as const) {
      const progress = createProgress(io.err, io.isTTY, mode.padEnd(6));
      const { reconstruction: r, errors } = await solve(prepared, { ...base, mode }, (rec, total) => progress.update(rec, total));
      progress.done();
      const f = finalMetrics(r, errors);
      iterations = r.config.iterations;
      engine = `${r.engine.name} (${r.engine.device})`;
      results[mode] = { rel_error: f.object_rel_error, cpcc: f.object_cpcc, loss: f.loss_total, wall_s: r.wall_s, elements: f.element_rel_error ?? {} };
    }
    const elements = Object.fromEntries(Object.keys(results.joint.elements).map((el) => [el, {
      joint: { rel_error: results.joint.elements[el] }, xrf: { rel_error: results.xrf.elements[el] },
    }]));
    const comparison: Comparison = {
      scan: scanPath, truth: v.truth, iterations, engine,
      object: {
        joint: { rel_error: results.joint.rel_error!, cpcc: results.joint.cpcc! },
        ptycho: { rel_error: results.ptycho.rel_error!, cpcc: results.ptycho.cpcc! },
      },
      elements,
      ratios: {
        object: results.joint.rel_error! / results.ptycho.rel_error!,
        elements: Object.fromEntries(Object.entries(elements).map(([el, e]) => [el, e.joint.rel_error / e.xrf.rel_error])),
      },
      final_loss: { joint: results.joint.loss, ptycho: results.ptycho.loss, xrf: results.xrf.loss },
      time_s: { joint: results.joint.wall_s, ptycho: results.ptycho.wall_s, xrf: results.xrf.wall_s },
    };
    io.out(v.json ? JSON.stringify(comparison, null, 2) : formatComparison(comparison));
    return 0;
  },
};
