/**
 * Checkpoints of a local run (README "ptyxrf reconstruct", Ctrl-C and --resume), in the worker's format
 * (checkpoint/format.ts) at DIR.partial/_checkpoint/solver.ckpt:
 *
 * - a stop request (the CLI aborts `signal` on Ctrl-C / SIGTERM) is seen at the next iteration boundary: the
 *   solver state is saved and the run ends with RunInterruptedError (after the last iteration the run simply
 *   finishes); the solver yields to the event loop at every boundary so that a signal is seen even when the
 *   kernel runs in the calling thread (--threads 1);
 * - while running, a checkpoint every 50 iterations or 5 minutes (checkpoint/policy.ts DEFAULT_CADENCE), so a
 *   kill -9 or a power cut loses little;
 * - --resume loads the checkpoint and continues only a run of the same scan bytes (sha256), solver config
 *   (config hash) and ground truth (sha256): the solver then ends bit-identical to an uninterrupted run with
 *   the same engine and thread count (solver/reconstruct.ts `resume`).
 */
import os from "node:os";
import { setImmediate as nextTurn } from "node:timers/promises";
import { resolveConfig, type SolverConfig } from "../../solver/config.js";
import type { IterationRecord, ReconstructOptions, SolverSnapshot } from "../../solver/reconstruct.js";
import { encodeCheckpoint, type CheckpointIdentity } from "../checkpoint/format.js";
import { CheckpointPolicy, DEFAULT_CADENCE, type CheckpointCadence } from "../checkpoint/policy.js";
import { FileCheckpointStore } from "../checkpoint/store.js";
import { configHash, fileSha256 } from "../outputs.js";
import { RunFolderError } from "./errors.js";
import type { RunFolder } from "./folder.js";

/** The run stopped on request (Ctrl-C, SIGTERM); `iteration` null: before the solve, nothing to resume. */
export class RunInterruptedError extends Error {
  constructor(readonly reason: string, readonly iteration: number | null, readonly iterations: number, readonly checkpointFile: string | null) {
    super(iteration === null
      ? `stopped by ${reason} before the reconstruction started${checkpointFile ? `; the checkpoint in ${checkpointFile} is kept` : ""}`
      : `stopped by ${reason} after iteration ${iteration} of ${iterations}; ${checkpointFile ? `checkpoint saved in ${checkpointFile}` : "mode rpie is not checkpointed: nothing to resume"}`);
    this.name = "RunInterruptedError";
  }
}

/** The engine a config computes with, as far as bit-identity goes (the cpu engine's thread count). */
export function engineIdentity(c: SolverConfig): string {
  if (c.engine !== "cpu") return c.engine;
  const t = c.threads ?? os.availableParallelism();
  return `cpu, ${t} thread${t > 1 ? "s" : ""}`;
}

/** The identity of a local run: scan and truth by their bytes, the config by its hash. */
export async function localIdentity(scanLabel: string, scanSha256: string, config: SolverConfig, truthPath?: string): Promise<CheckpointIdentity> {
  return {
    scan: scanLabel, scanVersion: `sha256:${scanSha256}`, configHash: configHash(config),
    truth: truthPath ? `sha256:${await fileSha256(truthPath)}` : "", engine: engineIdentity(config),
  };
}

/** Why a checkpoint of `found` cannot continue the run `expected` (the scan is compared by bytes, not by name). */
export function identityProblems(found: CheckpointIdentity, expected: CheckpointIdentity): string[] {
  const short = (s: string) => (s.startsWith("sha256:") ? `sha256 ${s.slice(7, 19)}...` : s || "none");
  const p: string[] = [];
  if (found.scanVersion !== expected.scanVersion) p.push(`the scan differs (checkpoint: ${found.scan}, ${short(found.scanVersion)}; now: ${expected.scan}, ${short(expected.scanVersion)})`);
  if (found.configHash !== expected.configHash) p.push(`the solver config differs (config hash ${found.configHash} in the checkpoint, ${expected.configHash} now: same options, iterations included, are needed)`);
  if (found.truth !== expected.truth) p.push(`the ground truth differs (checkpoint: ${short(found.truth)}; now: ${short(expected.truth)})`);
  return p;
}

export interface LocalRunOptions {
  scanLabel: string;
  truthPath?: string;
  resume?: boolean;
  signal?: AbortSignal;
  cadence?: CheckpointCadence;
  onNote?: (text: string) => void;
  onIteration?: (record: IterationRecord, total: number) => void;
}

export interface LocalCheckpoints extends Pick<ReconstructOptions, "resume" | "onCheckpoint"> {
  onIteration: (record: IterationRecord, total: number) => void;
}

function reasonOf(signal: AbortSignal): string {
  return typeof signal.reason === "string" ? signal.reason : "a stop request";
}

/**
 * Sets up DIR.partial for the run (kept checkpoint when resuming) and returns what `solve` needs: the snapshot
 * to resume from and the callbacks that checkpoint and stop. Throws RunFolderError when --resume cannot
 * continue (no usable checkpoint, or one of another run), RunInterruptedError when already asked to stop.
 */
export async function localCheckpoints(folder: RunFolder, scanSha256: string, configInput: unknown, o: LocalRunOptions): Promise<LocalCheckpoints> {
  const config = resolveConfig(configInput);
  const total = config.iterations;
  const identity = await localIdentity(o.scanLabel, scanSha256, config, o.truthPath);
  const store = new FileCheckpointStore(folder.checkpointFile);
  let resume: SolverSnapshot | undefined;
  if (o.resume) {
    const loaded = await store.load();
    if (!loaded.checkpoint) throw new RunFolderError(`cannot resume: the checkpoint ${folder.checkpointFile} is unusable (${loaded.problem ?? "missing"}); add --force without --resume to start afresh`);
    const problems = identityProblems(loaded.checkpoint.identity, identity);
    if (problems.length) {
      throw new RunFolderError(`cannot resume: the checkpoint in ${folder.checkpointFile} belongs to another run: ${problems.join("; ")}. Resume with the scan and options of the interrupted run, or add --force without --resume to start afresh`);
    }
    const was = loaded.checkpoint.identity.engine;
    if (was !== undefined && was !== identity.engine) {
      o.onNote?.(`the checkpoint was computed with ${was}, this run uses ${identity.engine}: the result will differ in the last bits from an uninterrupted run (use the same --threads for a bit-identical one)`);
    }
    resume = loaded.checkpoint.snapshot;
    o.onNote?.(`resuming from the checkpoint at iteration ${resume.meta.iteration} of ${total} (saved ${loaded.checkpoint.created})`);
  }
  if (o.signal?.aborted) throw new RunInterruptedError(reasonOf(o.signal), null, total, resume ? folder.checkpointFile : null);
  folder.startStaging(resume !== undefined);

  const policy = new CheckpointPolicy(o.cadence ?? DEFAULT_CADENCE, resume?.meta.iteration ?? 0);
  const save = (snapshot: SolverSnapshot) => store.save(encodeCheckpoint({ identity, created: new Date().toISOString(), snapshot }));
  const signal = o.signal;
  return {
    ...(resume ? { resume } : {}),
    onIteration: (record, n) => {
      // rpie is not checkpointed (solver/reconstruct.ts): a stop ends it without one
      if (config.mode === "rpie" && signal?.aborted && record.iteration < n) throw new RunInterruptedError(reasonOf(signal), record.iteration, n, null);
      o.onIteration?.(record, n);
    },
    onCheckpoint: async (iteration, capture) => {
      await nextTurn(); // lets a signal handler run even when the solver never waits for anything else
      if (signal?.aborted && iteration < total) {
        await save(capture());
        throw new RunInterruptedError(reasonOf(signal), iteration, total, folder.checkpointFile);
      }
      if (policy.due(iteration, total)) {
        policy.taken(iteration);
        await save(capture());
      }
    },
  };
}
