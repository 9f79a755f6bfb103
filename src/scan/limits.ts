/**
 * The validator's limits, and what a scan will cost the worker that reconstructs it.
 *
 * Every limit is decided from declared shapes and dtypes before any dataset is read, except the object the
 * positions imply, which needs the positions (read in bounded blocks once every other size rule passed).
 * The defaults match the cloud worker of docs/cloud.md (job memory `workerMemoryMiB` 14336, scratch volume
 * `workerDiskGiB` 100); `workerLimits()` derives them for other worker sizes, and the ingest Lambda is given
 * the deployed sizes (PTYXRF_WORKER_MEMORY_MIB, PTYXRF_WORKER_DISK_GIB).
 */

export interface ValidationLimits {
  maxPositions: number;
  minFrameSize: number;
  maxFrameSize: number;
  /** Element maps in /xrf/elemental_maps; more are rejected without opening any of them. */
  maxElements: number;
  /** Largest allowed |position| in metres (a stage does not travel further). */
  maxAbsPosition_m: number;
  /** Largest object the positions and frame size may imply, in pixels per side. */
  maxObjectPixels: number;
  maxFileBytes: number;
  /** Diffraction frames whose counts are checked. */
  sampleFrames: number;
  /** Tolerance for XRF positions to equal ptychography positions, metres. */
  positionTolerance_m: number;
  /** Probe modes of /ptychography/probe_guess (the solver refines at most 8: `probe.modes`). */
  maxProbeModes: number;
  /** Channels per spectrum of /xrf/spectra. */
  maxSpectrumChannels: number;
  /**
   * The diffraction stack as the worker holds it, float32 (Npos x N x N x 4 bytes). Every iteration goes
   * through all of it, so this also bounds what one iteration of a job costs.
   */
  maxStackBytes: number;
  /**
   * Memory the worker may spend on the scan: the stack as float32, spectra, probe and maps, and the state
   * of the object the positions imply (about 4 H W (8 + 3 E) bytes, docs/gpu.md).
   */
  maxWorkerMemoryBytes: number;
  /** Local disk the worker may spend: the downloaded scan and its outputs (result.h5 and a checkpoint). */
  maxScratchBytes: number;
  /** Problems listed per severity; the report counts the ones left out. */
  maxProblems: number;
}

const GiB = 2 ** 30;

/**
 * Limits for a worker of `memoryMiB` job memory and `diskGiB` scratch volume: 2 GiB of the memory are left
 * to Node, HDF5 and the engine's batch buffers, 36 GiB of the volume to the container image and the system
 * (never less than half of either for the scan).
 */
export function workerLimits(memoryMiB: number, diskGiB: number): Pick<ValidationLimits, "maxWorkerMemoryBytes" | "maxScratchBytes"> {
  const memory = memoryMiB * 2 ** 20;
  const disk = diskGiB * GiB;
  return {
    maxWorkerMemoryBytes: Math.max(memory / 2, memory - 2 * GiB),
    maxScratchBytes: Math.max(disk / 2, disk - 36 * GiB),
  };
}

export const DEFAULT_LIMITS: ValidationLimits = {
  maxPositions: 1_000_000,
  minFrameSize: 16,
  maxFrameSize: 4096,
  maxElements: 32,
  maxAbsPosition_m: 0.05,
  maxObjectPixels: 32_768,
  maxFileBytes: 2 ** 41, // 2 TiB
  sampleFrames: 8,
  positionTolerance_m: 1e-9,
  maxProbeModes: 8,
  maxSpectrumChannels: 32_768,
  maxStackBytes: 8 * GiB,
  ...workerLimits(14_336, 100), // 12 GiB of memory, 64 GiB of scratch
  maxProblems: 100,
};

/**
 * Limits for reconstructing on this machine (`ptyxrf reconstruct`, `compare`, and the worker's own check
 * before loading): the cloud defaults, raised to what `memoryBytes` of memory holds (3/4 of it for the scan,
 * half for the stack); the scratch rule is the cloud worker's and does not apply (the scan is already here).
 * `ptyxrf validate` keeps the defaults: it answers whether an upload would be accepted.
 */
export function hostLimits(memoryBytes: number): Partial<ValidationLimits> {
  return {
    maxWorkerMemoryBytes: Math.max(DEFAULT_LIMITS.maxWorkerMemoryBytes, 0.75 * memoryBytes),
    maxStackBytes: Math.max(DEFAULT_LIMITS.maxStackBytes, 0.5 * memoryBytes),
    maxScratchBytes: Infinity,
  };
}

/** What a scan costs the worker, from its declared shapes (and, once read, the object its positions imply). */
export interface Capacity {
  stackBytes: number;
  memoryBytes: number;
  scratchBytes: number;
}

export interface CapacityInput {
  npos: number;
  frameSize: number;
  elements: number;
  probeModes: number;
  spectrumChannels: number;
  fileBytes: number;
  /** Object pixels (H x W), when the positions were read. */
  objectPixels?: number;
}

/** Bytes the worker needs for a scan (src/solver/problem.ts loadScan: the stack as float32 in memory). */
export function capacity(s: CapacityInput): Capacity {
  const n2 = s.frameSize * s.frameSize;
  const stackBytes = 4 * s.npos * n2;
  const probeBytes = 8 * Math.max(1, s.probeModes) * n2;
  const objectPixels = s.objectPixels ?? 0;
  const stateBytes = 4 * objectPixels * (8 + 3 * s.elements);
  const memoryBytes = stackBytes + 4 * s.npos * s.spectrumChannels + probeBytes + 4 * s.npos * s.elements + 48 * s.npos + stateBytes;
  // result.h5 and one checkpoint: object (complex), maps and probe, each float32
  const outputBytes = 2 * (4 * objectPixels * (2 + s.elements) + probeBytes);
  return { stackBytes, memoryBytes, scratchBytes: s.fileBytes + outputBytes };
}

/** Bytes for people: "12 GiB", "1.5 MiB", "640 bytes". */
export function bytesText(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let v = n, u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${n} bytes`;
  return `${Number.isInteger(v) ? v : Number(v.toPrecision(3))} ${units[u]}`;
}
