/**
 * Channel names of fitted XRF maps (XRF-Maps / MAPS `Channel_Names`, PyMca, ...) to elements.
 *
 * Element channels: "Fe", "Fe_K", "Fe_Ka", "Pb_L", "Au_M", "Ca K", "Ca-K" -> symbol + line (K when none is
 * given: MAPS names K lines by the bare symbol). Fit by-products (scatter, totals, fit diagnostics) are
 * skipped with a reason; anything else is unknown and the adapter reports it.
 */
import { CHEMICAL_SYMBOLS } from "../elements.js";

export type Line = "K" | "L" | "M";

export type ChannelKind =
  | { kind: "element"; symbol: string; line: Line }
  | { kind: "skip"; reason: string }
  | { kind: "unknown" };

/** Non-element channels MAPS / XRF-Maps write next to the elements (lower-cased, separators removed). */
const NON_ELEMENT: Record<string, string> = {
  compton: "scatter", elastic: "scatter", coherent: "scatter", incoherent: "scatter", scatter: "scatter",
  comptonamplitude: "scatter", coherentscatteramplitude: "scatter", sumelasticinelastic: "scatter",
  si: "scatter (MAPS s_i)", se: "scatter (MAPS s_e)", sa: "scatter (MAPS s_a)",
  numiter: "fit diagnostic", fitresidual: "fit diagnostic", residual: "fit diagnostic", chisquare: "fit diagnostic",
  totalfluorescenceyield: "total", tfy: "total", sum: "total", total: "total", totalcounts: "total",
  background: "background", bkgnd: "background", bkg: "background",
  escape: "detector artefact", pileup: "detector artefact", pileup2: "detector artefact",
  deadtime: "detector", icr: "detector", ocr: "detector", elt: "detector", ert: "detector",
};

export const NON_ELEMENT_EXAMPLES = "Compton, Elastic, Num_Iter, Total_Fluorescence_Yield, Sum, Background";

export function classifyChannel(raw: string): ChannelKind {
  const name = raw.trim();
  // MAPS' scatter channels s_i, s_e, s_a would otherwise read as the element S with a line
  const squashed = name.toLowerCase().replace(/[\s_\-.]/g, "");
  if (/^s_[iea]$/i.test(name) || (NON_ELEMENT[squashed] !== undefined && !/^[A-Z][a-z]?$/.test(name))) {
    return { kind: "skip", reason: NON_ELEMENT[squashed] ?? "scatter" };
  }
  const m = /^([A-Za-z][a-z]?)(?:[\s_\-]+([KLMklm])(?:[ab]\d?|\d)?)?$/.exec(name);
  if (m) {
    const symbol = m[1][0].toUpperCase() + m[1].slice(1).toLowerCase();
    if (CHEMICAL_SYMBOLS.has(symbol) && (m[1][0] === m[1][0].toUpperCase() || m[2])) {
      return { kind: "element", symbol, line: (m[2]?.toUpperCase() ?? "K") as Line };
    }
  }
  return { kind: "unknown" };
}

/**
 * Map names for a list of element channels: the bare symbol when the element appears once ("Fe"), the
 * symbol with its line when it appears with several lines ("Pb_L", "Pb_M"). Duplicates throw at the caller.
 */
export function mapNames(channels: { symbol: string; line: Line }[]): string[] {
  const count = new Map<string, number>();
  for (const c of channels) count.set(c.symbol, (count.get(c.symbol) ?? 0) + 1);
  return channels.map((c) => (count.get(c.symbol)! > 1 ? `${c.symbol}_${c.line}` : c.symbol));
}
