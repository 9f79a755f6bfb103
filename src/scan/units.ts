/**
 * The physical units of what ptyxrf reads and writes, in one place (docs/units.md): the `units` attribute of
 * every dataset in result.h5 and truth.h5, the labels of the report, previews and CLI summaries, and the unit
 * fields of metrics.json all come from here.
 *
 * Element maps: the link's coefficients fix their unit. The scan layout gives each element's `sensitivity`
 * in XRF counts per incident photon per µg/cm² and its `beta`, `delta` per µg/cm² (docs/units.md), so under
 * the exponential link, and in XRF-only reconstructions, a map is an areal density in µg/cm². Under the
 * linear link (O = sum_e a_e c_e + i y) the maps are in units of the object's real part: dimensionless.
 */
import type { LinkSpec } from "./model.js";

export interface Unit {
  /** As stored in HDF5 `units` attributes and metrics.json (ASCII, UDUNITS-like). */
  units: string;
  /** As shown to people after a number (report, previews, CLI). Empty for dimensionless quantities. */
  label: string;
  /** What the quantity is measured in, in words, for axis and colour-bar titles ("areal density", ...). */
  quantity: string;
}

export const AREAL_DENSITY: Unit = { units: "ug/cm^2", label: "µg/cm²", quantity: "areal density" };
export const PHASE: Unit = { units: "rad", label: "rad", quantity: "phase" };
export const AMPLITUDE: Unit = { units: "1", label: "", quantity: "amplitude (transmission)" };
export const LENGTH: Unit = { units: "m", label: "m", quantity: "length" };
export const COUNTS: Unit = { units: "counts", label: "counts", quantity: "photon counts" };
/** Probe modes: |P|^2 summed over pixels and modes is the photons per frame. */
export const PROBE: Unit = { units: "sqrt(photons)", label: "√photons", quantity: "probe field (re, im)" };
/** Linear-link maps: O = sum_e a_e c_e + i y, so the maps are in units of the object's real part. */
export const OBJECT_UNITS: Unit = { units: "1", label: "", quantity: "object units (linear link)" };

/** The unit of the element maps (and of the exponential link's matrix map) of a reconstruction with `link`. */
export function elementMapUnit(link: LinkSpec | null): Unit {
  return link?.type === "linear" ? OBJECT_UNITS : AREAL_DENSITY;
}

/** The unit of the free map: the matrix areal density under the exponential link, the object's imaginary part under the linear one. */
export function freeMapUnit(link: LinkSpec | null): Unit {
  return link?.type === "linear" ? OBJECT_UNITS : AREAL_DENSITY;
}

/** "12.5 µg/cm²", "0.42 rad", "0.98" (dimensionless): a value with its unit label. */
export function withUnit(value: string, unit: Unit): string {
  return unit.label ? `${value} ${unit.label}` : value;
}

const KNOWN: Unit[] = [AREAL_DENSITY, PHASE, LENGTH, COUNTS, PROBE];

/** The label for an ASCII `units` string as stored (e.g. read back from metrics.json): "ug/cm^2" -> "µg/cm²". */
export function unitLabel(units: string): string {
  return KNOWN.find((u) => u.units === units)?.label ?? (units === "1" ? "" : units);
}
