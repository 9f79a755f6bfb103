/** Argument parsing shared by the commands: node's parseArgs with errors turned into usage errors. */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** Bad command-line input: exit code 2 with the message and a pointer to --help. */
export class UsageError extends Error {
  constructor(message: string, readonly command?: string) {
    super(message);
    this.name = "UsageError";
  }
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Full --help text after the usage line. */
  help: string;
  run(argv: string[], io: Io): Promise<number>;
}

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  isTTY: boolean;
}

export function parse<T extends NonNullable<ParseArgsConfig["options"]>>(
  command: string,
  argv: string[],
  options: T,
  allowPositionals = true,
) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ""), command);
  }
}

export function intOption(command: string, name: string, value: string | undefined, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const v = Number(value);
  if (!Number.isInteger(v) || v < min) throw new UsageError(`--${name} expects an integer >= ${min}, got "${value}"`, command);
  return v;
}

export function numberOption(command: string, name: string, value: string | undefined, min = -Infinity, max = Infinity): number | undefined {
  if (value === undefined) return undefined;
  const v = Number(value);
  if (!Number.isFinite(v) || v < min || v > max) throw new UsageError(`--${name} expects a number in [${min}, ${max}], got "${value}"`, command);
  return v;
}

export function choiceOption<C extends string>(command: string, name: string, value: string | undefined, choices: readonly C[]): C | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`--${name} expects one of ${choices.join(", ")}, got "${value}"`, command);
  return value as C;
}
