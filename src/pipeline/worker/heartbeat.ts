/**
 * The worker's heartbeat in progress.json, and how readers (ptyxrf status, submit --wait, the demo) tell a
 * live run from one whose worker is gone: a killed worker (SIGKILL, a lost host, OOM) writes nothing more,
 * so its progress.json would say "running" forever. The worker rewrites progress.json at least every
 * `heartbeatSeconds` while it lives (PTYXRF_HEARTBEAT_SECONDS, default 30; the local stack 5), stamping
 * `heartbeat`; a reader calls the run stale when the last heartbeat is older than the timeout:
 * PTYXRF_HEARTBEAT_TIMEOUT_SECONDS where the reader runs, else the larger of 60 s and 4 heartbeats (a long
 * iteration or a slow PUT delays a heartbeat, and the reader's clock may differ from the worker's a little).
 * docs/cloud.md, "Progress and heartbeats".
 */
export const HEARTBEAT_ENV = "PTYXRF_HEARTBEAT_SECONDS";
export const HEARTBEAT_TIMEOUT_ENV = "PTYXRF_HEARTBEAT_TIMEOUT_SECONDS";
export const DEFAULT_HEARTBEAT_SECONDS = 30;
const MIN_TIMEOUT_SECONDS = 60;

/** What a reader needs of progress.json (older workers wrote no heartbeat: `updated` stands in). */
export interface HeartbeatFields {
  state: string;
  updated: string;
  heartbeat?: string;
  heartbeatSeconds?: number;
}

/** States in which a worker is expected to be alive and writing (the others end an attempt). */
const LIVE_STATES = new Set(["starting", "running", "uploading", "complete"]);

function positive(text: string | undefined): number | null {
  if (text === undefined || text.trim() === "") return null;
  const v = Number(text);
  return Number.isFinite(v) && v > 0 ? v : null;
}

/** The worker's heartbeat interval from its environment (null: invalid). */
export function heartbeatSecondsFrom(env: NodeJS.ProcessEnv): number | null {
  if (env[HEARTBEAT_ENV] === undefined) return DEFAULT_HEARTBEAT_SECONDS;
  return positive(env[HEARTBEAT_ENV]);
}

/** After how many seconds without a heartbeat a run is stale. */
export function heartbeatTimeoutSeconds(p: Pick<HeartbeatFields, "heartbeatSeconds">, env: NodeJS.ProcessEnv = process.env): number {
  return positive(env[HEARTBEAT_TIMEOUT_ENV]) ?? Math.max(MIN_TIMEOUT_SECONDS, 4 * (p.heartbeatSeconds ?? DEFAULT_HEARTBEAT_SECONDS));
}

export interface Staleness {
  /** Seconds since the last heartbeat. */
  ageSeconds: number;
  timeoutSeconds: number;
}

/** Null while the worker is alive, or its state ended the attempt; else how long it has been silent. */
export function staleness(p: HeartbeatFields, now: number = Date.now(), env: NodeJS.ProcessEnv = process.env): Staleness | null {
  if (!LIVE_STATES.has(p.state)) return null;
  const last = Date.parse(p.heartbeat ?? p.updated);
  if (!Number.isFinite(last)) return null;
  const ageSeconds = Math.max(0, (now - last) / 1000);
  const timeoutSeconds = heartbeatTimeoutSeconds(p, env);
  return ageSeconds > timeoutSeconds ? { ageSeconds, timeoutSeconds } : null;
}

/** "stale (no heartbeat for 95 s)". */
export function staleText(s: Staleness): string {
  return `stale (no heartbeat for ${Math.round(s.ageSeconds)} s)`;
}
