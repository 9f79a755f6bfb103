/** Runs the CLI in-process with captured output, or the real `bin/ptyxrf.js` in a child process. */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { main } from "../../src/cli/main.js";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(...argv: string[]): Promise<CliResult> {
  let stdout = "", stderr = "";
  const code = await main(argv, {
    out: (t) => { stdout += `${t}\n`; },
    err: (t) => { stderr += `${t}\n`; },
    isTTY: false,
  });
  return { code, stdout, stderr };
}

export const BIN = path.resolve(import.meta.dirname, "../../bin/ptyxrf.js");

/** The installed command, as `npx ptyxrf` runs it (needs `npm run build`, done by vitest's global setup). */
export function bin(...argv: string[]): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...argv], { encoding: "utf8", timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
