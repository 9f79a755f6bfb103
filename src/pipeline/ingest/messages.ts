/** What users are told about their uploads: rejection and submission messages, and the rejection report. */
import type { Problem, ValidationReport } from "../../scan/validate.js";
import { linkExpiryFromEnv, linkFields, linkLines, linkOutcome, presignGet, type LinkOutcome, type RejectionLinks } from "../notify/links.js";
import type { Notification } from "../notify/notifier.js";
import { clip, safeText } from "../../scan/safeText.js";
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
  /** Scan problems the validator counted but did not list (it lists at most ValidationLimits.maxProblems of each). */
  omitted?: ValidationReport["omitted"];
  config: { source: UploadConfig["source"]; origin: string | null };
  /** What validating the scan read from S3 (ranged GETs). */
  read: ValidationReport["read"] | null;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** Problems and warnings listed in a message (all of them are in rejection.json). */
export const LISTED_PROBLEMS = 20;
/** Characters of one problem's line in a message. */
const LINE_CHARS = 400;
/** Characters of one field of a problem in a message's JSON details. */
const FIELD_CHARS = 300;

function line(p: Problem): string {
  return clip(`[${safeText(p.code)}] ${safeText(p.message)}`, LINE_CHARS);
}

function moreLine(total: number, listed: number, what: string): string[] {
  return total > listed ? [`  ... and ${total - listed} more ${what} (every one is in the full report, rejection.json)`] : [];
}

function numbered(problems: Problem[]): string {
  const listed = problems.slice(0, LISTED_PROBLEMS);
  return [...listed.map((p, i) => `  ${i + 1}. ${line(p)}`), ...moreLine(problems.length, listed.length, "problems")].join("\n");
}

function warningLines(warnings: Problem[]): string {
  if (!warnings.length) return "";
  const listed = warnings.slice(0, LISTED_PROBLEMS);
  return `\nWarnings (the scan is usable, but look at these):\n${[...listed.map((w) => `  - ${line(w)}`), ...moreLine(warnings.length, listed.length, "warnings")].join("\n")}\n`;
}

/** A problem's fields for people reading rejection.json: control and bidi characters escaped (safeText.ts). */
export function safeProblem<P extends Problem>(p: P): P {
  return { ...p, expected: safeText(p.expected), found: safeText(p.found), message: safeText(p.message) };
}

/** The first problems' fields, each clipped, for a message's JSON details. */
function detailProblems<P extends Problem>(problems: P[], fields: (p: P) => Record<string, string>): Record<string, string>[] {
  return problems.slice(0, LISTED_PROBLEMS).map((p) => Object.fromEntries(Object.entries(fields(p)).map(([k, v]) => [k, clip(safeText(v), FIELD_CHARS)])));
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

/**
 * The rejection message: the first LISTED_PROBLEMS problems (and warnings), "... and K more", and the link
 * to rejection.json, which holds every one. User-controlled text (the key, dataset and element names in
 * the problems) is escaped; with the notifier's own cap the message always fits SNS's 256 KiB.
 */
export function rejectionNotification(report: RejectionReport, reportUri: string, links?: LinkOutcome<RejectionLinks>): Notification {
  const name = safeText(report.scan.key.split("/").pop() ?? report.scan.key);
  const text = [
    `Your upload ${safeText(report.scan.uri)}${report.scan.versionId ? ` (version ${safeText(report.scan.versionId)})` : ""} was not accepted: ${report.summary}.`,
    "",
    numbered(report.problems),
    warningLines(report.warnings),
    `Full report: ${safeText(reportUri)}`,
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
      problemCount: report.problems.length, warningCount: report.warnings.length,
      problems: detailProblems(report.problems, ({ source, code, path, expected, found }) => ({ source, code, path, expected, found })),
      warnings: detailProblems(report.warnings, ({ code, path, expected, found }) => ({ code, path, expected, found })),
    },
  };
}

export function submittedNotification(args: {
  user: string; scanUri: string; versionId?: string; jobId: string; jobName: string; resultPrefix: string;
  config: UploadConfig; warnings: Problem[];
}): Notification {
  const name = safeText(args.scanUri.split("/").pop() ?? args.scanUri);
  const text = [
    `Your upload ${safeText(args.scanUri)}${args.versionId ? ` (version ${safeText(args.versionId)})` : ""} is valid and was submitted for reconstruction.`,
    "",
    `  job id       ${args.jobId}`,
    `  job name     ${safeText(args.jobName)}`,
    `  config       ${args.config.source === "defaults" ? "solver defaults" : `${args.config.source}: ${safeText(args.config.origin ?? "")}`}`,
    `  results      ${safeText(args.resultPrefix)} (complete when manifest.json appears)`,
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
      configSource: args.config.source, warningCount: args.warnings.length,
      warnings: detailProblems(args.warnings, ({ code, path, expected, found }) => ({ code, path, expected, found })),
    },
  };
}
