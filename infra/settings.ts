/**
 * Deployment settings from CDK context (`npx cdk deploy -c name=value ...`), each with a default, checked
 * before anything is built. docs/cloud.md lists them.
 */
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Node } from "constructs";

export interface Settings {
  /** Email subscribed to every notification (the operator: rejections, job results, DLQ alarms). */
  notifyEmail: string | null;
  /** Per-user email subscriptions filtered on the `user` attribute: "alice=alice@lab.org,bob=bob@uni.edu". */
  userEmails: Record<string, string>;
  /**
   * The worker image, pinned (one of the two is required, docs/cloud.md): a full URI in any registry Batch can
   * pull from, by digest (`<registry>/<repository>@sha256:<64 hex>`); or null and `workerImageTag`, a tag
   * other than `latest` or a digest `sha256:<64 hex>` in the stack's ECR repository, whose tags are immutable.
   */
  workerImage: string | null;
  workerImageTag: string | null;
  /** GPU instance types of the compute environments. */
  instanceTypes: string[];
  /** Spot compute environment; false: on-demand only. */
  spot: boolean;
  /** Max vCPUs of the Spot environment (or of the only, on-demand one when spot is false). */
  maxVcpus: number;
  /** Max vCPUs of the on-demand fallback environment (0: none). */
  onDemandMaxVcpus: number;
  workerVcpus: number;
  workerMemoryMiB: number;
  workerGpus: number;
  workerDiskGiB: number;
  jobTimeoutHours: number;
  /** Attempts per job (1 + retries on Spot reclaim / host failure). */
  jobAttempts: number;
  /** Cancel a job that cannot get capacity for this long (hours). */
  runnableTimeoutHours: number;
  /** Days after which raw scans move to Standard-IA, Glacier Instant Retrieval, Deep Archive (0: never). */
  scanIaDays: number;
  scanGlacierIrDays: number;
  scanDeepArchiveDays: number;
  /** Days after which a replaced or deleted scan version is removed (0: never). */
  noncurrentScanDays: number;
  resultsIaDays: number;
  /** Days after which a replaced or deleted result version is removed (0: never); the results bucket is versioned. */
  noncurrentResultsDays: number;
  /**
   * Days after its last save at which a checkpoint left behind (a failed or abandoned run) is deleted; a
   * successful run deletes its own. Longer than a live job can go without saving one (settings check).
   */
  checkpointExpiryDays: number;
  logRetentionDays: RetentionDays;
  /** Availability zones of the VPC (more zones: more Spot capacity pools). */
  maxAzs: number;
  /** Most ingest Lambdas running at once (SQS event source maxConcurrency, >= 2). */
  ingestConcurrency: number;
}

export const DEFAULTS: Settings = {
  notifyEmail: null,
  userEmails: {},
  workerImage: null,
  workerImageTag: null,
  // NVIDIA L4 (g6) first, A10G (g5) as more Spot pools; 4-16 vCPUs, 16-64 GiB, one GPU.
  instanceTypes: ["g6.xlarge", "g6.2xlarge", "g6.4xlarge", "g5.xlarge", "g5.2xlarge"],
  spot: true,
  maxVcpus: 64,
  onDemandMaxVcpus: 16,
  workerVcpus: 4,
  workerMemoryMiB: 14_336,
  workerGpus: 1,
  workerDiskGiB: 100,
  jobTimeoutHours: 12,
  jobAttempts: 3,
  runnableTimeoutHours: 6,
  scanIaDays: 30,
  scanGlacierIrDays: 90,
  scanDeepArchiveDays: 365,
  noncurrentScanDays: 30,
  resultsIaDays: 90,
  noncurrentResultsDays: 30,
  checkpointExpiryDays: 14,
  logRetentionDays: RetentionDays.THREE_MONTHS,
  maxAzs: 3,
  ingestConcurrency: 5,
};

/** An image digest: the only reference a registry cannot move to other content. */
export const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
/** A full image URI pinned by digest (an optional tag before it is informational). */
const PINNED_URI_RE = /^[A-Za-z0-9][A-Za-z0-9._/:-]*@sha256:[0-9a-f]{64}$/;
const DIGEST_HINT = "docker inspect --format '{{index .RepoDigests 0}}' IMAGE prints it after a push";

/** Finite retentions only: no log group in this stack keeps logs forever. */
const RETENTIONS = Object.values(RetentionDays).filter((v): v is RetentionDays => typeof v === "number" && v > 0 && v !== RetentionDays.INFINITE);

export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid context: ${problems.join("; ")}`);
    this.name = "SettingsError";
  }
}

/** Reads the settings from `node`'s context; every invalid value is reported at once. */
export function readSettings(node: Node): Settings {
  const problems: string[] = [];
  const raw = (name: keyof Settings): unknown => node.tryGetContext(name);
  const str = (name: keyof Settings, def: string | null): string | null => {
    const v = raw(name);
    if (v === undefined || v === null || v === "") return def;
    return String(v);
  };
  const int = (name: keyof Settings, def: number, lo: number, hi: number): number => {
    const v = raw(name);
    if (v === undefined || v === null || v === "") return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < lo || n > hi) {
      problems.push(`${name} must be an integer in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
      return def;
    }
    return n;
  };
  const bool = (name: keyof Settings, def: boolean): boolean => {
    const v = raw(name);
    if (v === undefined || v === null || v === "") return def;
    if (v === true || v === "true") return true;
    if (v === false || v === "false") return false;
    problems.push(`${name} must be true or false, got ${JSON.stringify(v)}`);
    return def;
  };
  const email = /^[^@\s,=]+@[^@\s,=]+\.[^@\s,=]+$/;

  const notifyEmail = str("notifyEmail", null);
  if (notifyEmail && !email.test(notifyEmail)) problems.push(`notifyEmail is not an email address: ${notifyEmail}`);
  const userEmails: Record<string, string> = {};
  const ue = raw("userEmails");
  const pairs: [string, unknown][] = typeof ue === "string"
    ? ue.split(",").map((s) => s.trim()).filter(Boolean).map((s) => {
        const cut = s.indexOf("=");
        return [s.slice(0, cut < 0 ? s.length : cut), cut < 0 ? "" : s.slice(cut + 1)];
      })
    : ue && typeof ue === "object" ? Object.entries(ue) : [];
  for (const [user, addr] of pairs) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(user) || typeof addr !== "string" || !email.test(addr)) {
      problems.push(`userEmails entries must be user=email (user: letters, digits, . _ -), got ${JSON.stringify(`${user}=${addr}`)}`);
    } else userEmails[user] = addr;
  }
  const instanceTypesRaw = str("instanceTypes", null);
  const instanceTypes = instanceTypesRaw ? instanceTypesRaw.split(",").map((s) => s.trim()).filter(Boolean) : DEFAULTS.instanceTypes;
  for (const t of instanceTypes) if (!/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(t)) problems.push(`instanceTypes: "${t}" is not an instance type (e.g. g6.xlarge)`);
  // The job definition names the image the worker runs: a moving reference (`:latest`, or any tag in a
  // registry whose tags can be pushed over) would run whatever was pushed last, on jobs already queued and
  // on retries of running ones, with nothing in the template saying which code made a result.
  const workerImage = str("workerImage", null);
  const workerImageTag = str("workerImageTag", null);
  if (workerImage && workerImageTag) {
    problems.push("give workerImage (a full URI by digest) or workerImageTag (the stack's ECR repository), not both");
  } else if (workerImage) {
    if (!PINNED_URI_RE.test(workerImage)) {
      problems.push(`workerImage must be pinned by digest, <registry>/<repository>@sha256:<64 hex digits> (${DIGEST_HINT}); got ${JSON.stringify(workerImage)}: a tag in a registry this stack does not control can be moved to another image`);
    }
  } else if (workerImageTag) {
    if (/^latest$/i.test(workerImageTag)) {
      problems.push(`workerImageTag "${workerImageTag}" names no fixed image: push the worker under a version or commit tag (e.g. -c workerImageTag=v0.1.0) or give its digest (-c workerImageTag=sha256:<64 hex digits>)`);
    } else if (!DIGEST_RE.test(workerImageTag) && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(workerImageTag)) {
      problems.push(`workerImageTag is neither an image tag nor a digest sha256:<64 hex digits>: ${JSON.stringify(workerImageTag)}`);
    }
  } else {
    problems.push("the worker image must be pinned: -c workerImageTag=<tag or sha256:digest> (an immutable tag or a digest in the stack's ECR repository) or -c workerImage=<registry>/<repository>@sha256:<64 hex digits>; the job definition never runs a moving tag such as :latest");
  }
  const logDays = int("logRetentionDays", DEFAULTS.logRetentionDays, 1, 3653);
  if (!RETENTIONS.includes(logDays)) problems.push(`logRetentionDays must be one of ${RETENTIONS.join(", ")}, got ${logDays}`);

  const s: Settings = {
    notifyEmail,
    userEmails,
    workerImage,
    workerImageTag,
    instanceTypes,
    spot: bool("spot", DEFAULTS.spot),
    maxVcpus: int("maxVcpus", DEFAULTS.maxVcpus, 1, 10_000),
    onDemandMaxVcpus: int("onDemandMaxVcpus", DEFAULTS.onDemandMaxVcpus, 0, 10_000),
    workerVcpus: int("workerVcpus", DEFAULTS.workerVcpus, 1, 192),
    workerMemoryMiB: int("workerMemoryMiB", DEFAULTS.workerMemoryMiB, 1024, 2_000_000),
    workerGpus: int("workerGpus", DEFAULTS.workerGpus, 1, 16),
    workerDiskGiB: int("workerDiskGiB", DEFAULTS.workerDiskGiB, 30, 16_384),
    jobTimeoutHours: int("jobTimeoutHours", DEFAULTS.jobTimeoutHours, 1, 336),
    jobAttempts: int("jobAttempts", DEFAULTS.jobAttempts, 1, 10),
    runnableTimeoutHours: int("runnableTimeoutHours", DEFAULTS.runnableTimeoutHours, 1, 336),
    scanIaDays: int("scanIaDays", DEFAULTS.scanIaDays, 0, 36_500),
    scanGlacierIrDays: int("scanGlacierIrDays", DEFAULTS.scanGlacierIrDays, 0, 36_500),
    scanDeepArchiveDays: int("scanDeepArchiveDays", DEFAULTS.scanDeepArchiveDays, 0, 36_500),
    noncurrentScanDays: int("noncurrentScanDays", DEFAULTS.noncurrentScanDays, 0, 36_500),
    resultsIaDays: int("resultsIaDays", DEFAULTS.resultsIaDays, 0, 36_500),
    noncurrentResultsDays: int("noncurrentResultsDays", DEFAULTS.noncurrentResultsDays, 0, 36_500),
    checkpointExpiryDays: int("checkpointExpiryDays", DEFAULTS.checkpointExpiryDays, 1, 3_650),
    logRetentionDays: logDays as RetentionDays,
    maxAzs: int("maxAzs", DEFAULTS.maxAzs, 1, 6),
    ingestConcurrency: int("ingestConcurrency", DEFAULTS.ingestConcurrency, 2, 1000),
  };
  if (s.spot === false && s.onDemandMaxVcpus > 0 && raw("onDemandMaxVcpus") !== undefined) {
    problems.push("onDemandMaxVcpus is the fallback of the Spot environment: with spot=false set maxVcpus instead");
  }
  if (s.maxVcpus < s.workerVcpus) problems.push(`maxVcpus (${s.maxVcpus}) is below workerVcpus (${s.workerVcpus}): no job could ever run`);
  if (s.onDemandMaxVcpus > 0 && s.onDemandMaxVcpus < s.workerVcpus) problems.push(`onDemandMaxVcpus (${s.onDemandMaxVcpus}) is below workerVcpus (${s.workerVcpus})`);
  // S3 lifecycle: Standard-IA at >= 30 days; each later class later than the one before.
  if (s.scanIaDays > 0 && s.scanIaDays < 30) problems.push(`scanIaDays must be 0 or >= 30 (S3 minimum for Standard-IA), got ${s.scanIaDays}`);
  if (s.resultsIaDays > 0 && s.resultsIaDays < 30) problems.push(`resultsIaDays must be 0 or >= 30, got ${s.resultsIaDays}`);
  const order = [s.scanIaDays, s.scanGlacierIrDays, s.scanDeepArchiveDays].filter((d) => d > 0);
  if (order.some((d, i) => i > 0 && d <= order[i - 1])) problems.push("scanIaDays < scanGlacierIrDays < scanDeepArchiveDays must increase (0 skips a class)");
  // S3 keeps an object 30 days in Standard-IA before a further transition.
  const next = [s.scanGlacierIrDays, s.scanDeepArchiveDays].find((d) => d > 0);
  if (s.scanIaDays > 0 && next !== undefined && next - s.scanIaDays < 30) {
    problems.push("the transition after Standard-IA must come at least 30 days after scanIaDays (an S3 lifecycle rule)");
  }
  // A live job's checkpoint must never expire: between two saves lie at most a wait for capacity before a
  // retried attempt (runnableTimeoutHours) and one attempt (jobTimeoutHours; it saves every few minutes).
  const liveHours = s.runnableTimeoutHours + s.jobTimeoutHours;
  if (s.checkpointExpiryDays * 24 <= liveHours) {
    problems.push(`checkpointExpiryDays (${s.checkpointExpiryDays}) must exceed runnableTimeoutHours + jobTimeoutHours (${liveHours} h): a running job's checkpoint would expire`);
  }
  if (problems.length) throw new SettingsError(problems);
  return s;
}
