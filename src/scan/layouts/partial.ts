/**
 * What a layout adapter returns: the parts of a scan one input (or a mapping file) provides, each with
 * where it came from, so that merging several inputs can say which file a value or a conflict came from.
 */
import { ScanFormatError } from "../read.js";
import type { ElementInfo, FrameSource, ProbeModes } from "../model.js";
import { safeText } from "../safeText.js";

export type LayoutName = "canonical" | "maps" | "eiger" | "mapping";
export const LAYOUT_NAMES: readonly LayoutName[] = ["canonical", "maps", "eiger", "mapping"];

/**
 * An input that cannot be adapted. The message names the file, the dataset (or mapping key), what was
 * expected and what was found, in the validator's style: `FILE: /path: expected X, found Y (hint)`.
 * A ScanFormatError, so the CLI answers it with exit code 2.
 */
export class LayoutError extends ScanFormatError {
  constructor(
    readonly file: string,
    readonly where: string,
    readonly expected: string,
    readonly found: string,
    readonly hint?: string,
  ) {
    // names from the files (datasets, links, channel names) are shown escaped (safeText.ts)
    const t = (x: string) => safeText(x, 2000);
    super(`${t(file)}: ${t(where)}: expected ${t(expected)}, found ${t(found)}${hint ? ` (${t(hint)})` : ""}`);
    this.name = "LayoutError";
  }
}

/** A value and where it came from ("FILE:/dataset", "FILE@attribute" or "MAPPING: key"). */
export interface Sourced<T> {
  value: T;
  from: string;
}

export interface PtychoPart {
  npos: number;
  frameSize: number;
  frames: FrameSource;
  from: string;
}

export interface XrfPart {
  elements: ElementInfo[];
  /** One map per element, flattened in raster order (length Npos). */
  maps: Record<string, Float32Array>;
  raster?: [number, number];
  spectra?: { channels: number; data: Float32Array };
  from: string;
}

export interface PositionsPart {
  /** (y, x) metres, length 2 * Npos. */
  data: Float64Array;
  raster?: [number, number];
  from: string;
}

/** Metadata a partial may carry; numbers in the canonical units (keV, metres). */
export interface PartialMetadata {
  energy_keV?: Sourced<number>;
  detector_distance_m?: Sourced<number>;
  detector_pixel_size_m?: Sourced<number>;
  matrix_beta?: Sourced<number>;
  matrix_delta?: Sourced<number>;
  sample?: Sourced<string>;
  beamline?: Sourced<string>;
}

export interface PartialScan {
  /** The input file (or mapping file) this partial was read from. */
  source: string;
  layout: LayoutName;
  ptycho?: PtychoPart;
  xrf?: XrfPart;
  positions?: PositionsPart;
  /** Probe modes to start from (a characterised beamline probe), N x N with N the frame size. */
  probeGuess?: Sourced<ProbeModes>;
  metadata: PartialMetadata;
  /** What the adapter decided or left out, for people (skipped channels, crop, units assumed...). */
  notes: string[];
  /** Releases the files the partial still reads from (diffraction frames are read lazily). */
  close(): void;
}

export function sourced<T>(value: T, from: string): Sourced<T> {
  return { value, from };
}
