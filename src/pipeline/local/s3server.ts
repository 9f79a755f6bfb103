/**
 * The local profile's S3-compatible server: s3rver in a child process on 127.0.0.1 (the ranged-read bridge
 * blocks the stack's thread, so the server cannot share it), data in a directory the user can look into.
 * Its S3 event notifications arrive in the parent shaped as S3 sends them. `stop()` and `start()` take the
 * server down and bring it back at the same port with the same data (outage tests).
 */
import { fork, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { S3EventRecord } from "aws-lambda";
import type { S3ClientSettings } from "../../scan/s3Source.js";
import { compiledModule } from "../../version.js";

export const LOCAL_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;
export const LOCAL_REGION = "us-east-1";

export interface S3ServerOptions {
  directory: string;
  buckets: string[];
  /** 0 (default): an ephemeral port, kept across restarts. */
  port?: number;
  startTimeoutMs?: number;
}

export function s3SettingsFor(endpoint: string): S3ClientSettings {
  return { region: LOCAL_REGION, endpoint, forcePathStyle: true, credentials: { ...LOCAL_CREDENTIALS }, checksums: "WHEN_REQUIRED", maxAttempts: 3 };
}

/** One object of a listing, with the sequencer its upload event carries (s3Child.ts). */
export interface ListedObject {
  key: string;
  etag: string;
  size: number;
  sequencer: string;
}

/** How the server process ended when nobody asked it to (killed, crashed). */
export interface ServerExit {
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class S3Server {
  private child: ChildProcess | null = null;
  private listeners = new Set<(r: S3EventRecord) => void>();
  private exitListeners = new Set<(e: ServerExit) => void>();
  private pendingLists = new Map<number, { resolve: (v: { objects: ListedObject[]; truncated: boolean; last: string | null }) => void; reject: (e: Error) => void }>();
  private listCounter = 0;
  port: number;

  constructor(readonly options: S3ServerOptions) {
    this.port = options.port ?? 0;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get settings(): S3ClientSettings {
    return s3SettingsFor(this.endpoint);
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The server process's id (while it runs). */
  get pid(): number | undefined {
    return this.running ? this.child!.pid : undefined;
  }

  onEvent(listener: (r: S3EventRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Told when the server process ends without `stop()` (killed, crashed): the endpoint is gone. */
  onUnexpectedExit(listener: (e: ServerExit) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  /**
   * One page of a bucket's objects under `prefix` after `startAfter` (at most `maxKeys`, at most 1000), with
   * the sequencers of their upload events; `last`: the key to start the next page after.
   */
  list(bucket: string, prefix: string, startAfter = "", maxKeys = 1000, timeoutMs = 30_000): Promise<{ objects: ListedObject[]; truncated: boolean; last: string | null }> {
    const child = this.child;
    if (!child || !this.running || !child.connected) return Promise.reject(new Error("local S3: the server is not running"));
    const id = ++this.listCounter;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingLists.delete(id);
        reject(new Error(`local S3: listing s3://${bucket}/${prefix} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      this.pendingLists.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      child.send({ type: "list", id, bucket, prefix, startAfter, maxKeys });
    });
  }

  async start(): Promise<void> {
    if (this.running) return;
    const child = fork(compiledModule("pipeline/local/s3Child.js"), [JSON.stringify({ directory: this.options.directory, buckets: this.options.buckets, port: this.port })], {
      execArgv: [],
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    this.child = child;
    this.port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error("local S3: the server did not start in time"));
      }, this.options.startTimeoutMs ?? 20_000);
      child.on("message", (m: { type: string; port?: number; event?: { Records?: S3EventRecord[] }; id?: number; objects?: ListedObject[]; truncated?: boolean; last?: string | null; error?: string }) => {
        if (m.type === "ready") {
          clearTimeout(timer);
          resolve(m.port!);
        } else if (m.type === "event") {
          for (const r of m.event?.Records ?? []) for (const l of this.listeners) l(r);
        } else if (m.type === "listed") {
          const waiter = this.pendingLists.get(m.id!);
          this.pendingLists.delete(m.id!);
          if (m.error !== undefined) waiter?.reject(new Error(`local S3: listing failed: ${m.error}`));
          else waiter?.resolve({ objects: m.objects ?? [], truncated: Boolean(m.truncated), last: m.last ?? null });
        }
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`local S3: the server exited (code ${code}); is port ${this.port} in use?`));
        for (const w of this.pendingLists.values()) w.reject(new Error("local S3: the server exited"));
        this.pendingLists.clear();
        // stop() forgets its child first: an exit of the current child is one nobody asked for
        if (this.child === child) {
          this.child = null;
          for (const l of this.exitListeners) l({ pid: child.pid, code, signal });
        }
      });
    });
  }

  /** Stops the server (the data stays); `crash`: kill it at once, open connections reset (outage tests). */
  async stop(o: { crash?: boolean } = {}): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      if (o.crash) child.kill("SIGKILL");
      else if (child.connected) child.send({ type: "close" });
      else child.kill("SIGTERM");
    });
  }
}
