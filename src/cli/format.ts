/** Number formatting for people: lengths with SI prefixes, byte sizes, aligned tables. */
import { unitLabel } from "../scan/units.js";

export function formatLength(m: number): string {
  const a = Math.abs(m);
  if (a === 0) return "0 m";
  if (a < 1e-6) return `${(m * 1e9).toPrecision(3)} nm`;
  if (a < 1e-3) return `${(m * 1e6).toPrecision(3)} µm`;
  if (a < 1) return `${(m * 1e3).toPrecision(3)} mm`;
  return `${m.toPrecision(3)} m`;
}

export function formatBytes(b: number): string {
  if (b < 1024) return `${b} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = b / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function formatNumber(x: number): string {
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1e6 || a < 1e-3) return x.toExponential(3).replace(/\.?0+e/, "e");
  return String(Number(x.toPrecision(4)));
}

/** "pixel 51.7 nm, maps in µg/cm², phase in rad": the object grid and the units of a run's maps (metrics.json). */
export function gridSummary(m: { pixel_size_m: number; units: Record<string, string>; mode: string }): string {
  const maps = m.units.element_maps === "1" ? "element maps in object units (linear link)" : `element maps in ${unitLabel(m.units.element_maps)} (areal density)`;
  return `pixel ${formatLength(m.pixel_size_m)}${m.mode === "ptycho" ? "" : `, ${maps}`}${m.mode === "xrf" ? "" : ", phase in rad"}`;
}

/** Left-aligned two-column "key  value" lines; a value's further lines are indented to its column. */
export function keyValues(rows: [string, string][]): string {
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v.split("\n").join(`\n${" ".repeat(w + 4)}`)}`).join("\n");
}

/** A plain text table with a header row; columns of numbers (or "-") right-aligned, text left-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const numeric = header.map((_, i) => i > 0 && rows.length > 0 && rows.every((r) => /^(-?|[-+]?\.?\d.*)$/.test(r[i] ?? "")));
  const line = (r: string[]) => r.map((c, i) => (numeric[i] ? (c ?? "").padStart(widths[i]) : (c ?? "").padEnd(widths[i]))).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
