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

export class S3Server {
  private child: ChildProcess | null = null;
  private listeners = new Set<(r: S3EventRecord) => void>();
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

  onEvent(listener: (r: S3EventRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
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
      child.on("message", (m: { type: string; port?: number; event?: { Records?: S3EventRecord[] } }) => {
        if (m.type === "ready") {
          clearTimeout(timer);
          resolve(m.port!);
        } else if (m.type === "event") {
          for (const r of m.event?.Records ?? []) for (const l of this.listeners) l(r);
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`local S3: the server exited (code ${code}); is port ${this.port} in use?`));
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
