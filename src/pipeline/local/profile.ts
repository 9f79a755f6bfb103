/**
 * Profiles: where the command line (submit, status, fetch) and `local up` find the service.
 *
 *   local       the embedded stack of this machine (s3rver on 127.0.0.1; stack.json in the data directory)
 *   localstack  LocalStack (localstack/compose.yaml): every client's endpoint is AWS_ENDPOINT_URL (default
 *               http://localhost:4566; per service AWS_ENDPOINT_URL_<SERVICE> wins), test credentials unless
 *               set; S3, SQS, SNS and DynamoDB go to LocalStack; Batch goes to LocalStack when it offers
 *               Batch (and PTYXRF_BATCH is not "local"), otherwise to the local job runner
 *   aws         the deployed stack: the default credential chain and region; the buckets from
 *               PTYXRF_SCANS_BUCKET / PTYXRF_RESULTS_BUCKET (the stack's ScansBucket / ResultsBucket outputs)
 */
import path from "node:path";
import type { S3ClientSettings } from "../../scan/s3Source.js";
import { DEFAULT_DATA_DIR, LOCALSTACK_DATA_DIR, LOCAL_RESULTS_BUCKET, LOCAL_SCANS_BUCKET, runningStack, type StackInfo } from "./layout.js";
import { s3SettingsFor } from "./s3server.js";

export const PROFILES = ["local", "localstack", "aws"] as const;
export type ProfileName = (typeof PROFILES)[number];

export { DEFAULT_DATA_DIR, LOCALSTACK_DATA_DIR };
export const LOCALSTACK_DEFAULT_ENDPOINT = "http://localhost:4566";

export interface Profile {
  name: ProfileName;
  s3: S3ClientSettings;
  scansBucket: string;
  resultsBucket: string;
  /** Where local records live (uploads, jobs, notifications): local and localstack; null for aws. */
  dataDir: string | null;
  /** The local stack (local profile). */
  stack?: StackInfo;
  /** One line for people. */
  description: string;
}

export class ProfileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProfileError";
  }
}

/** The local stack is not running (the CLI can start one in-process for `submit --wait`). */
export class NoLocalStackError extends ProfileError {
  constructor(readonly dataDir: string) {
    super(`no local stack is running on ${dataDir}: start one with \`npx ptyxrf local up\` (in another terminal)`);
    this.name = "NoLocalStackError";
  }
}

export interface LocalStackConfig {
  endpoint: string;
  /** Per-service endpoints (AWS_ENDPOINT_URL_<SERVICE> or the shared one). */
  endpoints: { s3: string; sqs: string; sns: string; dynamodb: string; batch: string };
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  scansBucket: string;
  resultsBucket: string;
  ingestQueue: string;
  notificationsQueue: string;
  uploadsTable: string;
  topic: string;
  /** PTYXRF_BATCH: "auto" (LocalStack's Batch when its health lists it), "localstack" or "local". */
  batch: "auto" | "localstack" | "local";
  /** Job queue and definition on LocalStack (only with its Batch). */
  jobQueue: string;
  jobDefinition: string;
  authTokenSet: boolean;
  dataDir: string;
  problems: string[];
}

/** The LocalStack profile's settings from the environment; invalid values are listed in `problems`. */
export function resolveLocalStackConfig(env: NodeJS.ProcessEnv = process.env, dataDir = LOCALSTACK_DATA_DIR): LocalStackConfig {
  const problems: string[] = [];
  const shared = env.AWS_ENDPOINT_URL || LOCALSTACK_DEFAULT_ENDPOINT;
  if (!/^https?:\/\/[^/]+/.test(shared)) problems.push(`AWS_ENDPOINT_URL must be an http(s) URL, got "${shared}"`);
  const service = (name: string) => env[`AWS_ENDPOINT_URL_${name}`] || shared;
  const batch = (env.PTYXRF_BATCH ?? "auto") as LocalStackConfig["batch"];
  if (!["auto", "localstack", "local"].includes(batch)) problems.push(`PTYXRF_BATCH must be auto, localstack or local, got "${batch}"`);
  const haveCreds = Boolean(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY);
  return {
    endpoint: shared,
    endpoints: { s3: service("S3"), sqs: service("SQS"), sns: service("SNS"), dynamodb: service("DYNAMODB"), batch: service("BATCH") },
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1",
    credentials: haveCreds
      ? { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY!, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) }
      : { accessKeyId: "test", secretAccessKey: "test" },
    scansBucket: env.PTYXRF_SCANS_BUCKET || LOCAL_SCANS_BUCKET,
    resultsBucket: env.PTYXRF_RESULTS_BUCKET || LOCAL_RESULTS_BUCKET,
    ingestQueue: env.PTYXRF_INGEST_QUEUE || "ptyxrf-ingest",
    notificationsQueue: env.PTYXRF_NOTIFICATIONS_QUEUE || "ptyxrf-notifications",
    uploadsTable: env.PTYXRF_UPLOADS_TABLE || "ptyxrf-uploads",
    topic: env.PTYXRF_TOPIC_NAME || "ptyxrf-notifications",
    batch,
    jobQueue: env.PTYXRF_JOB_QUEUE || "ptyxrf-jobs",
    jobDefinition: env.PTYXRF_JOB_DEFINITION || "ptyxrf-worker",
    authTokenSet: Boolean(env.LOCALSTACK_AUTH_TOKEN),
    dataDir,
    problems,
  };
}

/**
 * Where Batch jobs go under the LocalStack profile, from the setting and LocalStack's health document
 * (GET <endpoint>/_localstack/health: {"services": {"batch": "available" | "running" | "disabled", ...}}).
 */
export function chooseBatchBackend(setting: LocalStackConfig["batch"], health: { services?: Record<string, string> } | null): { backend: "localstack" | "local"; reason: string } {
  const state = health?.services?.batch;
  const offered = state === "available" || state === "running";
  if (setting === "local") return { backend: "local", reason: "PTYXRF_BATCH=local" };
  if (setting === "localstack") {
    return offered ? { backend: "localstack", reason: "PTYXRF_BATCH=localstack" } : { backend: "local", reason: `PTYXRF_BATCH=localstack, but LocalStack's batch service is ${state ?? "absent"}: the local job runner runs the jobs` };
  }
  return offered
    ? { backend: "localstack", reason: `LocalStack offers batch (${state})` }
    : { backend: "local", reason: `LocalStack's batch service is ${state ?? "absent"} (it needs a Pro image): the local job runner runs the jobs` };
}

/** Fetches LocalStack's health document (null when unreachable). */
export async function localStackHealth(endpoint: string, timeoutMs = 3000): Promise<{ services?: Record<string, string>; edition?: string; version?: string } | null> {
  try {
    const r = await fetch(new URL("/_localstack/health", endpoint), { signal: AbortSignal.timeout(timeoutMs) });
    return r.ok ? ((await r.json()) as { services?: Record<string, string> }) : null;
  } catch {
    return null;
  }
}

export interface ProfileOptions {
  dataDir?: string;
  scansBucket?: string;
  resultsBucket?: string;
}

export function resolveProfile(name: ProfileName, env: NodeJS.ProcessEnv = process.env, o: ProfileOptions = {}): Profile {
  if (name === "local") {
    const dataDir = path.resolve(o.dataDir ?? env.PTYXRF_LOCAL_DIR ?? DEFAULT_DATA_DIR);
    const stack = runningStack(dataDir);
    if (!stack) throw new NoLocalStackError(dataDir);
    return {
      name, s3: s3SettingsFor(stack.endpoint), scansBucket: stack.scansBucket, resultsBucket: stack.resultsBucket, dataDir, stack,
      description: `local stack at ${stack.endpoint} (data in ${dataDir}, pid ${stack.pid})`,
    };
  }
  if (name === "localstack") {
    const c = resolveLocalStackConfig(env, path.resolve(o.dataDir ?? LOCALSTACK_DATA_DIR));
    if (c.problems.length) throw new ProfileError(c.problems.join("; "));
    return {
      name,
      s3: { region: c.region, endpoint: c.endpoints.s3, forcePathStyle: true, credentials: c.credentials, checksums: "WHEN_REQUIRED", maxAttempts: 3 },
      scansBucket: o.scansBucket ?? c.scansBucket, resultsBucket: o.resultsBucket ?? c.resultsBucket, dataDir: c.dataDir,
      description: `LocalStack at ${c.endpoints.s3} (region ${c.region})`,
    };
  }
  const scansBucket = o.scansBucket ?? env.PTYXRF_SCANS_BUCKET;
  const resultsBucket = o.resultsBucket ?? env.PTYXRF_RESULTS_BUCKET;
  if (!scansBucket || !resultsBucket) {
    throw new ProfileError("the aws profile needs the buckets: set PTYXRF_SCANS_BUCKET and PTYXRF_RESULTS_BUCKET (the stack's ScansBucket and ResultsBucket outputs) or pass --scans-bucket / --results-bucket");
  }
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  return {
    name, s3: { ...(region ? { region } : {}), maxAttempts: 4 }, scansBucket, resultsBucket, dataDir: null,
    description: `AWS (${region ?? "default region"}), s3://${scansBucket} -> s3://${resultsBucket}`,
  };
}
