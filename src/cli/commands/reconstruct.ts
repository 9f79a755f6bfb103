import fs from "node:fs";
import path from "node:path";
import { runReconstruction } from "../../pipeline/reconstructRun.js";
import { withAdaptedScan } from "../../scan/layouts/adapt.js";
import { choiceOption, parse, UsageError, type Command, type Io } from "../args.js";
import { formatNumber, gridSummary, keyValues } from "../format.js";
import { createProgress } from "../progress.js";
import { SOLVER_HELP, SOLVER_OPTIONS, solverConfigInput } from "./configOptions.js";
import { adaptedInputs, formatNotes, LAYOUT_HELP, LAYOUT_OPTIONS } from "./convert.js";

export const reconstructCommand: Command = {
  name: "reconstruct",
  summary: "reconstruct a scan: joint ptychography + XRF, or one of the separate baselines",
  usage: "ptyxrf reconstruct SCAN.h5 --out DIR [--mode joint|ptycho|xrf] [--iterations N] [--truth TRUTH.h5] [--engine cpu] [--threads T]",
  help: `Modes:
  joint    one objective over shared variables: element maps c_e >= 0, a free map and the probe; the
           object is made from them through the link (linear or exponential); GradNorm balances the
           ptychography and XRF terms (default)
  ptycho   ptychography alone: a free complex object and the probe
  xrf      XRF alone: non-negative deconvolution of the maps with the probe intensity known

Writes DIR/result.h5, DIR/metrics.json, PNG previews (phase, amplitude, each element, each element over
the phase) and DIR/manifest.json last: a folder without a manifest is an incomplete run.
Progress goes to stderr (a bar on a terminal, plain lines otherwise); the summary to stdout.

Options:
  --out DIR           output folder (required)
  --mode M            joint, ptycho or xrf (default joint)
${SOLVER_HELP}
${LAYOUT_HELP}
                      (inputs in other layouts are converted to a temporary scan, removed afterwards)
  -h, --help          this help

Exit codes: 0 done, 2 invalid scan, config or arguments, 1 internal failure.`,
  async run(argv: string[], io: Io): Promise<number> {
    const { values: v, positionals } = parse("reconstruct", argv, { ...SOLVER_OPTIONS, ...LAYOUT_OPTIONS, out: { type: "string" }, mode: { type: "string" } });
    const { inputs, options } = adaptedInputs("reconstruct", positionals, v);
    if (!v.out) throw new UsageError("--out DIR is required", "reconstruct");
    if (v.truth && !fs.existsSync(v.truth)) throw new UsageError(`no such file: ${v.truth}`, "reconstruct");
    const mode = choiceOption("reconstruct", "mode", v.mode, ["joint", "ptycho", "xrf"] as const);
    const config = { ...solverConfigInput("reconstruct", v), ...(mode ? { mode } : {}) };
    const progress = createProgress(io.err, io.isTTY);
    const { metrics, files } = await withAdaptedScan(inputs, options, (scanPath, label, notes) => {
      if (notes.length) io.err(formatNotes(notes));
      return runReconstruction({
        scanPath, scanLabel: label, outDir: v.out!, config, ...(v.truth ? { truthPath: v.truth } : {}), onIteration: (r, total) => progress.update(r, total),
      });
    });
    progress.done();
    const f = metrics.final;
    const rows: [string, string][] = [
      ["mode", `${metrics.mode}, ${metrics.iterations} iterations, ${metrics.wall_s.toFixed(1)} s (${metrics.ms_per_iter.toFixed(1)} ms/iteration)`],
      ["engine", `${metrics.engine} (${metrics.device})`],
      ["final loss", `${formatNumber(f.loss_total)}${f.loss_ptycho !== undefined ? `  ptycho ${formatNumber(f.loss_ptycho)}` : ""}${f.loss_xrf !== undefined ? `  xrf ${formatNumber(f.loss_xrf)}` : ""}`],
    ];
    if (f.weight_ptycho !== undefined && f.weight_xrf !== undefined) rows.push(["weights", `ptycho ${f.weight_ptycho.toFixed(3)}, xrf ${f.weight_xrf.toFixed(3)}`]);
    if (f.object_rel_error !== undefined) rows.push(["object error", `${f.object_rel_error.toFixed(4)} (cPCC ${f.object_cpcc!.toFixed(4)})`]);
    for (const [el, e] of Object.entries(f.element_rel_error ?? {})) rows.push([`${el} map error`, e.toFixed(4)]);
    rows.push(["units", gridSummary(metrics)]);
    rows.push(["outputs", files.map((x) => path.join(v.out!, x)).join("\n")]);
    io.out(keyValues(rows));
    return 0;
  },
};
