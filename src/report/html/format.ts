/** Number and length formatting for the HTML reports (people read these, so short and unit-aware). */

/** A number in at most 4 significant digits, exponent form for very small/large values; "—" for non-finite. */
export function fmt(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "—";
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1e6 || a < 1e-3) return x.toExponential(2).replace(/\.?0+e/, "e").replace("e+", "e");
  return String(Number(x.toPrecision(4)));
}

/** A length in metres with an SI prefix (nm, µm, mm), up to 3 significant digits: 5e-7 -> "500 nm". */
export function fmtLength(m: number): string {
  if (!Number.isFinite(m)) return "—";
  const a = Math.abs(m);
  const [f, unit] = a === 0 ? [1, "m"] : a < 1e-6 ? [1e9, "nm"] : a < 1e-3 ? [1e6, "µm"] : a < 1 ? [1e3, "mm"] : [1, "m"];
  return `${Number((m * f).toPrecision(3))} ${unit}`;
}

/** Seconds as "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min". */
export function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return "—";
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${Number(s.toPrecision(3))} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.round((s % 3600) / 60)).padStart(2, "0")} min`;
}
