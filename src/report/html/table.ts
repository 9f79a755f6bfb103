/** HTML tables for the reports: plain rows of cells, key-value lists, flattened JSON objects. */
import { esc } from "./escape.js";
import { fmt } from "./format.js";

/** A table cell: text (escaped), a number (formatted, right-aligned) or raw HTML. */
export type Cell = string | number | null | undefined | { html: string; className?: string };

function cellHtml(c: Cell, tag: "td" | "th"): string {
  if (c !== null && typeof c === "object") return `<${tag}${c.className ? ` class="${esc(c.className)}"` : ""}>${c.html}</${tag}>`;
  if (typeof c === "number") return `<${tag} class="num">${esc(fmt(c))}</${tag}>`;
  return `<${tag}>${c === null || c === undefined ? "" : esc(c)}</${tag}>`;
}

export interface TableOptions {
  className?: string;
  /** CSS class per body row (e.g. "best", "failed"), by row index. */
  rowClass?: (row: number) => string | undefined;
  caption?: string;
}

export function htmlTable(header: Cell[], rows: Cell[][], o: TableOptions = {}): string {
  const head = `<thead><tr>${header.map((h) => cellHtml(h, "th")).join("")}</tr></thead>`;
  const body = rows.map((r, i) => {
    const cls = o.rowClass?.(i);
    return `<tr${cls ? ` class="${esc(cls)}"` : ""}>${r.map((c) => cellHtml(c, "td")).join("")}</tr>`;
  }).join("\n");
  const caption = o.caption ? `<caption>${esc(o.caption)}</caption>` : "";
  return `<div class="table-wrap"><table class="${esc(o.className ?? "data")}">${caption}${head}<tbody>\n${body}\n</tbody></table></div>`;
}

/** Two-column key / value table. */
export function keyValueTable(rows: Array<[string, Cell]>, className = "kv"): string {
  return `<table class="${esc(className)}"><tbody>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th>${cellHtml(v, "td")}</tr>`).join("")}</tbody></table>`;
}

/**
 * Leaves of a JSON-like value with dotted keys: { a: { b: 1 }, c: [1, 2] } -> [["a.b", 1], ["c", [1, 2]]]
 * (arrays are leaves).
 */
export function flatten(value: unknown, prefix = ""): Array<[string, unknown]> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return [[prefix || "(value)", value]];
  const out: Array<[string, unknown]> = [];
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length) out.push(...flatten(v, key));
    else out.push([key, v]);
  }
  return out;
}

/** A leaf value as display text: strings as they are, the rest as JSON (numbers formatted). */
export function leafText(v: unknown): string {
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "—";
  if (typeof v === "string") return v === "" ? '""' : v;
  return JSON.stringify(v) ?? String(v);
}
