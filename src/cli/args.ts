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

const NEGATIVE_NUMBER = /^-(\d|\.\d)[\d.e+-]*$/i;

/** Edit distance of two short strings (for "did you mean"). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

/** The known option closest to `name` when it is a plausible typo of it. */
export function closestOption(name: string, known: string[]): string | undefined {
  let best: string | undefined, bestD = Infinity;
  for (const k of known) {
    const d = k.startsWith(name) || name.startsWith(k) ? Math.abs(k.length - name.length) * 0.5 : distance(name, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/**
 * node's parseArgs, strict, with errors a person can act on: a string option followed by a negative number
 * takes it as its value (`--iterations -5` is then refused by the option's own range check), an unknown
 * option is named with the closest known one, and an option missing its value says so.
 */
export function parse<T extends NonNullable<ParseArgsConfig["options"]>>(
  command: string,
  argv: string[],
  options: T,
  allowPositionals = true,
) {
  const all = { ...options, help: { type: "boolean" as const, short: "h" } };
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith("--") ? argv[i].slice(2) : null;
    const spec = name !== null ? (all as Record<string, { type: string }>)[name] : undefined;
    if (spec?.type === "string" && i + 1 < argv.length && NEGATIVE_NUMBER.test(argv[i + 1])) {
      args.push(`${argv[i]}=${argv[++i]}`);
    } else args.push(argv[i]);
  }
  try {
    return parseArgs({ args, options: all, allowPositionals, strict: true });
  } catch (err) {
    const e = err as Error & { code?: string };
    const known = Object.keys(all);
    if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const given = /'(-[^']*)'/.exec(e.message)?.[1] ?? "";
      const bare = given.replace(/^-+/, "").replace(/=.*$/, "");
      const guess = closestOption(bare, known);
      throw new UsageError(`unknown option ${given}${guess ? ` (did you mean --${guess}?)` : ""}`, command);
    }
    if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      const name = /--([A-Za-z0-9-]+)/.exec(e.message)?.[1] ?? "";
      const spec = (all as Record<string, { type: string }>)[name];
      throw new UsageError(spec?.type === "boolean" ? `--${name} takes no value` : `--${name} needs a value (a value starting with a dash goes as --${name}=-VALUE)`, command);
    }
    throw new UsageError(e.message.replace(/^TypeError \[[A-Z_]+\]: /, ""), command);
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
