/**
 * Paths, dtypes and attribute names of the combined scan layout (DESIGN.md "Scan file"), and of the
 * ground-truth file the simulator writes. One place, so the reader, writer and validator agree.
 *
 * Complex arrays (probe guess, truth object and probe) are stored as float32 with a trailing axis of
 * length 2 holding (real, imaginary): readable as `a[..., 0] + 1j * a[..., 1]` in NumPy.
 */
export const PATHS = {
  diffraction: "/ptychography/diffraction",
  positions: "/ptychography/positions",
  probeGuess: "/ptychography/probe_guess",
  xrfGroup: "/xrf",
  xrfMaps: "/xrf/elemental_maps",
  xrfPositions: "/xrf/positions",
  xrfSpectra: "/xrf/spectra",
  metadata: "/metadata",
} as const;

/** Required attributes; read from /metadata, or from the root if /metadata lacks them. */
export const REQUIRED_ATTRS = ["energy_keV", "detector_distance_m", "detector_pixel_size_m"] as const;
export const OPTIONAL_NUMERIC_ATTRS = ["matrix_beta", "matrix_delta"] as const;
export const OPTIONAL_TEXT_ATTRS = ["sample", "beamline", "source"] as const;
/** Per-element attributes on each /xrf/elemental_maps/<El> dataset. */
export const ELEMENT_ATTRS = ["sensitivity", "beta", "delta"] as const;

export const FORMAT_ATTR = "ptyxrf_format";
export const FORMAT_VERSION = "1";

/** h5wasm dtype strings for the diffraction dtypes the layout accepts. */
export const DIFFRACTION_DTYPES = { float32: "<f", uint16: "<H", uint32: "<I" } as const;

export const TRUTH_PATHS = {
  object: "/object",
  probe: "/probe",
  elementMaps: "/elemental_maps",
  matrix: "/matrix",
  positions_m: "/positions_m",
  positions_px: "/positions_px",
} as const;
