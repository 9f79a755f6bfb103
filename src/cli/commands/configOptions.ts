/** Options shared by the commands that reconstruct: a config file plus the common overrides. */
import fs from "node:fs";
import { choiceOption, intOption, UsageError } from "../args.js";

export const SOLVER_OPTIONS = {
  iterations: { type: "string" }, engine: { type: "string" }, threads: { type: "string" },
  config: { type: "string" }, truth: { type: "string" },
} as const;

export const SOLVER_HELP = `  --iterations N      iterations (default 200)
  --truth FILE.h5     ground truth (from ptyxrf simulate): errors every iteration, object grid = truth's
  --engine E          compute engine: cpu (default; worker threads), tfjs (TensorFlow.js: tfjs-node-gpu when
                      installed, else its slow pure-JS CPU backend), auto (tfjs on a GPU when one is usable,
                      else cpu; says which) or reference (slow, exact)
  --threads T         worker threads of the cpu engine (default: all cores)
  --config FILE.json  solver config (see README "Solver config"); the options above override it`;

/** The config object from --config FILE plus the command-line overrides (validated later by resolveConfig). */
export function solverConfigInput(cmd: string, v: Record<string, string | boolean | undefined>): Record<string, unknown> {
  let config: Record<string, unknown> = {};
  if (typeof v.config === "string") {
    let text: string;
    try {
      text = fs.readFileSync(v.config, "utf8");
    } catch {
      throw new UsageError(`cannot read the config file ${v.config}`, cmd);
    }
    try {
      config = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`${v.config} is not valid JSON: ${(err as Error).message}`, cmd);
    }
  }
  const iterations = intOption(cmd, "iterations", v.iterations as string | undefined, 1);
  const threads = intOption(cmd, "threads", v.threads as string | undefined, 1);
  const engine = choiceOption(cmd, "engine", v.engine as string | undefined, ["auto", "cpu", "tfjs", "reference"] as const);
  return {
    ...config,
    ...(iterations !== undefined ? { iterations } : {}),
    ...(threads !== undefined ? { threads } : {}),
    ...(engine !== undefined ? { engine } : {}),
  };
}
