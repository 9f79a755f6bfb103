/**
 * The in-memory model of a combined ptychography + XRF scan (DESIGN.md "Scan file").
 *
 * Conventions: arrays are row-major (y, x); positions are (y, x) pairs in metres, flattened to
 * [Npos * 2]; complex arrays are interleaved re/im Float32Array.
 */

/** Element types a diffraction stack may be stored as. Never widened to float64. */
export type DiffractionArray = Float32Array | Uint16Array | Uint32Array;
export type DiffractionDtype = "float32" | "uint16" | "uint32";

/** Per-element physical coefficients carried with the scan (exponential link and XRF model). */
export interface ElementInfo {
  /** Chemical symbol, e.g. "Fe". */
  symbol: string;
  /** XRF sensitivity s_e (counts per unit areal density per unit probe intensity). Default 1. */
  sensitivity?: number;
  /** Refractive coefficients per unit areal density at the beam energy: n = 1 - delta + i beta. */
  beta?: number;
  delta?: number;
}

export interface ScanMetadata {
  energy_keV: number;
  detector_distance_m: number;
  detector_pixel_size_m: number;
  /** Refractive coefficients of the non-fluorescing matrix, per unit areal density. */
  matrix_beta?: number;
  matrix_delta?: number;
  sample?: string;
  beamline?: string;
  /** Free-form provenance, e.g. "ptyxrf simulate --preset paper --seed 1". */
  source?: string;
}

/** Complex probe modes: K modes of N x N, interleaved complex, length 2 * K * N * N. */
export interface ProbeModes {
  modes: number;
  n: number;
  data: Float32Array;
}

export interface XrfData {
  elements: ElementInfo[];
  /** One map per element symbol, always flattened per position: length Npos. */
  maps: Record<string, Float32Array>;
  /** Set when the maps were stored as [Ny, Nx] raster images (Ny * Nx = Npos, raster order). */
  raster?: [number, number];
  /** Optional raw spectra [Npos, Nchannels]. */
  spectra?: { channels: number; data: Float32Array };
}

/** Header of a scan: everything but the diffraction counts. */
export interface ScanHeader {
  metadata: ScanMetadata;
  npos: number;
  /** Detector frame size (square frames): frameSize x frameSize. */
  frameSize: number;
  /** (y, x) in metres, length 2 * npos. */
  positions: Float64Array;
  xrf: XrfData;
  probeGuess?: ProbeModes;
}

/** A scan held in memory. */
export interface Scan extends ScanHeader {
  /** [npos, frameSize, frameSize] counts, row-major. */
  diffraction: DiffractionArray;
}

/** Produces diffraction frames in blocks, so that large scans are written without holding them whole. */
export interface FrameSource {
  dtype: DiffractionDtype;
  /** Frames [start, start + count) as one contiguous array of count * frameSize^2 values. */
  frames(start: number, count: number): DiffractionArray;
}

/** Ground truth of a simulated scan. */
export interface Truth {
  /** Complex object H x W, interleaved. */
  object: { height: number; width: number; data: Float32Array };
  probe: ProbeModes;
  /** Element maps on the object grid (H x W each). */
  elementMaps: Record<string, Float32Array>;
  /** Non-fluorescing matrix map on the object grid (H x W). */
  matrix: Float32Array;
  /** Exact positions, metres, (y, x), length 2 * npos. */
  positions_m: Float64Array;
  /** Exact positions in object pixels of the window's top-left corner, (y, x), length 2 * npos. */
  positions_px: Float64Array;
  /** Object pixel size in metres. */
  pixelSize_m: number;
  link: LinkSpec;
  /** Free-form description of how it was made (preset, seed, noise...). */
  provenance: Record<string, string | number>;
}

/** How element maps (and free maps) become the complex object (DESIGN.md "Link"). */
export type LinkSpec =
  | { type: "linear"; /** a_e per element, default 1 */ weights: Record<string, number> }
  | {
      type: "exponential";
      /** wavenumber k = 2 pi / lambda, 1/m */
      k: number;
      coefficients: Record<string, { beta: number; delta: number }>;
      matrix: { beta: number; delta: number };
    };
