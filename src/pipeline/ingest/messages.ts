/** What users are told about their uploads: rejection and submission messages, and the rejection report. */
import type { Problem, ValidationReport } from "../../scan/validate.js";
import { linkExpiryFromEnv, linkFields, linkLines, linkOutcome, presignGet, type LinkOutcome, type RejectionLinks } from "../notify/links.js";
import type { Notification } from "../notify/notifier.js";
import { S3ObjectStore, type ObjectStore } from "../storage/objectStore.js";
import type { UploadConfig } from "./uploadConfig.js";

export type ProblemSource = "upload" | "config" | "scan";

export interface RejectionReport {
  kind: "ptyxrf-rejection";
  version: 1;
  scan: { uri: string; bucket: string; key: string; versionId?: string; etag: string; size: number };
  user: string;
  uploadId: string;
  /** s3:// folder holding this report. */
  resultPrefix: string;
  rejectedAt: string;
  summary: string;
  /** Every problem: the upload's key, its config, the scan file. */
  problems: (Problem & { source: ProblemSource })[];
  warnings: Problem[];
  config: { source: UploadConfig["source"]; origin: string | null };
  /** What validating the scan read from S3 (ranged GETs). */
  read: ValidationReport["read"] | null;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function numbered(problems: Problem[]): string {
  return problems.map((p, i) => `  ${i + 1}. [${p.code}] ${p.message}`).join("\n");
}

function warningLines(warnings: Problem[]): string {
  return warnings.length ? `\nWarnings (the scan is usable, but look at these):\n${warnings.map((w) => `  - [${w.code}] ${w.message}`).join("\n")}\n` : "";
}

/**
 * A presigned link to the rejection report, signed with the object store's S3 client (the one that wrote
 * it); undefined when the store is not S3 (tests' memory stores). Never throws: a failure becomes the
 * reason given in the message. `expirySeconds`: default PTYXRF_LINK_EXPIRY_SECONDS (or 7 days).
 */
export async function rejectionLinks(objects: ObjectStore, bucket: string, key: string, expirySeconds?: number, now?: number): Promise<LinkOutcome<RejectionLinks> | undefined> {
  if (!(objects instanceof S3ObjectStore)) return undefined;
  return linkOutcome(async () => {
    const { url, ...expiry } = await presignGet(objects.client, bucket, key, { expirySeconds: expirySeconds ?? linkExpiryFromEnv(), ...(now !== undefined ? { now } : {}) });
    return { report: url, ...expiry };
  });
}

export function rejectionNotification(report: RejectionReport, reportUri: string, links?: LinkOutcome<RejectionLinks>): Notification {
  const name = report.scan.key.split("/").pop() ?? report.scan.key;
  const text = [
    `Your upload ${report.scan.uri}${report.scan.versionId ? ` (version ${report.scan.versionId})` : ""} was not accepted: ${report.summary}.`,
    "",
    numbered(report.problems),
    warningLines(report.warnings),
    `Full report: ${reportUri}`,
    ...linkLines(links, (l) => [["rejection.json", l.report, ""]]).slice(1),
    "The uploaded file is unchanged. Fix the problems and upload again.",
  ].join("\n");
  return {
    user: report.user,
    kind: "rejected",
    subject: `ptyxrf: rejected ${name} (${plural(report.problems.length, "problem")})`,
    text,
    details: {
      scan: report.scan.uri, versionId: report.scan.versionId ?? null, report: reportUri, ...linkFields(links),
      problems: report.problems.map(({ source, code, path, expected, found }) => ({ source, code, path, expected, found })),
      warnings: report.warnings.map(({ code, path, expected, found }) => ({ code, path, expected, found })),
    },
  };
}

export function submittedNotification(args: {
  user: string; scanUri: string; versionId?: string; jobId: string; jobName: string; resultPrefix: string;
  config: UploadConfig; warnings: Problem[];
}): Notification {
  const name = args.scanUri.split("/").pop() ?? args.scanUri;
  const text = [
    `Your upload ${args.scanUri}${args.versionId ? ` (version ${args.versionId})` : ""} is valid and was submitted for reconstruction.`,
    "",
    `  job id       ${args.jobId}`,
    `  job name     ${args.jobName}`,
    `  config       ${args.config.source === "defaults" ? "solver defaults" : `${args.config.source}: ${args.config.origin}`}`,
    `  results      ${args.resultPrefix} (complete when manifest.json appears)`,
    warningLines(args.warnings),
    "You will get another message when the job finishes.",
  ].join("\n");
  return {
    user: args.user,
    kind: "submitted",
    subject: `ptyxrf: submitted ${name} (job ${args.jobId})`,
    text,
    details: {
      scan: args.scanUri, versionId: args.versionId ?? null, jobId: args.jobId, jobName: args.jobName, resultPrefix: args.resultPrefix,
      configSource: args.config.source, warnings: args.warnings.map(({ code, path, expected, found }) => ({ code, path, expected, found })),
    },
  };
}
