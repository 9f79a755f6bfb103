/** The real `bin/ptyxrf.js` in a child process that runs alongside the test: wait for its output, signal it. */
import { spawn, type ChildProcess } from "node:child_process";
import { BIN, type CliResult } from "./run.js";

export interface Running {
  child: ChildProcess;
  /** stderr so far. */
  stderr(): string;
  /** Resolves when stderr matches `re` (rejects after `timeoutMs` or when the process ends first). */
  waitForStderr(re: RegExp, timeoutMs?: number): Promise<void>;
  /** Exit status and output, with the wall time from spawn to exit. */
  done: Promise<CliResult & { ms: number }>;
}

export function spawnBin(argv: string[], timeoutMs = 60_000): Running {
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, ...argv], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "", stderr = "";
  const waiters: { re: RegExp; resolve: () => void; reject: (e: Error) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (w.re.test(stderr)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout!.on("data", (d: Buffer) => { stdout += d.toString(); });
  child.stderr!.on("data", (d: Buffer) => { stderr += d.toString(); check(); });
  const kill = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const done = new Promise<CliResult & { ms: number }>((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(kill);
      for (const w of waiters.splice(0)) w.reject(new Error(`process ended (code ${code}, signal ${signal}) before stderr matched ${w.re}:\n${stderr}`));
      resolve({ code: code ?? -1, stdout, stderr: signal ? `${stderr}\n[killed by ${signal}]` : stderr, ms: performance.now() - t0 });
    });
  });
  return {
    child,
    stderr: () => stderr,
    waitForStderr(re, ms = 30_000) {
      return new Promise<void>((resolve, reject) => {
        if (re.test(stderr)) return resolve();
        const timer = setTimeout(() => reject(new Error(`stderr did not match ${re} within ${ms} ms:\n${stderr}`)), ms);
        waiters.push({ re, resolve: () => { clearTimeout(timer); resolve(); }, reject: (e) => { clearTimeout(timer); reject(e); } });
      });
    },
    done,
  };
}
