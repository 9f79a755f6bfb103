/**
 * The local stack's data directory and registration (no heavy imports: the CLI reads these at start-up).
 *
 *   <dataDir>/stack.json            the running stack: endpoint, pid (removed when it stops; marked
 *                                   stale while it shuts down after its S3 server died)
 *   <dataDir>/s3/                   s3rver's storage: the buckets ptyxrf-scans and ptyxrf-results
 *   <dataDir>/uploads/              idempotency records of uploads (one JSON file each)
 *   <dataDir>/jobs/                 job records (<job id>.json) and worker output (<job id>.log)
 *   <dataDir>/scratch/              the workers' scratch space (removed after each job)
 *   <dataDir>/notifications.jsonl   every notification, one JSON object per line
 *   <dataDir>/dead-letter.jsonl     upload events that failed 5 times
 *   <dataDir>/stack.log             the stack's structured log
 */
import fs from "node:fs";
import path from "node:path";

export const LOCAL_SCANS_BUCKET = "ptyxrf-scans";
export const LOCAL_RESULTS_BUCKET = "ptyxrf-results";
/** `ptyxrf local up`'s port (s3rver's usual one); tests and the demo use an ephemeral port. */
export const LOCAL_DEFAULT_PORT = 4568;
export const DEFAULT_DATA_DIR = path.join("runs", "local");
export const LOCALSTACK_DATA_DIR = path.join("runs", "localstack");

export interface StackInfo {
  pid: number;
  /** The local S3 server's process (a child of `pid`). */
  s3Pid?: number;
  endpoint: string;
  port: number;
  dataDir: string;
  scansBucket: string;
  resultsBucket: string;
  startedAt: string;
  ptyxrf: string;
  /** Set when the stack can no longer serve (its S3 server died) while it shuts down: clients ignore it. */
  stale?: string;
}

export function stackFile(dataDir: string): string {
  return path.join(dataDir, "stack.json");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The stack running on this data directory, or null: a stale stack.json (its process is gone, or it is
 * shutting down after its S3 server died) is ignored.
 */
export function runningStack(dataDir: string): StackInfo | null {
  const info = stackProcess(dataDir);
  return info && !info.stale ? info : null;
}

/** The process registered on this data directory while it lives, serving or shutting down (stale). */
export function stackProcess(dataDir: string): StackInfo | null {
  try {
    const info = JSON.parse(fs.readFileSync(stackFile(dataDir), "utf8")) as StackInfo;
    return alive(info.pid) ? info : null;
  } catch {
    return null;
  }
}

export function localPaths(dataDir: string) {
  return {
    s3: path.join(dataDir, "s3"),
    uploads: path.join(dataDir, "uploads"),
    jobs: path.join(dataDir, "jobs"),
    scratch: path.join(dataDir, "scratch"),
    notifications: path.join(dataDir, "notifications.jsonl"),
    deadLetter: path.join(dataDir, "dead-letter.jsonl"),
    log: path.join(dataDir, "stack.log"),
  };
}
