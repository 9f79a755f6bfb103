/**
 * The local stand-in for AWS Batch: a JobSubmitter (what the upload handler submits to) that runs each job's
 * worker as a child process, `node dist/container/worker.js` with the job definition's command
 * (WORKER_COMMAND, `Ref::` parameters substituted) and Batch's environment contract (AWS_BATCH_JOB_ID,
 * AWS_BATCH_JOB_ATTEMPT, the S3 endpoint and credentials in the environment), at most `concurrency` at a time.
 *
 * The job definition's retry strategy, applied to each attempt's end (exitCodes.ts retryDecision):
 * exit 0 SUCCEEDED; exit 75 or killed by a signal: another attempt, up to `attempts`; anything else FAILED.
 *
 * Array jobs (sweeps) as Batch runs them: a parent record and children `<parent id>:<index>`, each child with
 * AWS_BATCH_JOB_ARRAY_INDEX, queued like any job (so `concurrency` bounds a sweep's parallelism); the parent
 * SUCCEEDED when every child did, else FAILED. A job with `dependsOn` waits PENDING until its dependencies
 * end, and FAILS when one of them failed (Batch's rule). A job's `command` replaces the job definition's
 * (containerOverrides.command). Every worker also gets PTYXRF_JOB_ATTEMPTS (the attempts a job has).
 *
 * Job records are JSON files (`<dir>/<job id>.json`), each attempt's output goes to `<dir>/<job id>.log`.
 * Jobs still queued or running when the runner stops (their workers checkpoint on SIGTERM) are picked up
 * again by `resumePending()` the next time the stack starts, and resume from their checkpoints.
 */
import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { WORKER_COMMAND, type JobParameters, type JobSpec } from "../submit/jobSpec.js";
import type { JobSubmitter, SubmittedJob } from "../submit/submitter.js";
import { JOB_ATTEMPTS_ENV, retryDecision } from "../worker/exitCodes.js";
import { packageRoot } from "../../version.js";

export type JobStatus = "PENDING" | "RUNNABLE" | "RUNNING" | "SUCCEEDED" | "FAILED";

export interface JobAttempt {
  attempt: number;
  startedAt: number;
  stoppedAt?: number;
  pid?: number;
  exitCode?: number | null;
  signal?: string | null;
  /** The stack was stopping: the attempt does not count against the job's attempts. */
  stoppedByRunner?: boolean;
}

export interface LocalJobRecord {
  jobId: string;
  jobName: string;
  jobQueue: "local";
  parameters: JobParameters;
  status: JobStatus;
  statusReason?: string;
  createdAt: number;
  startedAt?: number;
  stoppedAt?: number;
  attempts: JobAttempt[];
  log: string;
  /** The command instead of the job definition's (`Ref::` substituted from `parameters`). */
  command?: string[];
  /** An array job's parent: its size (the parent itself runs nothing). */
  arrayProperties?: { size: number };
  /** An array job's child: its index and its parent. */
  arrayIndex?: number;
  parentId?: string;
  /** Jobs this one waits for. */
  dependsOn?: string[];
}

export interface RunnerOptions {
  /** Where job records and logs live. */
  dir: string;
  /** Jobs running at once (default 1). */
  concurrency?: number;
  /** Attempts per job (the job definition's retryAttempts; default 3). */
  attempts?: number;
  /** Environment of every worker (endpoint, credentials, notifier, scratch...); Batch's variables are added. */
  env: Record<string, string>;
  /** The worker script (default: dist/container/worker.js under the package root). */
  cwd?: string;
  /** Delay before a retry (default 500 ms). */
  retryDelayMs?: number;
  /** Told about every status change. */
  onStatus?: (record: LocalJobRecord) => void;
  /** Each line a worker writes (stdout and stderr), for following it live. */
  onOutput?: (jobId: string, line: string) => void;
}

/** The worker's argv from the job definition's command (or an override), `Ref::name` replaced by the job's parameters. */
export function workerArgv(parameters: JobParameters, command: readonly string[] = WORKER_COMMAND): string[] {
  return command.map((a) => (a.startsWith("Ref::") ? parameters[a.slice(5)] ?? "" : a));
}

/** The id of an array job's child, as Batch names it. */
export function childJobId(parentId: string, index: number): string {
  return `${parentId}:${index}`;
}

const TERMINAL: ReadonlySet<JobStatus> = new Set(["SUCCEEDED", "FAILED"]);

/** The parent's environment without anything that could point a local worker at a real account. */
export function cleanEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (k.startsWith("AWS_") || k.startsWith("PTYXRF_") || k === "NODE_OPTIONS" || k.startsWith("VITEST") || k === "NODE_V8_COVERAGE") continue;
    out[k] = v;
  }
  return out;
}

export class LocalJobRunner implements JobSubmitter {
  readonly concurrency: number;
  readonly attempts: number;
  private readonly queue: string[] = [];
  private readonly running = new Map<string, ChildProcess>();
  private readonly waiters = new Set<() => void>();
  private stopping = false;
  private readonly cwd: string;

  constructor(readonly options: RunnerOptions) {
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.attempts = Math.max(1, options.attempts ?? 3);
    this.cwd = options.cwd ?? packageRoot();
    fs.mkdirSync(options.dir, { recursive: true });
  }

  private file(jobId: string): string {
    return path.join(this.options.dir, `${jobId}.json`);
  }

  get(jobId: string): LocalJobRecord | null {
    try {
      return JSON.parse(fs.readFileSync(this.file(jobId), "utf8")) as LocalJobRecord;
    } catch {
      return null;
    }
  }

  list(): LocalJobRecord[] {
    return listJobs(this.options.dir);
  }

  private save(r: LocalJobRecord): void {
    const tmp = `${this.file(r.jobId)}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(r, null, 2));
    fs.renameSync(tmp, this.file(r.jobId));
    this.options.onStatus?.(r);
  }

  async findJob(jobName: string): Promise<SubmittedJob | null> {
    const hit = this.list().find((j) => j.jobName === jobName);
    return hit ? { jobId: hit.jobId, jobName } : null;
  }

  async submit(spec: JobSpec): Promise<SubmittedJob> {
    const jobId = crypto.randomUUID();
    const record: LocalJobRecord = {
      jobId, jobName: spec.jobName, jobQueue: "local", parameters: { ...spec.parameters }, status: "PENDING",
      createdAt: Date.now(), attempts: [], log: path.join(this.options.dir, `${jobId}.log`),
      ...(spec.command ? { command: [...spec.command] } : {}),
      ...(spec.arraySize ? { arrayProperties: { size: spec.arraySize } } : {}),
      ...(spec.dependsOn?.length ? { dependsOn: [...spec.dependsOn] } : {}),
    };
    this.save(record);
    this.settleDependents();
    setImmediate(() => this.pump());
    return { jobId, jobName: spec.jobName };
  }

  /** A job whose dependencies are done: queued (an array job: its children are created and queued). */
  private activate(r: LocalJobRecord): void {
    if (r.arrayProperties) {
      for (let i = 0; i < r.arrayProperties.size; i++) {
        const jobId = childJobId(r.jobId, i);
        const { arrayProperties: _size, dependsOn: _deps, ...common } = r;
        this.save({ ...common, jobId, arrayIndex: i, parentId: r.jobId, status: "RUNNABLE", createdAt: Date.now(), attempts: [], log: path.join(this.options.dir, `${jobId}.log`) });
        this.queue.push(jobId);
      }
    } else {
      this.queue.push(r.jobId);
    }
    r.status = "RUNNABLE";
    this.save(r);
  }

  /** PENDING jobs: activated when every dependency SUCCEEDED, FAILED when one FAILED (as Batch does). */
  private settleDependents(): void {
    for (let changed = true; changed;) {
      changed = false;
      for (const r of this.list()) {
        if (r.status !== "PENDING") continue;
        const deps = (r.dependsOn ?? []).map((id) => ({ id, rec: this.get(id) }));
        const failed = deps.find((d) => !d.rec || d.rec.status === "FAILED");
        if (failed) {
          Object.assign(r, { status: "FAILED", statusReason: `dependency ${failed.id} ${failed.rec ? "failed" : "does not exist"}`, stoppedAt: Date.now() });
          this.save(r);
          changed = true;
        } else if (deps.every((d) => d.rec!.status === "SUCCEEDED")) {
          this.activate(r);
          changed = true;
        }
      }
    }
  }

  /** An array job's parent after a child's change: RUNNING, then SUCCEEDED when every child did, else FAILED. */
  private updateParent(parentId: string): void {
    const parent = this.get(parentId);
    if (!parent?.arrayProperties || TERMINAL.has(parent.status)) return;
    const children = Array.from({ length: parent.arrayProperties.size }, (_, i) => this.get(childJobId(parentId, i)));
    const failed = children.filter((c) => c?.status === "FAILED").length;
    if (children.every((c) => c && TERMINAL.has(c.status))) {
      Object.assign(parent, {
        status: failed ? "FAILED" : "SUCCEEDED", stoppedAt: Date.now(),
        statusReason: failed ? `${failed} of ${children.length} child jobs failed` : `all ${children.length} child jobs succeeded`,
      });
    } else if (parent.status !== "RUNNING") {
      parent.status = "RUNNING";
      parent.startedAt ??= Date.now();
    } else {
      return;
    }
    this.save(parent);
    if (TERMINAL.has(parent.status)) this.settleDependents();
  }

  /** Queues the jobs a previous run of the stack left RUNNABLE or RUNNING; returns their ids. */
  resumePending(): string[] {
    const ids: string[] = [];
    for (const r of this.list().sort((a, b) => a.createdAt - b.createdAt || (a.arrayIndex ?? 0) - (b.arrayIndex ?? 0))) {
      if (r.status !== "RUNNABLE" && r.status !== "RUNNING") continue;
      if (r.arrayProperties) continue; // a parent runs nothing: its children are queued themselves
      if (this.queue.includes(r.jobId) || this.running.has(r.jobId)) continue;
      if (r.status === "RUNNING") {
        const last = r.attempts[r.attempts.length - 1];
        if (last && last.stoppedAt === undefined) Object.assign(last, { stoppedAt: Date.now(), exitCode: null, signal: "LOST", stoppedByRunner: true });
        r.status = "RUNNABLE";
        this.save(r);
      }
      this.queue.push(r.jobId);
      ids.push(r.jobId);
    }
    this.settleDependents();
    setImmediate(() => this.pump());
    return ids;
  }

  private pump(): void {
    while (!this.stopping && this.running.size < this.concurrency && this.queue.length) {
      const jobId = this.queue.shift()!;
      const r = this.get(jobId);
      if (r && r.status === "RUNNABLE" && !r.arrayProperties) this.start(r);
    }
    this.notifyIdle();
  }

  private start(r: LocalJobRecord): void {
    const attempt = r.attempts.filter((a) => !a.stoppedByRunner).length + 1;
    const argv = workerArgv(r.parameters, r.command);
    const [cmd, ...args] = argv;
    const env = {
      ...cleanEnv(),
      [JOB_ATTEMPTS_ENV]: String(this.attempts),
      ...this.options.env,
      AWS_BATCH_JOB_ID: r.jobId,
      AWS_BATCH_JOB_ATTEMPT: String(attempt),
      ...(r.arrayIndex !== undefined ? { AWS_BATCH_JOB_ARRAY_INDEX: String(r.arrayIndex) } : {}),
      AWS_BATCH_JQ_NAME: "local",
      AWS_BATCH_CE_NAME: "local",
    };
    const logFd = fs.openSync(r.log, "a");
    fs.writeSync(logFd, `\n===== ${new Date().toISOString()} attempt ${attempt}: ${argv.map((a) => (/[\s"{}]/.test(a) ? JSON.stringify(a) : a)).join(" ")}\n`);
    const child = spawn(cmd === "node" ? process.execPath : cmd, args, { cwd: this.cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    // A worker that cannot start at all (no node, no dist/): reported through the attempt's exit code.
    child.on("error", (err) => fs.appendFileSync(r.log, `worker failed to start: ${err.message}\n`));
    this.running.set(r.jobId, child);
    const a: JobAttempt = { attempt, startedAt: Date.now(), ...(child.pid ? { pid: child.pid } : {}) };
    r.attempts.push(a);
    r.status = "RUNNING";
    r.startedAt ??= a.startedAt;
    this.save(r);
    if (r.parentId) this.updateParent(r.parentId);
    const forward = (stream: NodeJS.ReadableStream) => {
      let rest = "";
      stream.on("data", (chunk: Buffer) => {
        fs.writeSync(logFd, chunk);
        if (!this.options.onOutput) return;
        const lines = (rest + chunk.toString("utf8")).split("\n");
        rest = lines.pop() ?? "";
        for (const l of lines) this.options.onOutput(r.jobId, l);
      });
    };
    forward(child.stdout!);
    forward(child.stderr!);
    child.once("close", (code, signal) => {
      fs.closeSync(logFd);
      this.running.delete(r.jobId);
      const rec = this.get(r.jobId) ?? r;
      const last = rec.attempts[rec.attempts.length - 1];
      Object.assign(last, { stoppedAt: Date.now(), exitCode: code, signal });
      const decision = retryDecision(code, signal);
      const counted = rec.attempts.filter((x) => !x.stoppedByRunner).length;
      if (this.stopping && decision !== "done") {
        last.stoppedByRunner = true;
        rec.status = "RUNNABLE";
        rec.statusReason = "the local stack stopped; the job resumes from its checkpoint when it starts again";
      } else if (decision === "done") {
        rec.status = "SUCCEEDED";
        rec.statusReason = "Essential container in task exited";
        rec.stoppedAt = last.stoppedAt;
      } else if (decision === "retry" && counted < this.attempts) {
        rec.status = "RUNNABLE";
        rec.statusReason = `attempt ${counted} ended with ${code ?? signal}: retrying`;
        setTimeout(() => {
          this.queue.push(rec.jobId);
          this.pump();
        }, this.options.retryDelayMs ?? 500).unref();
      } else {
        rec.status = "FAILED";
        rec.statusReason = decision === "retry" ? `attempts exhausted (${counted}); last exit ${code ?? signal}` : `Essential container in task exited (exit code ${code})`;
        rec.stoppedAt = last.stoppedAt;
      }
      this.save(rec);
      if (rec.parentId) this.updateParent(rec.parentId);
      else if (TERMINAL.has(rec.status)) this.settleDependents();
      this.pump();
    });
  }

  /** Sends a signal to a running job's worker (tests: SIGTERM, as on a Spot reclaim). */
  kill(jobId: string, signal: NodeJS.Signals = "SIGTERM"): boolean {
    const child = this.running.get(jobId);
    return child ? child.kill(signal) : false;
  }

  get busy(): boolean {
    return this.running.size > 0 || this.queue.length > 0;
  }

  private notifyIdle(): void {
    if (this.busy) return;
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  /** Resolves when no job is queued or running (retries pending count as queued only once re-queued). */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.waiters.add(resolve));
  }

  /** Resolves with the job's record once it is SUCCEEDED or FAILED. */
  async waitFor(jobId: string, timeoutMs = 120_000): Promise<LocalJobRecord> {
    const t0 = Date.now();
    for (;;) {
      const r = this.get(jobId);
      if (r && (r.status === "SUCCEEDED" || r.status === "FAILED")) return r;
      if (Date.now() - t0 > timeoutMs) throw new Error(`job ${jobId} not finished after ${timeoutMs} ms (${r?.status})`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  /**
   * Stops taking jobs; running workers get SIGTERM (final checkpoint, exit 75) and SIGKILL after `graceMs`.
   * Their jobs stay RUNNABLE for the next start.
   */
  async stop(graceMs = 30_000): Promise<void> {
    this.stopping = true;
    this.queue.length = 0;
    const children = [...this.running.values()];
    await Promise.all(children.map((child) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      child.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill("SIGTERM");
    })));
  }
}

export function listJobs(dir: string): LocalJobRecord[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith(".json"));
  } catch {
    return [];
  }
  const out: LocalJobRecord[] = [];
  for (const n of names) {
    try {
      out.push(JSON.parse(fs.readFileSync(path.join(dir, n), "utf8")) as LocalJobRecord);
    } catch {
      /* being written */
    }
  }
  return out;
}
