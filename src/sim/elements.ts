/**
 * Physical constants of the simulated elements and matrix at the simulator's beam energy (10 keV), per unit
 * areal density in ug/cm^2 (the unit of the simulated maps under the exponential link):
 *
 *   delta per ug/cm^2 = r_e lambda^2 N_A (f1 / A) / (2 pi) * 0.01 g/m^2       (f1 ~ Z: anomalous dispersion ignored)
 *   beta  per ug/cm^2 = (mu/rho) lambda / (4 pi) * 0.01 g/m^2                  (mu/rho: total attenuation, approx. NIST XCOM)
 *   XRF sensitivity   = (mu/rho) * 1e-6 g/cm^2 * 0.87 (K-shell share) * omega_K * 0.1 (detector solid angle / 4 pi)
 *                       counts per incident photon per ug/cm^2
 *
 * With these, 1000 ug/cm^2 (about 1.3 um of Fe or 8 um of organic matter) shifts the phase by about 1 rad.
 */
import { wavelength_m } from "../physics/geometry.js";

export const SIM_ENERGY_KEV = 10;

interface Material {
  /** Electrons per gram-atom: Z / A (mol/g), for the refractive decrement. */
  zOverA: number;
  /** Mass attenuation coefficient at 10 keV, cm^2/g (approximate). */
  muRho: number;
  /** K-shell fluorescence yield (elements only). */
  omegaK?: number;
  /** Peak areal density of the phantom, ug/cm^2. */
  peak_ugcm2: number;
}

const ELEMENTS: Record<string, Material> = {
  Ca: { zOverA: 20 / 40.078, muRho: 160, omegaK: 0.163, peak_ugcm2: 200 },
  Mn: { zOverA: 25 / 54.938, muRho: 158, omegaK: 0.314, peak_ugcm2: 150 },
  Fe: { zOverA: 26 / 55.845, muRho: 170.6, omegaK: 0.347, peak_ugcm2: 300 },
  Ni: { zOverA: 28 / 58.693, muRho: 209, omegaK: 0.414, peak_ugcm2: 150 },
  Cu: { zOverA: 29 / 63.546, muRho: 215.9, omegaK: 0.445, peak_ugcm2: 150 },
  Zn: { zOverA: 30 / 65.38, muRho: 233.1, omegaK: 0.479, peak_ugcm2: 200 },
};

/** Organic matrix (PMMA-like, C5H8O2). */
const MATRIX: Material = { zOverA: 0.5394, muRho: 3.36, peak_ugcm2: 600 };

const R_E = 2.8179403262e-15;
const N_A = 6.02214076e23;
/** g/m^2 per ug/cm^2. */
const UG_CM2 = 0.01;

export const SUPPORTED_ELEMENTS = Object.keys(ELEMENTS);

function material(symbol: string): Material {
  const m = ELEMENTS[symbol];
  if (!m) throw new Error(`unsupported element "${symbol}" (supported: ${SUPPORTED_ELEMENTS.join(", ")})`);
  return m;
}

function refractive(m: Material): { beta: number; delta: number } {
  const lambda = wavelength_m(SIM_ENERGY_KEV);
  return {
    delta: ((R_E * lambda * lambda * N_A * m.zOverA) / (2 * Math.PI)) * UG_CM2,
    beta: ((m.muRho * 1e-4 * lambda) / (4 * Math.PI)) * UG_CM2,
  };
}

/** beta, delta per ug/cm^2 (metres per ug/cm^2) of an element at 10 keV. */
export function elementCoefficients(symbol: string): { beta: number; delta: number } {
  return refractive(material(symbol));
}

export function matrixCoefficients(): { beta: number; delta: number } {
  return refractive(MATRIX);
}

/** XRF counts per incident photon per ug/cm^2. */
export function xrfSensitivity(symbol: string): number {
  const m = material(symbol);
  return m.muRho * 1e-6 * 0.87 * (m.omegaK ?? 0) * 0.1;
}

/** Peak areal density (ug/cm^2) of an element's phantom features, or of the matrix for symbol "matrix". */
export function peakDensity(symbol: string): number {
  return symbol === "matrix" ? MATRIX.peak_ugcm2 : material(symbol).peak_ugcm2;
}
