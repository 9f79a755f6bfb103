/**
 * Units of foreign layouts: lengths to metres, energies to keV, wavelengths to energies
 * (E_keV = 12.398419843320026e-10 m / lambda, geometryFacts.ts). Unit names are case-sensitive where
 * case matters (mm vs Mm never appears; "m" is metres), and common spellings are accepted.
 */
import { HC_KEV_M } from "../geometryFacts.js";

const LENGTH: Record<string, number> = {
  m: 1, metre: 1, meter: 1, metres: 1, meters: 1,
  mm: 1e-3, millimetre: 1e-3, millimeter: 1e-3,
  um: 1e-6, "µm": 1e-6, "μm": 1e-6, micron: 1e-6, microns: 1e-6, micrometre: 1e-6, micrometer: 1e-6,
  nm: 1e-9, nanometre: 1e-9, nanometer: 1e-9,
  A: 1e-10, "Å": 1e-10, angstrom: 1e-10, Angstrom: 1e-10, angstroms: 1e-10,
};
const ENERGY: Record<string, number> = { eV: 1e-3, keV: 1, ev: 1e-3, kev: 1, KeV: 1 };

export const LENGTH_UNITS = "m, mm, um, nm, A";
export const ENERGY_UNITS = "eV, keV";

/** Metres per `unit`, or undefined for an unknown unit. */
export function lengthFactor(unit: string): number | undefined {
  return LENGTH[unit.trim()];
}

/** keV per `unit`, or undefined for an unknown unit. */
export function energyFactor(unit: string): number | undefined {
  return ENERGY[unit.trim()];
}

/** The photon energy (keV) of a wavelength in metres. */
export function wavelengthToKeV(lambda_m: number): number {
  return HC_KEV_M / lambda_m;
}

/** "8.5 keV", "2000 mm", "1.2398 A" -> value and unit; null when the text is not "<number> <unit>". */
export function parseQuantity(text: string): { value: number; unit: string } | null {
  const m = /^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\d\s].*?)?\s*$/.exec(text);
  if (!m) return null;
  return { value: Number(m[1]), unit: (m[2] ?? "").trim() };
}
