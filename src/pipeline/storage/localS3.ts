/**
 * A local S3-compatible server (s3rver) in a child process on 127.0.0.1, for tests, the ingest benchmark and
 * local runs. Its S3 event notifications come back to the parent in `events`, shaped as S3 sends them.
 */
import { fork, type ChildProcess } from "node:child_process";
import type { S3EventRecord } from "aws-lambda";
import type { S3ClientSettings } from "../../scan/s3Source.js";
import { compiledModule } from "../../version.js";

export interface LocalS3 {
  endpoint: string;
  /** Client settings for this server (static credentials, path style, WHEN_REQUIRED checksums). */
  settings: S3ClientSettings;
  /** S3 event records the server emitted, in order. */
  readonly events: S3EventRecord[];
  /** Resolves once `events` holds at least `n` records (rejects after `timeoutMs`). */
  waitForEvents(n: number, timeoutMs?: number): Promise<S3EventRecord[]>;
  close(): Promise<void>;
}

export interface LocalS3Options {
  /** Where s3rver keeps objects. */
  directory: string;
  buckets: string[];
  /** Longest wait for the server to start (default 20 s). */
  startTimeoutMs?: number;
}

export async function startLocalS3(options: LocalS3Options): Promise<LocalS3> {
  const child: ChildProcess = fork(compiledModule("pipeline/local/s3Child.js"), [JSON.stringify({ directory: options.directory, buckets: options.buckets, port: 0 })], {
    execArgv: [],
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const events: S3EventRecord[] = [];
  const waiters = new Set<() => void>();
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error("local S3: the server did not start in time"));
    }, options.startTimeoutMs ?? 20_000);
    child.on("message", (m: { type: string; port?: number; event?: { Records?: S3EventRecord[] } }) => {
      if (m.type === "ready") {
        clearTimeout(timer);
        resolve(m.port!);
      } else if (m.type === "event") {
        events.push(...(m.event?.Records ?? []));
        for (const w of waiters) w();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`local S3: the server exited (code ${code})`));
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    settings: {
      region: "us-east-1",
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      checksums: "WHEN_REQUIRED",
      maxAttempts: 2,
    },
    events,
    waitForEvents(n, timeoutMs = 10_000) {
      if (events.length >= n) return Promise.resolve(events.slice());
      return new Promise((resolve, reject) => {
        const check = () => {
          if (events.length >= n) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(events.slice());
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`local S3: ${events.length} of ${n} events after ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    close() {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        child.send({ type: "close" });
      });
    },
  };
}
