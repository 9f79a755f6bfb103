/** The worker's completion notification: a summary of the run, where its outputs are, presigned links to them. */
import type { S3Client } from "@aws-sdk/client-s3";
import type { RunMetrics } from "../outputs.js";
import { linkExpiryFromEnv, linkFields, linkOutcome, runLinkLines, runLinks, type LinkOutcome, type RunLinks } from "../notify/links.js";
import type { Notification } from "../notify/notifier.js";
import { attributeUser } from "../notify/notifier.js";
import type { WorkerJob } from "./job.js";
import type { S3Location } from "./transfer.js";

export interface OutputFile {
  name: string;
  bytes: number;
  uri: string;
}

export interface RunSummary extends Pick<RunMetrics, "mode" | "iterations" | "wall_s" | "ms_per_iter" | "engine" | "device" | "final"> {
  runId: string;
  /** Errors at the first iteration (the starting point), when a truth was given. */
  initialErrors: Record<string, number> | null;
  /** Iteration the run resumed from (0: not resumed) and the job attempt. */
  resumedFrom: number;
  attempt: number;
  /** Job wall time, from the worker's start to the notification. */
  jobWall_s: number;
}

function fmt(x: number | undefined, digits = 4): string {
  if (x === undefined || !Number.isFinite(x)) return "-";
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(3) : x.toFixed(digits);
}

function bytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

/** The run id: the last segment of the result prefix (the upload tag). */
export function runIdOf(resultKeyPrefix: string): string {
  const parts = resultKeyPrefix.split("/").filter(Boolean);
  return parts[parts.length - 1] ?? resultKeyPrefix;
}

export interface NotificationLinks {
  /** The S3 console's page of the run folder (AWS only). */
  console?: string;
  /** Presigned links to the run's files, or why there are none. */
  download?: LinkOutcome<RunLinks>;
}

/**
 * Presigned links to a finished run's files, signed with the worker's S3 client; never throws. `names`: the
 * files known to be in the folder; `expirySeconds`: default PTYXRF_LINK_EXPIRY_SECONDS (or 7 days).
 */
export function runDownloadLinks(client: S3Client, out: S3Location, names: readonly string[], expirySeconds?: number, now?: number): Promise<LinkOutcome<RunLinks>> {
  return linkOutcome(() => runLinks(client, out.bucket, out.key, names, { expirySeconds: expirySeconds ?? linkExpiryFromEnv(), ...(now !== undefined ? { now } : {}) }));
}

export function succeededNotification(job: WorkerJob, s: RunSummary, files: OutputFile[], links: NotificationLinks = {}): Notification {
  const name = job.scan.key.split("/").pop() ?? job.scan.key;
  const f = s.final;
  const lines = [
    `The reconstruction of ${job.scanUri} finished: ${s.mode}, ${s.iterations} iterations in ${s.wall_s.toFixed(1)} s ` +
      `(${s.ms_per_iter.toFixed(1)} ms/iteration) on ${s.engine} (${s.device}).`,
    "",
    `  run id        ${s.runId}`,
    `  final loss    ${fmt(f.loss_total)}${f.loss_ptycho !== undefined ? `  ptycho ${fmt(f.loss_ptycho)}` : ""}${f.loss_xrf !== undefined ? `  xrf ${fmt(f.loss_xrf)}` : ""}`,
  ];
  if (f.weight_ptycho !== undefined && f.weight_xrf !== undefined) lines.push(`  weights       ptycho ${f.weight_ptycho.toFixed(3)}, xrf ${f.weight_xrf.toFixed(3)}`);
  if (f.object_rel_error !== undefined) {
    const start = s.initialErrors?.object;
    lines.push(`  object error  ${fmt(f.object_rel_error)} (cPCC ${fmt(f.object_cpcc)})${start !== undefined ? `, from ${fmt(start)} after iteration 1` : ""}`);
  }
  for (const [el, e] of Object.entries(f.element_rel_error ?? {})) {
    const start = s.initialErrors?.[el];
    lines.push(`  ${`${el} map error`.padEnd(13)} ${fmt(e)}${start !== undefined ? `, from ${fmt(start)} after iteration 1` : ""}`);
  }
  if (s.resumedFrom > 0) lines.push(`  resumed       from the checkpoint at iteration ${s.resumedFrom} (attempt ${s.attempt})`);
  lines.push(`  job           ${job.jobId}, ${s.jobWall_s.toFixed(1)} s in the worker`);
  lines.push(`  results       ${job.outUri}`);
  for (const file of files) lines.push(`                ${file.name.padEnd(18)} ${bytes(file.bytes).padStart(10)}`);
  lines.push("                (manifest.json lists every file with its sha256)");
  if (links.console) lines.push(`  browse        ${links.console}`);
  lines.push(...runLinkLines(links.download));
  lines.push("", `Fetch them with: npx ptyxrf fetch ${s.runId} --out DIR`);
  const err = f.object_rel_error !== undefined ? ` (object error ${fmt(f.object_rel_error, 3)})` : "";
  return {
    user: attributeUser(job.user),
    kind: "succeeded",
    subject: `ptyxrf: finished ${name}${err}`,
    text: lines.join("\n"),
    details: {
      scan: job.scanUri, scanVersion: job.scanVersion, resultPrefix: job.outUri, runId: s.runId, jobId: job.jobId,
      summary: s, files, ...(links.console ? { console: links.console } : {}), ...linkFields(links.download),
    },
  };
}

/** The S3 console's page of a folder (AWS only). */
export function consoleUrl(bucket: string, prefix: string, region?: string): string {
  return `https://s3.console.aws.amazon.com/s3/buckets/${bucket}?prefix=${encodeURIComponent(prefix)}${region ? `&region=${region}` : ""}`;
}
