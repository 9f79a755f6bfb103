/**
 * Synthetic joint ptychography + XRF scans with ground truth, deterministic for a seed.
 *
 * Pipeline: probe (probe.ts, normalised to `dose` photons) -> beam diameter -> phantom (phantom.ts) scaled to
 * areal densities (exponential link: ug/cm^2 from elements.ts; linear link: relative units, peak 1) -> object
 * through the link (physics/link.ts; the matrix map is the free map) -> scan positions (scanPattern.ts) ->
 * windows (physics/geometry.ts, sub-pixel shifts on) -> XRF maps = xrfForward(truth) + noise, and diffraction
 * frames = ptychoIntensities(truth) + noise computed lazily per block. Each frame's noise comes from its own
 * stream (seed, frame index), so frames(a, b) is identical however the scan is split into blocks.
 *
 * With `maxPatternPhotons` P the probe is remade, after the positions are known, with the dose that gives the
 * brightest noiseless pattern exactly P photons: pattern j holds sum_u I_j(u) |O(window_j(u))|^2 (Parseval:
 * the orthonormal FFT keeps the exit wave's energy), which is linear in the dose. The returned config carries
 * the implied dose.
 */
import { applyLink } from "../physics/link.js";
import { pixelSize_m, positionsToPixels, wavelength_m, type ScanWindows } from "../physics/geometry.js";
import { ptychoIntensities } from "../physics/ptycho.js";
import { probeIntensity, xrfForward } from "../physics/xrf.js";
import type { DiffractionArray, ElementInfo, FrameSource, LinkSpec, ScanHeader, Truth } from "../scan/model.js";
import { elementCoefficients, matrixCoefficients, peakDensity, xrfSensitivity } from "./elements.js";
import { addNoise, diffractionDtype } from "./noise.js";
import { makePhantom } from "./phantom.js";
import { resolveConfig, type SimConfig, type SimOptions } from "./presets.js";
import { beamDiameter_px, makeProbe } from "./probe.js";
import { Rng } from "./rng.js";
import { scanPattern } from "./scanPattern.js";

export interface SimulatedScan {
  header: ScanHeader;
  frames: FrameSource;
  truth: Truth;
  config: SimConfig;
}

/** Independent random streams of one simulation. */
const STREAM = { phantom: 1, scan: 2, xrf: 3, diffraction: 4 } as const;

/** Photons sum_u I_j(u) |O(window_j(u))|^2 of each noiseless pattern j (I_j the sub-pixel shifted probe intensity). */
export function patternPhotons(object: ArrayLike<number>, probe: ArrayLike<number>, windows: ScanWindows): Float64Array {
  const n = windows.n, nn = n * n, W = windows.width;
  const intensity = new Float64Array(nn);
  const p64 = Float64Array.from(probe);
  const out = new Float64Array(windows.count);
  for (let j = 0; j < windows.count; j++) {
    probeIntensity(p64, n, windows.fy[j], windows.fx[j], intensity);
    let s = 0;
    for (let y = 0; y < n; y++) {
      const row = (windows.iy[j] + y) * W + windows.ix[j];
      for (let x = 0; x < n; x++) {
        const o = 2 * (row + x);
        s += intensity[n * y + x] * (object[o] * object[o] + object[o + 1] * object[o + 1]);
      }
    }
    out[j] = s;
  }
  return out;
}

export function simulate(options: SimOptions = {}): SimulatedScan {
  let cfg = resolveConfig(options);
  const n = cfg.probeSize, H = cfg.objectSize, W = cfg.objectSize;
  const dx = pixelSize_m(cfg.energy_keV, cfg.detectorDistance_m, n, cfg.detectorPixel_m);
  const lambda = wavelength_m(cfg.energy_keV);

  const pupilRadius_px = cfg.probe.pupilRadius_px ?? Math.min(9, n / 4);
  let probe = makeProbe({ ...cfg.probe, n, modes: cfg.probeModes, photons: cfg.dose, pupilRadius_px });
  const intensity = new Float64Array(n * n);
  probeIntensity(probe.data, n, 0, 0, intensity);
  const beam = beamDiameter_px(intensity, n);

  const phantom = makePhantom({ height: H, width: W, elements: cfg.elements, beamDiameter_px: beam }, new Rng(cfg.seed, STREAM.phantom));
  const exponential = cfg.link === "exponential";
  const scale = (map: Float32Array, symbol: string) => (exponential ? map.map((v) => v * peakDensity(symbol)) : map);
  const maps: Record<string, Float32Array> = {};
  for (const el of cfg.elements) maps[el] = scale(phantom.elements[el], el);
  const matrix = scale(phantom.matrix, "matrix");

  const link: LinkSpec = exponential
    ? {
        type: "exponential", k: (2 * Math.PI) / lambda,
        coefficients: Object.fromEntries(cfg.elements.map((el) => [el, elementCoefficients(el)])),
        matrix: matrixCoefficients(),
      }
    : { type: "linear", weights: Object.fromEntries(cfg.elements.map((el) => [el, 1])) };
  const object = applyLink(link, maps, matrix);
  const elements: ElementInfo[] = cfg.elements.map((symbol) =>
    exponential ? { symbol, sensitivity: xrfSensitivity(symbol), ...elementCoefficients(symbol) } : { symbol, sensitivity: 1 });
  const sensitivity = Object.fromEntries(elements.map((e) => [e.symbol, e.sensitivity]));

  const layout = scanPattern(cfg.scan, { height: H, width: W, n, beamDiameter_px: beam }, new Rng(cfg.seed, STREAM.scan));
  const positions = layout.positions_px.map((p) => p * dx);
  const windows = positionsToPixels(positions, dx, { height: H, width: W }, n);
  const npos = layout.npos;

  if (cfg.maxPatternPhotons !== undefined) {
    const brightest = Math.max(...patternPhotons(object, probe.data, windows));
    if (!(brightest > 0)) throw new Error("simulate: every noiseless pattern is empty; cannot scale to maxPatternPhotons");
    const dose = (cfg.dose * cfg.maxPatternPhotons) / brightest;
    if (!(dose > 0 && dose < 2 ** 32)) throw new Error(`simulate: maxPatternPhotons ${cfg.maxPatternPhotons} implies a dose of ${dose} photons, outside (0, 2^32)`);
    cfg = { ...cfg, dose };
    probe = makeProbe({ ...cfg.probe, n, modes: cfg.probeModes, photons: dose, pupilRadius_px });
  }

  const xrfMaps: Record<string, Float32Array> = {};
  for (const el of cfg.elements) xrfMaps[el] = new Float32Array(npos);
  xrfForward(maps, sensitivity, probe.data, windows, 0, npos, xrfMaps);
  cfg.elements.forEach((el, e) => addNoise(xrfMaps[el], cfg.noise, new Rng(cfg.seed, STREAM.xrf, e), xrfMaps[el]));

  const dtype = diffractionDtype(cfg.noise.kind);
  const frames: FrameSource = {
    dtype,
    frames(start: number, count: number): DiffractionArray {
      if (!(Number.isInteger(start) && Number.isInteger(count) && start >= 0 && count >= 0 && start + count <= npos)) {
        throw new Error(`frames [${start}, ${start + count}) outside the scan's ${npos} positions`);
      }
      const nn = n * n;
      const model = new Float32Array(count * nn);
      ptychoIntensities(object, probe.data, windows, start, count, model);
      const out = dtype === "uint32" ? new Uint32Array(count * nn) : model;
      for (let i = 0; i < count; i++) {
        const rng = new Rng(cfg.seed, STREAM.diffraction, start + i);
        addNoise(model.subarray(i * nn, (i + 1) * nn), cfg.noise, rng, out.subarray(i * nn, (i + 1) * nn));
      }
      return out;
    },
  };

  const na = (pupilRadius_px * lambda) / (n * dx);
  const describe = `preset=${cfg.preset} seed=${cfg.seed}`;
  const header: ScanHeader = {
    metadata: {
      energy_keV: cfg.energy_keV,
      detector_distance_m: cfg.detectorDistance_m,
      detector_pixel_size_m: cfg.detectorPixel_m,
      ...(exponential ? { matrix_beta: matrixCoefficients().beta, matrix_delta: matrixCoefficients().delta } : {}),
      sample: `synthetic cell-like phantom with ${cfg.elements.join(", ")} features`,
      source: `ptyxrf simulator (${describe})`,
    },
    npos,
    frameSize: n,
    positions,
    xrf: { elements, maps: xrfMaps, ...(layout.raster ? { raster: layout.raster } : {}) },
    ...(cfg.probeGuess ? { probeGuess: { ...probe, data: Float32Array.from(probe.data) } } : {}),
  };
  const truth: Truth = {
    object: { height: H, width: W, data: object },
    probe,
    elementMaps: maps,
    matrix,
    positions_m: positions,
    positions_px: windows.corner,
    pixelSize_m: dx,
    link,
    provenance: {
      preset: cfg.preset,
      seed: cfg.seed,
      units: exponential ? "ug/cm^2" : "relative",
      noise: cfg.noise.kind,
      noiseLevel: cfg.noise.kind === "gaussian" ? cfg.noise.level : 0,
      dose_photons: cfg.dose,
      ...(cfg.maxPatternPhotons !== undefined ? { max_pattern_photons: cfg.maxPatternPhotons } : {}),
      pattern: cfg.scan.pattern,
      npos,
      overlap: layout.overlap,
      step_y_px: layout.step_px[0],
      step_x_px: layout.step_px[1],
      jitter_px: cfg.scan.jitter_px ?? 0,
      beamDiameter_px: beam,
      probeModes: cfg.probeModes,
      pupilRadius_px,
      centralStop: cfg.probe.centralStop,
      defocusWaves: cfg.probe.defocusWaves,
      numericalAperture: na,
      defocus_m: (2 * cfg.probe.defocusWaves * lambda) / (na * na),
    },
  };
  return { header, frames, truth, config: cfg };
}
