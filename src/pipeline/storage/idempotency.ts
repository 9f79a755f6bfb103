/**
 * Idempotency records of uploads: S3 delivers events at least once, and one upload (bucket + key + version +
 * the version's own config) must submit exactly one job. A record is claimed before any work, with a lease:
 *
 *   none ──claim──> processing (lease) ──> submitted | rejected          (terminal: later deliveries are duplicates)
 *                       │ lease expired (the invocation died)
 *                       └──claim──> processing again, `recovered` (the submitter first looks for the job by name)
 *
 * `release` gives a claim back after a retryable failure, so the retry need not wait for the lease.
 * Implementations: DynamoDB (dynamoIdempotency.ts) in AWS, in memory (tests), a directory of JSON files (local
 * profile, safe across processes).
 */
import fs from "node:fs";
import path from "node:path";
import type { Notification } from "../notify/notifier.js";

export type UploadStatus = "processing" | "submitted" | "rejected";

export interface UploadRecord {
  /** The idempotency key: sha256 of bucket, key, version and the version's own config (ingest.ts uploadId). */
  id: string;
  status: UploadStatus;
  bucket: string;
  key: string;
  versionId?: string;
  etag?: string;
  /** sha256 of the resolved config the upload ran with (from the sidecar, the metadata or the defaults). */
  configHash: string;
  user: string;
  /** ms since the epoch until which a `processing` claim is held. */
  leaseUntil: number;
  /** How many times the record was claimed (1 + recoveries). */
  claims: number;
  jobId?: string;
  jobName?: string;
  /** Where the rejection report or the results go. */
  resultPrefix?: string;
  /** The user has been told about the terminal state. */
  notified: boolean;
  /** The message for the terminal state, kept so that a redelivery can send it if publishing failed. */
  notification?: Notification;
  createdAt: number;
  updatedAt: number;
}

export type NewUploadRecord = Pick<UploadRecord, "id" | "bucket" | "key" | "versionId" | "etag" | "configHash" | "user" | "resultPrefix">;

export type ClaimResult =
  /** This caller owns the upload now; `recovered`: a previous claim's lease had expired. */
  | { outcome: "claimed"; record: UploadRecord; recovered: boolean }
  /** Another invocation holds a live lease. */
  | { outcome: "busy"; record: UploadRecord }
  /** Already submitted or rejected. */
  | { outcome: "done"; record: UploadRecord };

export type RecordPatch = Partial<Pick<UploadRecord, "status" | "jobId" | "jobName" | "notified" | "resultPrefix" | "notification">>;

export interface IdempotencyStore {
  claim(record: NewUploadRecord, now: number, leaseMs: number): Promise<ClaimResult>;
  /** Changes an existing record (status, job id, notified...). */
  update(id: string, patch: RecordPatch, now: number): Promise<UploadRecord>;
  /** Drops a `processing` claim held by the caller (after a retryable failure). */
  release(id: string, now: number): Promise<void>;
  get(id: string): Promise<UploadRecord | null>;
}

function fresh(r: NewUploadRecord, now: number, leaseMs: number): UploadRecord {
  return { ...r, status: "processing", leaseUntil: now + leaseMs, claims: 1, notified: false, createdAt: now, updatedAt: now };
}

/** The decision every store makes on an existing record (the stores differ in how they make it atomic). */
export function decide(existing: UploadRecord, now: number, leaseMs: number): ClaimResult {
  if (existing.status !== "processing") return { outcome: "done", record: existing };
  if (existing.leaseUntil > now) return { outcome: "busy", record: existing };
  return {
    outcome: "claimed",
    recovered: true,
    record: { ...existing, leaseUntil: now + leaseMs, claims: existing.claims + 1, updatedAt: now },
  };
}

export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly records = new Map<string, UploadRecord>();

  async claim(r: NewUploadRecord, now: number, leaseMs: number): Promise<ClaimResult> {
    const existing = this.records.get(r.id);
    if (!existing) {
      const record = fresh(r, now, leaseMs);
      this.records.set(r.id, record);
      return { outcome: "claimed", record: { ...record }, recovered: false };
    }
    const d = decide(existing, now, leaseMs);
    if (d.outcome === "claimed") this.records.set(r.id, d.record);
    return { ...d, record: { ...d.record } } as ClaimResult;
  }

  async update(id: string, patch: RecordPatch, now: number): Promise<UploadRecord> {
    const existing = this.records.get(id);
    if (!existing) throw new Error(`idempotency: no record ${id}`);
    const record = { ...existing, ...patch, updatedAt: now };
    this.records.set(id, record);
    return { ...record };
  }

  async release(id: string, _now?: number): Promise<void> {
    if (this.records.get(id)?.status === "processing") this.records.delete(id);
  }

  async get(id: string): Promise<UploadRecord | null> {
    const r = this.records.get(id);
    return r ? { ...r } : null;
  }
}

/**
 * One JSON file per record in a directory. Creation is atomic (exclusive create); changes take a lock
 * directory (mkdir is atomic) around read-modify-write, so several local processes can share the store.
 */
export class FileIdempotencyStore implements IdempotencyStore {
  constructor(readonly dir: string, private readonly staleLockMs = 30_000) {
    fs.mkdirSync(dir, { recursive: true });
  }

  private file(id: string): string {
    if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new Error(`idempotency: bad record id ${JSON.stringify(id)}`);
    return path.join(this.dir, `${id}.json`);
  }

  private read(id: string): UploadRecord | null {
    try {
      return JSON.parse(fs.readFileSync(this.file(id), "utf8")) as UploadRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
  }

  private write(record: UploadRecord): void {
    const target = this.file(record.id);
    const tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(record, null, 2));
    fs.renameSync(tmp, target);
  }

  private async locked<T>(id: string, fn: () => T): Promise<T> {
    const lock = `${this.file(id)}.lock`;
    for (let attempt = 0; ; attempt++) {
      try {
        fs.mkdirSync(lock);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        try {
          if (Date.now() - fs.statSync(lock).mtimeMs > this.staleLockMs) fs.rmdirSync(lock);
        } catch {
          /* gone meanwhile */
        }
        if (attempt > 500) throw new Error(`idempotency: could not lock ${id}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    try {
      return fn();
    } finally {
      fs.rmdirSync(lock);
    }
  }

  async claim(r: NewUploadRecord, now: number, leaseMs: number): Promise<ClaimResult> {
    const record = fresh(r, now, leaseMs);
    // Written whole to a temporary file, then linked into place: link fails if the record exists, and a
    // reader never sees a half-written record.
    const tmp = `${this.file(r.id)}.${process.pid}.${Date.now()}.new`;
    fs.writeFileSync(tmp, JSON.stringify(record, null, 2));
    try {
      fs.linkSync(tmp, this.file(r.id));
      return { outcome: "claimed", record, recovered: false };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    return this.locked(r.id, () => {
      const existing = this.read(r.id)!;
      const d = decide(existing, now, leaseMs);
      if (d.outcome === "claimed") this.write(d.record);
      return d;
    });
  }

  async update(id: string, patch: RecordPatch, now: number): Promise<UploadRecord> {
    return this.locked(id, () => {
      const existing = this.read(id);
      if (!existing) throw new Error(`idempotency: no record ${id}`);
      const record = { ...existing, ...patch, updatedAt: now };
      this.write(record);
      return record;
    });
  }

  async release(id: string, _now?: number): Promise<void> {
    await this.locked(id, () => {
      if (this.read(id)?.status === "processing") fs.rmSync(this.file(id), { force: true });
    });
  }

  async get(id: string): Promise<UploadRecord | null> {
    return this.read(id);
  }

  /** Every record (a file that cannot be read or parsed is skipped). */
  list(): UploadRecord[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir).filter((n) => /^[A-Za-z0-9_-]+\.json$/.test(n));
    } catch {
      return [];
    }
    const out: UploadRecord[] = [];
    for (const n of names) {
      try {
        out.push(JSON.parse(fs.readFileSync(path.join(this.dir, n), "utf8")) as UploadRecord);
      } catch {
        /* being replaced, or not a record */
      }
    }
    return out;
  }

  /**
   * Ends the lease of a `processing` claim now, when its holder is known to be gone (the local stack at
   * start-up: only one runs per data directory). The next claim is then a recovery, which looks for a job
   * already submitted before submitting one.
   */
  async expireLease(id: string, now: number): Promise<void> {
    await this.locked(id, () => {
      const r = this.read(id);
      if (r?.status === "processing" && r.leaseUntil > now) this.write({ ...r, leaseUntil: now, updatedAt: now });
    });
  }
}
