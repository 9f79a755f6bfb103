/**
 * The checkpoint file: one self-describing binary object holding a solver snapshot (reconstruct.ts
 * `SolverSnapshot`) and the identity of the run it belongs to.
 *
 *   bytes 0-7     "PTYXCKP1" (magic and format version)
 *   bytes 8-11    header length H (uint32, little-endian)
 *   bytes 12..    header: UTF-8 JSON {format, version, created, identity, meta, arrays: [{name, dtype, length,
 *                 offset}], payload: {bytes, sha256}}
 *   then          zero padding to a multiple of 8, then the payload: every array's raw little-endian values,
 *                 each starting at a multiple of 8 (offsets relative to the payload's start)
 *
 * Decoding checks the magic, the lengths and the payload's sha256: a truncated or corrupted checkpoint is
 * rejected (CheckpointFormatError), never half-used. Float32 state round-trips bit for bit, and JSON numbers
 * (GradNorm weights, step counters, history) round-trip exactly, so a resumed run continues exactly.
 */
import crypto from "node:crypto";
import type { SnapshotMeta, SolverSnapshot } from "../../solver/reconstruct.js";

export const CHECKPOINT_MAGIC = "PTYXCKP1";
export const CHECKPOINT_FORMAT = "ptyxrf-checkpoint";

/** Which run a checkpoint belongs to: a job only resumes from a checkpoint of exactly its own run. */
export interface CheckpointIdentity {
  /** s3://bucket/key of the scan. */
  scan: string;
  /** The scan's version id or etag:<etag>. */
  scanVersion: string;
  /** sha256 prefix of the resolved solver config (outputs.ts configHash). */
  configHash: string;
  /** The ground truth used for the errors in the history ("" when none). */
  truth: string;
  /**
   * The engine and thread count the run computes with (local runs: "cpu, 2 threads"); a resume elsewhere is
   * allowed but not bit-identical (the cpu engine's sums depend on the thread count). Not part of sameIdentity.
   */
  engine?: string;
}

export interface Checkpoint {
  identity: CheckpointIdentity;
  created: string;
  snapshot: SolverSnapshot;
}

export class CheckpointFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointFormatError";
  }
}

type DType = "f32" | "f64" | "i32";
type TypedArray = Float32Array | Float64Array | Int32Array;

interface ArrayEntry {
  name: string;
  dtype: DType;
  length: number;
  offset: number;
}

interface Header {
  format: typeof CHECKPOINT_FORMAT;
  version: 1;
  created: string;
  identity: CheckpointIdentity;
  meta: SnapshotMeta;
  arrays: ArrayEntry[];
  payload: { bytes: number; sha256: string };
}

function dtypeOf(a: TypedArray): DType {
  if (a instanceof Float32Array) return "f32";
  if (a instanceof Float64Array) return "f64";
  if (a instanceof Int32Array) return "i32";
  throw new CheckpointFormatError(`unsupported array type ${(a as object).constructor.name}`);
}

const BYTES: Record<DType, number> = { f32: 4, f64: 8, i32: 4 };
const align8 = (n: number) => (n + 7) & ~7;

/** JSON without NaN/Infinity surprises: non-finite numbers become null (History reads null back as NaN). */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v));
}

export function encodeCheckpoint(c: Checkpoint): Buffer {
  const entries: ArrayEntry[] = [];
  let offset = 0;
  for (const [name, a] of Object.entries(c.snapshot.arrays)) {
    const dtype = dtypeOf(a);
    entries.push({ name, dtype, length: a.length, offset });
    offset = align8(offset + a.length * BYTES[dtype]);
  }
  const payload = Buffer.alloc(offset);
  for (const e of entries) {
    const a = c.snapshot.arrays[e.name];
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).copy(payload, e.offset);
  }
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new CheckpointFormatError("big-endian hosts are not supported");
  const header: Header = {
    format: CHECKPOINT_FORMAT, version: 1, created: c.created, identity: c.identity, meta: c.snapshot.meta, arrays: entries,
    payload: { bytes: payload.length, sha256: crypto.createHash("sha256").update(payload).digest("hex") },
  };
  const json = Buffer.from(toJson(header), "utf8");
  const start = align8(12 + json.length);
  const out = Buffer.alloc(start + payload.length);
  out.write(CHECKPOINT_MAGIC, 0, "latin1");
  out.writeUInt32LE(json.length, 8);
  json.copy(out, 12);
  payload.copy(out, start);
  return out;
}

export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 12 || buf.toString("latin1", 0, 8) !== CHECKPOINT_MAGIC) throw new CheckpointFormatError("not a ptyxrf checkpoint (bad magic)");
  const hlen = buf.readUInt32LE(8);
  if (12 + hlen > buf.length) throw new CheckpointFormatError(`truncated: header of ${hlen} bytes, file of ${buf.length}`);
  let header: Header;
  try {
    header = JSON.parse(buf.toString("utf8", 12, 12 + hlen)) as Header;
  } catch (err) {
    throw new CheckpointFormatError(`unreadable header: ${(err as Error).message}`);
  }
  if (header.format !== CHECKPOINT_FORMAT || header.version !== 1) throw new CheckpointFormatError(`unsupported checkpoint ${header.format} v${header.version}`);
  const start = align8(12 + hlen);
  if (buf.length - start !== header.payload.bytes) throw new CheckpointFormatError(`truncated: payload of ${buf.length - start} bytes, expected ${header.payload.bytes}`);
  const payload = buf.subarray(start);
  const sha = crypto.createHash("sha256").update(payload).digest("hex");
  if (sha !== header.payload.sha256) throw new CheckpointFormatError("corrupted: payload checksum mismatch");
  const arrays: SolverSnapshot["arrays"] = {};
  for (const e of header.arrays) {
    const size = BYTES[e.dtype];
    if (!size || e.offset + e.length * size > payload.length) throw new CheckpointFormatError(`array ${e.name} outside the payload`);
    // copied into its own aligned buffer
    const raw = new Uint8Array(payload.subarray(e.offset, e.offset + e.length * size));
    arrays[e.name] = e.dtype === "f32" ? new Float32Array(raw.buffer) : e.dtype === "f64" ? new Float64Array(raw.buffer) : new Int32Array(raw.buffer);
  }
  // History reads non-finite numbers back as NaN
  const meta = header.meta;
  meta.history = meta.history.map((r) => ({
    ...r,
    losses: nanFromNull(r.losses), weights: nanFromNull(r.weights), steps: nanFromNull(r.steps),
    ...(r.errors ? { errors: nanFromNull(r.errors) } : {}),
  }));
  return { identity: header.identity, created: header.created, snapshot: { meta, arrays } };
}

function nanFromNull(r: Record<string, number | null>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "number" ? v : NaN]));
}

export function sameIdentity(a: CheckpointIdentity, b: CheckpointIdentity): boolean {
  return a.scan === b.scan && a.scanVersion === b.scanVersion && a.configHash === b.configHash && a.truth === b.truth;
}
