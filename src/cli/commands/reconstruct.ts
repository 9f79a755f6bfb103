import fs from "node:fs";
import path from "node:path";
import { runReconstruction } from "../../pipeline/reconstructRun.js";
import { cadenceFromEnv } from "../../pipeline/checkpoint/policy.js";
import { RunInterruptedError } from "../../pipeline/runFolder/checkpoints.js";
import { withAdaptedScan } from "../../scan/layouts/adapt.js";
import { choiceOption, parse, UsageError, type Command, type Io } from "../args.js";
import { formatNumber, gridSummary, keyValues } from "../format.js";
import { createProgress } from "../progress.js";
import { SOLVER_HELP, SOLVER_OPTIONS, solverConfigInput } from "./configOptions.js";
import { adaptedInputs, formatNotes, LAYOUT_HELP, LAYOUT_OPTIONS } from "./convert.js";

export const reconstructCommand: Command = {
  name: "reconstruct",
  summary: "reconstruct a scan: joint ptychography + XRF, or one of the separate baselines",
  usage: "ptyxrf reconstruct SCAN.h5 --out DIR [--mode joint|ptycho|xrf] [--iterations N] [--truth TRUTH.h5] [--engine cpu] [--threads T] [--force] [--resume]",
  help: `Modes:
  joint    one objective over shared variables: element maps c_e >= 0, a free map and the probe; the
           object is made from them through the link (linear or exponential); GradNorm balances the
           ptychography and XRF terms (default)
  ptycho   ptychography alone: a free complex object and the probe
  xrf      XRF alone: non-negative deconvolution of the maps with the probe intensity known

Writes DIR/result.h5, DIR/metrics.json, PNG previews (phase, amplitude, each element, each element over
the phase) and DIR/manifest.json last: a folder without a manifest is an incomplete run.
Progress goes to stderr (a bar on a terminal, plain lines otherwise); the summary to stdout.

Run folders: the run is built in DIR.partial and renamed to DIR when complete (into an empty DIR, its
files are moved in, manifest.json last); DIR.lock keeps a second run out of DIR while this one runs. A
DIR holding a run is replaced only with --force, in one swap: DIR is always the old run or the new one.
Other files in DIR (a scan, notes) are never deleted: such a folder is refused, even with --force.
Ctrl-C or SIGTERM: the state is saved at the end of the current iteration in
DIR.partial/_checkpoint/solver.ckpt (also every 50 iterations or 5 minutes while running; environment
PTYXRF_CHECKPOINT_EVERY, PTYXRF_CHECKPOINT_MINUTES, 0 turns one off), the command says how to resume and
exits 130 (SIGINT) or 143 (SIGTERM); a second Ctrl-C quits at once. The same command with --resume
continues from the checkpoint and ends bit-identical to an uninterrupted run (same scan bytes, options
and truth; same --threads).

Options:
  --out DIR           output folder (required)
  --mode M            joint, ptycho or xrf (default joint)
  --force             replace a DIR that holds a (complete or incomplete) run; discard an interrupted
                      run's checkpoint in DIR.partial
  --resume            continue the interrupted run in DIR.partial (same scan, options and truth)
${SOLVER_HELP}
${LAYOUT_HELP}
                      (inputs in other layouts are converted to a temporary scan, removed afterwards)
  -h, --help          this help

Exit codes: 0 done, 2 invalid scan, config, truth or arguments, or DIR in use / holding a run (no
--force) / nothing to resume, 130 or 143 stopped by SIGINT or SIGTERM (resumable), 1 internal failure.`,
  async run(argv: string[], io: Io): Promise<number> {
    const { values: v, positionals } = parse("reconstruct", argv, {
      ...SOLVER_OPTIONS, ...LAYOUT_OPTIONS, out: { type: "string" }, mode: { type: "string" }, force: { type: "boolean" }, resume: { type: "boolean" },
    });
    const { inputs, options } = adaptedInputs("reconstruct", positionals, v);
    if (!v.out) throw new UsageError("--out DIR is required", "reconstruct");
    if (v.truth && !fs.existsSync(v.truth)) throw new UsageError(`no such file: ${v.truth}`, "reconstruct");
    const mode = choiceOption("reconstruct", "mode", v.mode, ["joint", "ptycho", "xrf"] as const);
    const config = { ...solverConfigInput("reconstruct", v), ...(mode ? { mode } : {}) };
    const { cadence, problems } = cadenceFromEnv(process.env);
    if (problems.length) throw new UsageError(problems.join("; "), "reconstruct");
    const progress = createProgress(io.err, io.isTTY);
    const stop = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => {
      const nl = io.isTTY ? "\n" : ""; // after the progress bar's line
      if (stop.signal.aborted) {
        io.err(`${nl}${signal} again: quitting at once; ${v.out} is unchanged, ${v.out}.partial is left incomplete`);
        process.exit(exitCodeOf(signal)); // the folder lock is released by its exit hook (runFolder/lock.ts)
      }
      io.err(`${nl}${signal}: stopping at the end of this iteration and saving a checkpoint (${signal === "SIGINT" ? "Ctrl-C" : signal} again quits at once)`);
      stop.abort(signal);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    let result;
    try {
      result = await withAdaptedScan(inputs, options, (scanPath, label, notes) => {
        if (notes.length) io.err(formatNotes(notes));
        return runReconstruction({
          scanPath, scanLabel: label, outDir: v.out!, config, ...(v.truth ? { truthPath: v.truth } : {}), onIteration: (r, total) => progress.update(r, total),
          force: Boolean(v.force), resume: Boolean(v.resume), signal: stop.signal, cadence, onNote: (t) => io.err(`note: ${t}`),
        });
      });
    } catch (err) {
      if (!(err instanceof RunInterruptedError)) throw err;
      progress.done();
      const resumable = err.checkpointFile !== null;
      const command = ["ptyxrf", "reconstruct", ...argv.filter((a) => a !== "--resume"), "--resume"].map(shellQuote).join(" ");
      io.err(`interrupted: ${err.message}\n${v.out} ${fs.existsSync(v.out) ? "is unchanged" : "was not created"}.` +
        (resumable ? ` To continue where it stopped:\n  ${command}` : ""));
      return exitCodeOf(err.reason);
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
    const { metrics, files } = result;
    progress.done();
    if (stop.signal.aborted) io.err(`note: the reconstruction had finished when ${String(stop.signal.reason)} came: its outputs are complete`);
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

/** 130 for SIGINT, 143 for SIGTERM (128 + the signal number, as shells report them). */
function exitCodeOf(signal: string): number {
  return signal === "SIGTERM" ? 143 : 130;
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`;
}
