/**
 * Presigned HTTPS GET links in notifications: a finished run's report.html, result.h5, metrics.json and
 * manifest.json, a rejected upload's rejection.json. Signed (SigV4, query string) with the credentials of
 * the S3 client that wrote the objects: no new permission beyond its own s3:GetObject.
 *
 * Expiry: PTYXRF_LINK_EXPIRY_SECONDS (1..604800; default 604800 = 7 days, the most SigV4 allows). A URL
 * signed with temporary credentials (a Batch job role, a Lambda role) stops working when they expire,
 * whatever its X-Amz-Expires says: when the credentials carry their expiration (ECS/Batch container
 * credentials do), links are capped at it and the message states the real time; when they are temporary
 * but say nothing (Lambda's environment), the message says the links may stop working sooner.
 */
import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

export const LINK_EXPIRY_ENV = "PTYXRF_LINK_EXPIRY_SECONDS";
/** SigV4 presigned URLs live at most 7 days. */
export const MAX_LINK_EXPIRY_SECONDS = 604_800;
export const DEFAULT_LINK_EXPIRY_SECONDS = MAX_LINK_EXPIRY_SECONDS;

/** A finished run's linked files, by their field in `links`. */
export const RUN_LINK_FILES = { report: "report.html", result: "result.h5", metrics: "metrics.json", manifest: "manifest.json" } as const;

export class LinkExpiryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LinkExpiryError";
  }
}

/** Seconds from a setting (string from the environment or a number); undefined or "": the default. */
export function parseLinkExpiry(value: string | number | undefined, source = LINK_EXPIRY_ENV): number {
  if (value === undefined || value === "") return DEFAULT_LINK_EXPIRY_SECONDS;
  const n = typeof value === "number" ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_LINK_EXPIRY_SECONDS) {
    throw new LinkExpiryError(`${source} must be a whole number of seconds from 1 to ${MAX_LINK_EXPIRY_SECONDS} (7 days, the most a presigned S3 URL allows), got ${JSON.stringify(value)}`);
  }
  return n;
}

export function linkExpiryFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  return parseLinkExpiry(env[LINK_EXPIRY_ENV]);
}

/** Fields every set of links carries (JSON). */
export interface LinkExpiry {
  /** ISO time at which the links stop working (second precision). */
  expiresAt: string;
  /** Present when the signing credentials expire before the configured expiry: the links were capped. */
  limitedBy?: "credentials";
  /** Present when signed with temporary credentials whose expiration is unknown: may stop working sooner. */
  mayExpireEarlier?: true;
}

/** A finished run's links; `report` is null when the run folder has no report.html. */
export interface RunLinks extends LinkExpiry {
  report: string | null;
  result: string;
  metrics: string;
  manifest: string;
}

/** A rejected upload's link to its rejection report. */
export interface RejectionLinks extends LinkExpiry {
  report: string;
}

/** A failed job's link to the error report its worker wrote (null: the worker wrote none). */
export interface FailureLinks extends LinkExpiry {
  error: string | null;
}

/** Links, or why there are none (the notification goes out either way). */
export type LinkOutcome<T> = { links: T } | { error: string };

export interface SignOptions {
  /** Requested lifetime in seconds (validated: 1..604800). */
  expirySeconds: number;
  /** Signing time (ms since the epoch; default now). The expiry counts from it, to the second. */
  now?: number;
}

interface Plan {
  expiresIn: number;
  signingDate: Date;
  expiry: LinkExpiry;
}

/** The lifetime of links signed now: the setting, capped at the signing credentials' own expiration. */
async function plan(client: S3Client, o: SignOptions): Promise<Plan> {
  const requested = parseLinkExpiry(o.expirySeconds, "the link expiry");
  const signingMs = Math.floor((o.now ?? Date.now()) / 1000) * 1000;
  // The same memoised credentials the presigner uses next (the SDK refreshes them ahead of their expiry).
  const creds = await client.config.credentials();
  let expiresIn = requested;
  let limitedBy: LinkExpiry["limitedBy"];
  if (creds.expiration) {
    const left = Math.floor((creds.expiration.getTime() - signingMs) / 1000);
    if (left < requested) {
      expiresIn = Math.max(1, left);
      limitedBy = "credentials";
    }
  }
  const expiry: LinkExpiry = {
    expiresAt: new Date(signingMs + expiresIn * 1000).toISOString().replace(/\.000Z$/, "Z"),
    ...(limitedBy ? { limitedBy } : {}),
    ...(creds.sessionToken && !creds.expiration ? { mayExpireEarlier: true as const } : {}),
  };
  return { expiresIn, signingDate: new Date(signingMs), expiry };
}

function sign(client: S3Client, bucket: string, key: string, p: Plan): Promise<string> {
  return getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: p.expiresIn, signingDate: p.signingDate });
}

/** One presigned GET link (and its expiry). */
export async function presignGet(client: S3Client, bucket: string, key: string, o: SignOptions): Promise<{ url: string } & LinkExpiry> {
  const p = await plan(client, o);
  return { url: await sign(client, bucket, key, p), ...p.expiry };
}

async function exists(client: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: AbortSignal.timeout(10_000) });
    return true;
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === "NotFound" || e.name === "NoSuchKey" || e.$metadata?.httpStatusCode === 404) return false;
    throw err;
  }
}

/**
 * Links to a run folder's files (`prefix` ends in "/"). `names`: the files known to be there (the upload
 * list or the manifest); report.html, when not among them, is looked up with a HEAD request.
 */
export async function runLinks(client: S3Client, bucket: string, prefix: string, names: readonly string[], o: SignOptions): Promise<RunLinks> {
  const p = await plan(client, o);
  const at = (name: string) => sign(client, bucket, `${prefix}${name}`, p);
  const hasReport = names.includes(RUN_LINK_FILES.report) || (await exists(client, bucket, `${prefix}${RUN_LINK_FILES.report}`));
  const [report, result, metrics, manifest] = await Promise.all([
    hasReport ? at(RUN_LINK_FILES.report) : Promise.resolve(null),
    at(RUN_LINK_FILES.result), at(RUN_LINK_FILES.metrics), at(RUN_LINK_FILES.manifest),
  ]);
  return { report, result, metrics, manifest, ...p.expiry };
}

/** The link to a failed run's error report `prefix` + `name`, when the worker got to write one. */
export async function failureLinks(client: S3Client, bucket: string, prefix: string, name: string, o: SignOptions): Promise<FailureLinks> {
  const p = await plan(client, o);
  const error = (await exists(client, bucket, `${prefix}${name}`)) ? await sign(client, bucket, `${prefix}${name}`, p) : null;
  return { error, ...p.expiry };
}

/** `make()`, or its failure as a reason: a notification never fails for want of links. */
export async function linkOutcome<T>(make: () => Promise<T>): Promise<LinkOutcome<T>> {
  try {
    return { links: await make() };
  } catch (err) {
    return { error: (err as Error)?.message ?? String(err) };
  }
}

function duration(seconds: number): string {
  const one = (x: number) => String(Number(x.toFixed(1)));
  if (seconds >= 2 * 86_400) return `${one(seconds / 86_400)} days`;
  if (seconds >= 2 * 3600) return `${one(seconds / 3600)} hours`;
  if (seconds >= 120) return `${Math.round(seconds / 60)} minutes`;
  return `${seconds} s`;
}

/** "2026-11-27 14:03:05 UTC (in 7 days)", with any caveat in the brackets, for people. */
export function expiryText(e: LinkExpiry, now = Date.now()): string {
  const at = e.expiresAt.replace("T", " ").replace(/Z$/, " UTC");
  const left = Math.max(0, Math.floor((Date.parse(e.expiresAt) - now) / 1000));
  const caveat = e.limitedBy === "credentials"
    ? "; capped at the expiry of the credentials that signed them"
    : e.mayExpireEarlier ? "; signed with temporary credentials, they may stop working sooner" : "";
  return `${at} (in ${duration(left)}${caveat})`;
}

/**
 * Text lines listing links (label, URL on the same line: email clients make each URL clickable), or
 * saying why there are none. `rows`: [label, url or null, what to say when null].
 */
export function linkLines<T extends LinkExpiry>(outcome: LinkOutcome<T> | undefined, rows: (links: T) => [string, string | null, string][], now = Date.now()): string[] {
  if (!outcome) return [];
  if ("error" in outcome) return ["", `Download links: none (${outcome.error}).`];
  const lines = ["", `Download links, valid until ${expiryText(outcome.links, now)}:`];
  for (const [label, url, missing] of rows(outcome.links)) lines.push(`  ${label.padEnd(14)} ${url ?? missing}`);
  return lines;
}

/** The lines of a finished run's links. */
export function runLinkLines(outcome: LinkOutcome<RunLinks> | undefined, now = Date.now()): string[] {
  return linkLines(outcome, (l) => [
    [RUN_LINK_FILES.report, l.report, "(none: this run folder has no report.html)"],
    [RUN_LINK_FILES.result, l.result, ""],
    [RUN_LINK_FILES.metrics, l.metrics, ""],
    [RUN_LINK_FILES.manifest, l.manifest, ""],
  ], now);
}

/** The JSON fields of a link outcome: `links`, or `linksError`. */
export function linkFields<T>(outcome: LinkOutcome<T> | undefined): { links?: T; linksError?: string } {
  if (!outcome) return {};
  return "error" in outcome ? { linksError: outcome.error } : { links: outcome.links };
}
