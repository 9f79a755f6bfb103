/**
 * The `ptyxrf` command: dispatches to one command module per verb. Exit codes: 0 success, 2 invalid
 * input (bad arguments or an invalid scan, or a run that diverged: solver/finite.ts), 1 internal failure.
 * Everything written goes through terminalSafe (scan/safeText.ts).
 */
import { version } from "../version.js";
import { UsageError, type Command, type Io } from "./args.js";
import { examplesBlock } from "./examples.js";
import { ScanFormatError } from "../scan/read.js";
import { InvalidScanError } from "../pipeline/reconstructRun.js";
import { RunFolderError } from "../pipeline/runFolder/errors.js";
import { TruthMismatchError } from "../pipeline/truthMatch.js";
import { ConfigError } from "../solver/config.js";
import { NonFiniteError } from "../solver/finite.js";
import { compareCommand } from "./commands/compare.js";
import { convertCommand } from "./commands/convert.js";
import { infoCommand } from "./commands/info.js";
import { formatReport } from "./commands/validate.js";
import { reconstructCommand } from "./commands/reconstruct.js";
import { simulateCommand } from "./commands/simulate.js";
import { validateCommand } from "./commands/validate.js";
import { fetchCommand } from "./commands/fetch.js";
import { localCommand } from "./commands/local.js";
import { statusCommand } from "./commands/status.js";
import { submitCommand } from "./commands/submit.js";
import { sweepCommand } from "./commands/sweep.js";
import { reprocessCommand } from "./commands/reprocess.js";
import { NoLocalStackError, ProfileError } from "../pipeline/local/profile.js";
import { terminalSafe } from "../scan/safeText.js";

export const COMMANDS: Command[] = [
  simulateCommand, validateCommand, infoCommand, reconstructCommand, compareCommand, convertCommand,
  submitCommand, statusCommand, fetchCommand, localCommand, sweepCommand, reprocessCommand,
];

/** A line is ended unless it already is, or it is a progress line redrawn in place ("\r" ... ESC[K). */
const ended = (t: string) => (t.endsWith("\n") || t.endsWith("\x1b[K") ? t : `${t}\n`);

const defaultIo: Io = {
  out: (t) => process.stdout.write(ended(t)),
  err: (t) => process.stderr.write(ended(t)),
  isTTY: Boolean(process.stderr.isTTY),
};

export function topLevelHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return `ptyxrf: joint X-ray ptychography + X-ray fluorescence reconstruction

Usage: ptyxrf <command> [options]     (ptyxrf <command> --help for details)

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`).join("\n")}

Exit codes: 0 success, 2 invalid input, 1 internal failure; an interrupted reconstruct 130 (Ctrl-C) or
143 (SIGTERM), after a checkpoint it can --resume from.`;
}

function commandHelp(c: Command): string {
  return `Usage: ${c.usage}\n\n${c.summary[0].toUpperCase()}${c.summary.slice(1)}.\n\n${c.help}${examplesBlock(c.name)}`;
}

export async function main(argv: string[], rawIo: Io = defaultIo): Promise<number> {
  // names from files, keys and servers reach the terminal: control and bidi characters shown as escapes
  const io: Io = { out: (t) => rawIo.out(terminalSafe(t)), err: (t) => rawIo.err(terminalSafe(t)), isTTY: rawIo.isTTY };
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    io.out(topLevelHelp());
    return name ? 0 : 2;
  }
  if (name === "--version") {
    io.out(`ptyxrf ${version()}`);
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    io.err(`ptyxrf: unknown command "${name}"\n\n${topLevelHelp()}`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(commandHelp(cmd));
    return 0;
  }
  try {
    return await cmd.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`ptyxrf ${cmd.name}: ${err.message}\nUsage: ${cmd.usage}   (ptyxrf ${cmd.name} --help)`);
      return 2;
    }
    if (err instanceof InvalidScanError) {
      const { text, problems } = formatReport(err.report);
      io.err(`${problems}\n${text}`);
      return 2;
    }
    if (err instanceof ProfileError) {
      // no local stack running (1), or a profile without its settings (2)
      io.err(`ptyxrf ${cmd.name}: ${err.message}`);
      return err instanceof NoLocalStackError ? 1 : 2;
    }
    if (err instanceof ConfigError || err instanceof ScanFormatError || err instanceof RunFolderError || err instanceof TruthMismatchError || err instanceof NonFiniteError) {
      io.err(`ptyxrf ${cmd.name}: ${err.message}`);
      return 2;
    }
    io.err(`ptyxrf ${cmd.name}: internal error: ${(err as Error)?.stack ?? String(err)}`);
    return 1;
  }
}
