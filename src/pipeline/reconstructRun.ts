/**
 * One reconstruction run, end to end: validate the scan, load it, reconstruct with the configured engine
 * (with errors against a ground truth every iteration when one is given), write the run's outputs.
 * The CLI's `reconstruct` and `compare` and the cloud worker all go through here.
 */
import os from "node:os";
import { createEngine } from "../engine/index.js";
import type { Engine } from "../engine/engine.js";
import { readTruth } from "../scan/truth.js";
import type { Truth } from "../scan/model.js";
import { hostLimits } from "../scan/limits.js";
import { validateScan, type ValidationReport } from "../scan/validate.js";
import { resolveConfig, type SolverConfig } from "../solver/config.js";
import { errorRecord, makeEvaluator, type Errors, type Evaluator } from "../solver/evaluate.js";
import { checkRecordFinite, checkStateFinite } from "../solver/finite.js";
import { loadScan, ScanDataError, scanGeometry, type LoadedScan } from "../solver/problem.js";
import { reconstruct, type IterationRecord, type Reconstruction, type ReconstructOptions } from "../solver/reconstruct.js";
import type { CheckpointCadence } from "./checkpoint/policy.js";
import { decodeMask, pngSize, readLocalMask } from "./correlationMask.js";
import { fileSha256, noteScanChecksum, writeRunOutputs, type RunMetrics } from "./outputs.js";
import { localCheckpoints } from "./runFolder/checkpoints.js";
import { RunFolder } from "./runFolder/folder.js";
import { checkTruthMatchesScan } from "./truthMatch.js";

/** The scan failed validation: not retryable, exit code 2. */
export class InvalidScanError extends Error {
  constructor(readonly report: ValidationReport) {
    const more = report.omitted?.errors ? `; and ${report.omitted.errors} more` : "";
    super(`${report.source}: invalid scan (${report.errors.length + (report.omitted?.errors ?? 0)} error(s)): ${report.errors.map((e) => e.message).join("; ")}${more}`);
    this.name = "InvalidScanError";
  }
}

export async function openEngine(config: SolverConfig): Promise<Engine> {
  return createEngine(config.engine, config.threads ? { threads: config.threads } : {});
}

export interface Prepared {
  scan: LoadedScan;
  truth: Truth | null;
  /** sha256 (hex) of the scan file as read: the run's input checksum (metrics.json scan_sha256, report.html). */
  scanSha256?: string;
}

/** Memory this process may use: the machine's, or its container's limit when lower. */
function hostMemoryBytes(): number {
  const total = os.totalmem();
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  return constrained && constrained > 0 && constrained < total ? constrained : total;
}

/**
 * Validates and loads a scan (and its truth), once, for one or several runs. The scan file's sha256 is
 * computed by a stream read alongside validation and loading (the file is then in the page cache anyway).
 */
export async function prepare(scanPath: string, truthPath?: string): Promise<Prepared> {
  const checksum = fileSha256(scanPath);
  checksum.catch(() => undefined); // awaited below; an invalid scan must not leave an unhandled rejection
  const report = await validateScan(scanPath, hostLimits(hostMemoryBytes()));
  if (!report.ok) throw new InvalidScanError(report);
  let scan: LoadedScan;
  try {
    scan = await loadScan(scanPath);
  } catch (err) {
    // every frame is checked as it loads: what the validator's sample missed is an invalid scan all the same
    if (err instanceof ScanDataError) throw new InvalidScanError({ ...report, ok: false, errors: [...report.errors, ...err.problems] });
    throw err;
  }
  const truth = truthPath ? await readTruth(truthPath) : null;
  if (truth) checkTruthMatchesScan(scan, truth, truthPath!);
  return { scan, truth, scanSha256: await checksum };
}

export interface SolveResult {
  reconstruction: Reconstruction;
  errors: Errors | null;
}

/**
 * Reconstructs a prepared scan; `onIteration` sees each record (with errors when a truth is known).
 * A loss, weight or result that is not finite ends the run with NonFiniteError (solver/finite.ts).
 * `checkpoints`: resume from a snapshot and/or capture snapshots (the cloud worker's checkpoints).
 */
export async function solve(
  prepared: Prepared, configInput: unknown, onIteration?: (record: IterationRecord, total: number) => void,
  checkpoints: Pick<ReconstructOptions, "resume" | "onCheckpoint"> = {},
): Promise<SolveResult> {
  const config = resolveConfig(configInput);
  const { scan, truth } = prepared;
  const engine = await openEngine(config);
  let evaluator: Evaluator | null = null;
  try {
    const grid = truth ? { height: truth.object.height, width: truth.object.width } : undefined;
    const reconstruction = await reconstruct(scan, config, {
      engine,
      ...(grid ? { grid } : {}),
      ...checkpoints,
      onIteration: (record, state, geometry) => {
        checkRecordFinite(record); // stop at the first NaN, not after the remaining iterations
        if (truth) {
          evaluator ??= makeEvaluator(truth, geometry.windows);
          record.errors = errorRecord(evaluator(state, scan.header.xrf.elements.map((e) => e.symbol), config.mode));
        }
        onIteration?.(record, config.iterations);
      },
    });
    checkStateFinite(reconstruction);
    const errors = truth ? makeEvaluator(truth, reconstruction.geometry.windows)(reconstruction, reconstruction.elements, config.mode) : null;
    if (prepared.scanSha256) noteScanChecksum(reconstruction, prepared.scanSha256);
    return { reconstruction, errors };
  } finally {
    await engine.dispose();
  }
}

export interface RunOptions {
  scanPath: string;
  outDir: string;
  config: unknown;
  truthPath?: string;
  /** The scan as metrics.json and the report name it (default scanPath; e.g. the inputs of a converted scan). */
  scanLabel?: string;
  onIteration?: (record: IterationRecord, total: number) => void;
  /** Replace a folder holding a run of ptyxrf's, or discard an interrupted run's checkpoint (runFolder/folder.ts). */
  force?: boolean;
  /** Continue the interrupted run checkpointed in `${outDir}.partial` (runFolder/checkpoints.ts). */
  resume?: boolean;
  /** Aborted (Ctrl-C, SIGTERM): checkpoint at the next iteration boundary and end with RunInterruptedError. */
  signal?: AbortSignal;
  /** Checkpoints while running (default: every 50 iterations or 5 minutes, as the worker). */
  cadence?: CheckpointCadence;
  /** Notes for the user (a stale lock taken over, a resume, leftovers removed). */
  onNote?: (text: string) => void;
}

/** The object grid a run of `prepared` will have (the truth's when there is one): known before the solve. */
export function objectSize(prepared: Prepared, config: SolverConfig): { width: number; height: number } {
  if (prepared.truth) return { width: prepared.truth.object.width, height: prepared.truth.object.height };
  const g = scanGeometry(prepared.scan.header, config.subpixel);
  return { width: g.width, height: g.height };
}

/**
 * config -> mask file -> lock outDir -> validate -> load -> mask labels -> reconstruct (checkpointed) -> write
 * outputs (manifest last) in `${outDir}.partial` -> swap it in as outDir (runFolder/folder.ts). The config and
 * the correlation mask (a local path: correlationMask.ts) are checked before the scan is read, and the mask
 * decoded before the solve: a bad one fails the run at its start, never after it.
 */
export async function runReconstruction(o: RunOptions): Promise<{ metrics: RunMetrics; files: string[] }> {
  const config = resolveConfig(o.config);
  const maskFile = config.correlation.mask;
  const maskBytes = maskFile ? readLocalMask(maskFile) : null;
  if (maskBytes) pngSize(maskBytes, maskFile);
  const folder = RunFolder.open(o.outDir, "ptyxrf reconstruct", o);
  try {
    const prepared = await prepare(o.scanPath, o.truthPath);
    const correlationLabels = maskBytes ? decodeMask(maskBytes, maskFile, objectSize(prepared, config)) : undefined;
    const scanLabel = o.scanLabel ?? o.scanPath;
    const checkpoints = await localCheckpoints(folder, prepared.scanSha256!, o.config, { ...o, scanLabel });
    const { reconstruction, errors } = await solve(prepared, o.config, checkpoints.onIteration, checkpoints);
    const out = await writeRunOutputs(folder.staging, reconstruction, {
      scan: scanLabel, truth: o.truthPath ?? null, errors, ...(correlationLabels ? { correlationLabels } : {}),
    });
    folder.commit();
    return out;
  } catch (err) {
    folder.abandon(err);
    throw err;
  } finally {
    folder.release();
  }
}
