/**
 * `ptyxrf submit SCAN.h5`: uploads a scan where the service listens (incoming/<user>/<name>.h5), with an
 * optional solver config and ground truth, prints the run id, and with --wait follows the run to its end.
 */
import fs from "node:fs";
import path from "node:path";
import type { RunStatus, ServiceClient } from "../../pipeline/local/client.js";
import { followRun, FollowTimeout, progressLine, runSummary } from "../../pipeline/local/follow.js";
import { followNotifications } from "../../pipeline/local/notifications.js";
import { localPaths } from "../../pipeline/local/layout.js";
import { ConfigError, resolveConfig } from "../../solver/config.js";
import { maskKeyProblem } from "../../pipeline/maskKey.js";
import { numberOption, parse, UsageError, type Command, type Io } from "../args.js";
import { formatBytes } from "../format.js";
import { terminalSafe } from "../../scan/safeText.js";
import { openClient, PROFILE_HELP, PROFILE_OPTIONS, userOf } from "./local.js";

export const submitCommand: Command = {
  name: "submit",
  summary: "upload a scan to the service (local stack, LocalStack or AWS) and follow its run",
  usage: "ptyxrf submit SCAN.h5 [--profile local|localstack|aws] [--config FILE] [--truth TRUTH.h5] [--wait]",
  help: `Uploads SCAN.h5 to s3://<scans bucket>/incoming/<user>/<name>.h5 (a progress bar on a terminal; multipart
for large files), which starts the pipeline: validation by ranged reads, then a reconstruction job, or a
rejection report naming every problem. Prints the run id (the results folder is
s3://<results bucket>/results/<user>/<name>/<run id>/). With the local profile and no stack running,
--wait starts one in this process for the duration.

Options:
  --config FILE       solver config (JSON, every field optional: see ptyxrf reconstruct --help); sent as
                      object metadata (ptyxrf-config), or as a sidecar <name>.json when larger than 1.8 KB
  --truth TRUTH.h5    ground truth (simulated scans): uploaded as <name>.truth beside the scan; the run then
                      reports its errors against it
  --name NAME         the path below your folder, without .h5 (default: the file's name)
  --wait              follow the run to its end and print the summary
  --timeout S         with --wait: give up after S seconds (exit 1)
  --json              print the run (and with --wait its final status) as JSON
${PROFILE_HELP}
  -h, --help          this help

Exit codes: 0 submitted (with --wait: succeeded), 2 invalid input (bad arguments or config; with --wait:
the upload was rejected or the worker found the input invalid), 1 failure.`,
  async run(argv: string[], io: Io): Promise<number> {
    const { values: v, positionals } = parse("submit", argv, {
      ...PROFILE_OPTIONS, config: { type: "string" }, truth: { type: "string" }, name: { type: "string" },
      wait: { type: "boolean" }, timeout: { type: "string" }, json: { type: "boolean" },
    });
    if (positionals.length !== 1) throw new UsageError("expected exactly one SCAN.h5", "submit");
    const file = positionals[0];
    if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new UsageError(`no such file: ${file}`, "submit");
    if (v.truth && !fs.existsSync(v.truth)) throw new UsageError(`no such file: ${v.truth}`, "submit");
    const timeout = numberOption("submit", "timeout", v.timeout, 1);
    let config: unknown;
    if (v.config) {
      if (!fs.existsSync(v.config)) throw new UsageError(`no such file: ${v.config}`, "submit");
      try {
        config = JSON.parse(fs.readFileSync(v.config, "utf8"));
      } catch (err) {
        throw new UsageError(`--config ${v.config} is not JSON: ${(err as Error).message}`, "submit");
      }
      const resolved = resolveConfig(config); // every problem at once, before anything is uploaded (ConfigError: exit 2)
      // the service reads a correlation mask from beside the scan, never from a path (pipeline/maskKey.ts)
      const maskProblem = resolved.correlation.mask ? maskKeyProblem(resolved.correlation.mask) : null;
      if (maskProblem) throw new ConfigError([maskProblem]);
    }
    const { client, stack } = await openClient("submit", v, io, Boolean(v.wait));
    try {
      return await submitAndFollow(client, { file, user: userOf(v), config, truth: v.truth, name: v.name, wait: Boolean(v.wait), json: Boolean(v.json), timeoutMs: timeout ? timeout * 1000 : undefined }, io);
    } catch (err) {
      if ((err as Error)?.name === "SubmitError") {
        io.err(`ptyxrf submit: ${(err as Error).message}`);
        return 2;
      }
      throw err;
    } finally {
      client.close();
      await stack?.stop();
    }
  },
};

export interface SubmitRun {
  file: string;
  user: string;
  config?: unknown;
  truth?: string | undefined;
  name?: string | undefined;
  wait: boolean;
  json: boolean;
  timeoutMs?: number | undefined;
}

/** Redrawn lines go straight to the terminal (io.err ends every text with a newline). */
const tty = (text: string) => process.stderr.write(terminalSafe(text));

function uploadBar(io: Io, label: string): (done: number, total: number) => void {
  const t0 = performance.now();
  let last = -1;
  return (done, total) => {
    if (!io.isTTY) return;
    const pct = total ? Math.floor((100 * done) / total) : 100;
    if (pct === last) return;
    last = pct;
    const rate = done / Math.max(1e-3, (performance.now() - t0) / 1000);
    const width = 24, filled = Math.round((width * pct) / 100);
    tty(`\r${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(pct).padStart(3)}%  ${formatBytes(done)} / ${formatBytes(total)}  ${formatBytes(rate)}/s\x1b[K`);
  };
}

/** Exit code for a finished run: 0 succeeded, 2 rejected or invalid input, 1 otherwise. */
export function exitCodeOf(s: RunStatus): number {
  if (s.state === "succeeded") return 0;
  if (s.state === "rejected" || s.error?.problems) return 2;
  return 1;
}

export function describeEnd(s: RunStatus, header = true): string {
  if (s.state === "succeeded") return runSummary(s, header);
  if (s.state === "rejected" && s.rejection) {
    return [`  rejected     ${s.rejection.summary}`, ...s.rejection.problems.map((p, i) => `    ${i + 1}. [${p.code}] ${p.message}`), `  report       ${s.resultUri}rejection.json`, "  The uploaded file is unchanged."].join("\n");
  }
  if (s.error?.problems) return [`  failed       the worker found the input invalid (not retried)`, ...s.error.problems.map((p) => `    - ${p}`)].join("\n");
  return `  ${s.state.padEnd(12)} ${s.detail}`;
}

export async function submitAndFollow(client: ServiceClient, o: SubmitRun, io: Io): Promise<number> {
  const t0 = performance.now();
  // notifications about this upload are followed from before it (the "submitted" one comes quickly)
  const notesFile = client.profile.dataDir ? localPaths(client.profile.dataDir).notifications : null;
  const notesFrom = notesFile && fs.existsSync(notesFile) ? fs.statSync(notesFile).size : 0;
  const submitted = await client.submit({
    file: o.file, user: o.user,
    ...(o.name ? { name: o.name } : {}), ...(o.config !== undefined ? { config: o.config } : {}), ...(o.truth ? { truthFile: o.truth } : {}),
    onProgress: uploadBar(io, "upload"),
  });
  if (io.isTTY) tty("\n");
  const upload_s = (performance.now() - t0) / 1000;
  const runId = await client.runIdOf(submitted);
  const prefix = client.resultPrefixFor(submitted, runId);
  const resultUri = `s3://${client.profile.resultsBucket}/${prefix}`;
  if (o.json && !o.wait) io.out(JSON.stringify({ runId, scan: submitted.scanUri, resultPrefix: resultUri, bytes: submitted.bytes, config: submitted.configVia }));
  else if (!o.json) {
    io.out(`run ${runId}`);
    io.out(`  scan         ${submitted.scanUri} (${formatBytes(submitted.bytes)} in ${upload_s.toFixed(2)} s; config: ${submitted.configVia}${submitted.truthKey ? `; truth: ${submitted.truthKey}` : ""})`);
    io.out(`  results      ${resultUri}`);
    if (!o.wait) io.out(`  follow       npx ptyxrf status ${runId}${client.profile.name !== "local" ? ` --profile ${client.profile.name}` : ""}`);
  }
  if (!o.wait) return 0;

  // Notifications about this run (local profiles), as they arrive.
  const stopFollow = notesFile
    ? followNotifications(notesFile, (n) => {
      const d = n.details as { scan?: string; resultPrefix?: string };
      if (d.resultPrefix === resultUri || (d.scan === submitted.scanUri && n.kind !== "succeeded")) {
        if (io.isTTY) tty("\r\x1b[K");
        io.err(`notification [${n.kind}] ${n.subject}`);
      }
    }, { fromByte: notesFrom, intervalMs: 100 })
    : null;
  let lastLine = "";
  let lastState = "";
  try {
    const end = await followRun(client, prefix, {
      intervalMs: client.profile.name === "aws" ? 5000 : 300,
      ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
      onUpdate: (s) => {
        const line = progressLine(s);
        if (io.isTTY) {
          if (line !== lastLine) tty(`\r${line}\x1b[K`);
        } else if (s.state !== lastState) {
          io.err(`${s.state}: ${s.detail}`);
        }
        lastLine = line;
        lastState = s.state;
      },
    });
    stopFollow?.();
    if (io.isTTY) tty("\n");
    if (o.json) io.out(JSON.stringify(end));
    else io.out(`\n${describeEnd(end)}`);
    return exitCodeOf(end);
  } catch (err) {
    stopFollow?.();
    if (err instanceof FollowTimeout) {
      io.err(`ptyxrf submit: ${err.message}; follow it with: npx ptyxrf status ${runId}`);
      return 1;
    }
    throw err;
  }
}
