/**
 * Batch job state changes (EventBridge "Batch Job State Change", SUCCEEDED or FAILED) to user
 * notifications. The user and the result folder come from the job's parameters (jobSpec.ts).
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { EventBridgeEvent } from "aws-lambda";
import { INVALID_INPUT_EXIT_CODE } from "../submit/jobSpec.js";
import type { Logger } from "../ingest/log.js";
import { failureLinks, linkExpiryFromEnv, linkFields, linkLines, linkOutcome, type FailureLinks, type LinkOutcome } from "./links.js";
import { attributeUser, type Notification, type Notifier } from "./notifier.js";

/** The error report a worker writes into the run folder when a run fails (worker.ts ERROR_FILE). */
export const WORKER_ERROR_FILE = "error.json";

/** What a FAILED notification needs to link the worker's error report: a client that may read it. */
export interface FailureLinkDeps {
  s3: S3Client;
  /** Default PTYXRF_LINK_EXPIRY_SECONDS (or 7 days). */
  expirySeconds?: number;
}

export interface BatchJobDetail {
  jobArn?: string;
  jobName: string;
  jobId: string;
  jobQueue?: string;
  status: string;
  statusReason?: string;
  parameters?: Record<string, string>;
  container?: { exitCode?: number; reason?: string; logStreamName?: string };
  attempts?: { container?: { exitCode?: number; reason?: string; logStreamName?: string }; statusReason?: string }[];
  createdAt?: number;
  startedAt?: number;
  stoppedAt?: number;
}

export type BatchJobEvent = EventBridgeEvent<"Batch Job State Change", BatchJobDetail>;

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s` : s < 7200 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`;
}

/** The notification for a finished job, or null for other states. */
export function jobNotification(d: BatchJobDetail, region?: string, links?: LinkOutcome<FailureLinks>): Notification | null {
  if (d.status !== "SUCCEEDED" && d.status !== "FAILED") return null;
  const p = d.parameters ?? {};
  const user = attributeUser(p.user ?? "");
  const scan = p.scanUri ?? "(unknown scan)";
  const results = p.resultPrefix ?? "(unknown)";
  const name = scan.split("/").pop() ?? scan;
  const ran = d.startedAt && d.stoppedAt ? duration(d.stoppedAt - d.startedAt) : null;
  const last = d.attempts?.[d.attempts.length - 1];
  const exitCode = d.container?.exitCode ?? last?.container?.exitCode;
  const logStream = d.container?.logStreamName ?? last?.container?.logStreamName;
  const logs = logStream ? `CloudWatch log stream ${logStream}${region ? ` (region ${region})` : ""}` : null;
  const common = { scan, jobId: d.jobId, jobName: d.jobName, resultPrefix: results, status: d.status, attempts: d.attempts?.length ?? null, exitCode: exitCode ?? null, logStream: logStream ?? null };
  if (d.status === "SUCCEEDED") {
    return {
      user, kind: "succeeded",
      subject: `ptyxrf: finished ${name}`,
      text: [
        `The reconstruction of ${scan} finished${ran ? ` in ${ran}` : ""}.`,
        "",
        `  results   ${results}`,
        `            result.h5, metrics.json, PNG previews; manifest.json lists every file with its sha256`,
        `  job       ${d.jobName} (${d.jobId})`,
      ].join("\n"),
      details: common,
    };
  }
  const invalid = exitCode === INVALID_INPUT_EXIT_CODE;
  const reason = [d.statusReason, d.container?.reason ?? last?.container?.reason].filter(Boolean).join("; ") || "no reason given";
  return {
    user, kind: "failed",
    subject: `ptyxrf: failed ${name}${invalid ? " (invalid input)" : ""}`,
    text: [
      `The reconstruction of ${scan} failed${invalid ? ": the worker found the input invalid (not retried)" : ""}.`,
      "",
      `  reason    ${reason}`,
      `  exit code ${exitCode ?? "none (the container did not finish: host or Spot instance lost?)"}`,
      `  attempts  ${d.attempts?.length ?? "?"}`,
      `  job       ${d.jobName} (${d.jobId})`,
      ...(logs ? [`  logs      ${logs}`] : []),
      `  partial   ${results} (no manifest.json: incomplete)`,
      ...linkLines(links, (l) => [[WORKER_ERROR_FILE, l.error, "(none: the worker wrote no error report)"]]),
    ].join("\n"),
    details: { ...common, reason, invalidInput: invalid, ...linkFields(links) },
  };
}

/** s3://bucket/prefix/ of a job's result folder, or null. */
function resultFolder(d: BatchJobDetail): { bucket: string; prefix: string } | null {
  const m = /^s3:\/\/([^/]+)\/(.+\/)$/.exec(d.parameters?.resultPrefix ?? "");
  return m ? { bucket: m[1], prefix: m[2] } : null;
}

export async function handleJobStateChange(event: BatchJobEvent, notifier: Notifier, log: Logger, linkDeps?: FailureLinkDeps): Promise<Notification | null> {
  const d = event.detail;
  const folder = d?.status === "FAILED" && linkDeps ? resultFolder(d) : null;
  const links = folder && linkDeps
    ? await linkOutcome(() => failureLinks(linkDeps.s3, folder.bucket, folder.prefix, WORKER_ERROR_FILE, { expirySeconds: linkDeps.expirySeconds ?? linkExpiryFromEnv() }))
    : undefined;
  const n = jobNotification(d, event.region, links);
  if (!n) {
    log.log("info", "ignored", { jobId: d?.jobId, status: d?.status });
    return null;
  }
  const messageId = await notifier.publish(n);
  log.log("info", "notified", { jobId: d.jobId, status: d.status, user: n.user, messageId });
  return n;
}
