/** Number formatting for people: lengths with SI prefixes, byte sizes, aligned tables. */

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

/** Left-aligned two-column "key  value" lines. */
export function keyValues(rows: [string, string][]): string {
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join("\n");
}

/** A plain text table with a header row; columns of numbers (or "-") right-aligned, text left-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const numeric = header.map((_, i) => i > 0 && rows.length > 0 && rows.every((r) => /^(-?|[-+]?\.?\d.*)$/.test(r[i] ?? "")));
  const line = (r: string[]) => r.map((c, i) => (numeric[i] ? (c ?? "").padStart(widths[i]) : (c ?? "").padEnd(widths[i]))).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
