/**
 * Where a run's checkpoint lives: `<result prefix>_checkpoint/solver.ckpt` in S3 (the worker's role may write
 * only under results/, and the checkpoint belongs to the run), or a file (tests, local tools). A save replaces
 * the previous checkpoint atomically (one PUT, or a multipart upload that only appears when complete).
 *
 * In S3 every checkpoint carries the object tag CHECKPOINT_TAG, set with the object: S3 lifecycle filters are
 * key prefixes and tags, and `results/<user>/<path>/<tag>/_checkpoint/` is no prefix a rule can name, so the
 * stack's rule that expires the checkpoints of failed runs (and the versions every save leaves behind) selects
 * them by this tag (infra/stack.ts, docs/cloud.md).
 */
import fs from "node:fs";
import path from "node:path";
import type { S3Location, S3Transfer } from "../worker/transfer.js";
import { CheckpointFormatError, decodeCheckpoint, encodeCheckpoint, type Checkpoint } from "./format.js";

export const CHECKPOINT_DIR = "_checkpoint/";
export const CHECKPOINT_NAME = "solver.ckpt";
/** The object tag of every checkpoint the worker writes to S3 (the lifecycle rule's filter). */
export const CHECKPOINT_TAG = { key: "ptyxrf-lifecycle", value: "checkpoint" } as const;
const TAGS = { [CHECKPOINT_TAG.key]: CHECKPOINT_TAG.value };

export interface LoadedCheckpoint {
  checkpoint: Checkpoint | null;
  /** Why an existing checkpoint could not be used (corrupt, truncated). */
  problem?: string;
}

export interface CheckpointStore {
  readonly location: string;
  load(): Promise<LoadedCheckpoint>;
  /** Saves an encoded checkpoint; returns its size in bytes. */
  save(encoded: Buffer): Promise<number>;
  clear(): Promise<void>;
}

function decode(bytes: Uint8Array | null): LoadedCheckpoint {
  if (!bytes) return { checkpoint: null };
  try {
    return { checkpoint: decodeCheckpoint(bytes) };
  } catch (err) {
    if (err instanceof CheckpointFormatError) return { checkpoint: null, problem: err.message };
    throw err;
  }
}

export class S3CheckpointStore implements CheckpointStore {
  readonly loc: S3Location;

  /** `resultPrefix`: the run's folder (ending in "/"); `scratch`: a local folder for the upload's file. */
  constructor(private readonly transfer: S3Transfer, resultPrefix: S3Location, private readonly scratch: string) {
    this.loc = { bucket: resultPrefix.bucket, key: `${resultPrefix.key}${CHECKPOINT_DIR}${CHECKPOINT_NAME}` };
  }

  get location(): string {
    return `s3://${this.loc.bucket}/${this.loc.key}`;
  }

  async load(): Promise<LoadedCheckpoint> {
    return decode(await this.transfer.getBytes(this.loc, 10 * 60_000));
  }

  async save(encoded: Buffer): Promise<number> {
    if (encoded.length < this.transfer.multipartThreshold) {
      await this.transfer.putBytes(this.loc, encoded, { contentType: "application/octet-stream", tags: TAGS });
    } else {
      fs.mkdirSync(this.scratch, { recursive: true });
      const file = path.join(this.scratch, `checkpoint-${process.pid}.partial`);
      fs.writeFileSync(file, encoded);
      try {
        await this.transfer.uploadFile(this.loc, file, { contentType: "application/octet-stream", tags: TAGS });
      } finally {
        fs.rmSync(file, { force: true });
      }
    }
    return encoded.length;
  }

  async clear(): Promise<void> {
    await this.transfer.delete(this.loc);
  }
}

export class FileCheckpointStore implements CheckpointStore {
  constructor(readonly file: string) {}

  get location(): string {
    return this.file;
  }

  async load(): Promise<LoadedCheckpoint> {
    try {
      return decode(fs.readFileSync(this.file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return { checkpoint: null };
      throw err;
    }
  }

  async save(encoded: Buffer): Promise<number> {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.partial`;
    fs.writeFileSync(tmp, encoded);
    fs.renameSync(tmp, this.file);
    return encoded.length;
  }

  async clear(): Promise<void> {
    fs.rmSync(this.file, { force: true });
  }
}

export { encodeCheckpoint };
