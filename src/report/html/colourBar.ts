/**
 * Vertical colour bars as inline SVG: a gradient sampled from a colour function (a LUT, or the overlay's grey ->
 * element colour blend), a frame, round tick values inside the range (1-2-5 steps, ticks.ts: the same ticks as
 * the PNG previews) and the quantity with its unit along the bar.
 */
import type { Rgb } from "../colormap.js";
import { niceTicks } from "../ticks.js";
import { esc } from "./escape.js";

let gradientCounter = 0;

const hex = (c: Rgb) => `#${c.map((v) => Math.max(0, Math.min(255, Math.round(v))).toString(16).padStart(2, "0")).join("")}`;

export interface ColourBarOptions {
  /** Height in CSS pixels (match the image's). */
  height: number;
  /** Value range [low, high] at the bottom and top. */
  range: [number, number];
  /** Colour at t in [0, 1] (0 = bottom). */
  colour: (t: number) => Rgb;
  /** Unit or quantity written along the bar (e.g. "rad"). */
  label?: string;
  /** Gradient stops (default 32). */
  stops?: number;
}

/** The SVG of a vertical colour bar with round ticks inside its range. */
export function colourBarSvg(o: ColourBarOptions): string {
  const id = `cb${++gradientCounter}`;
  const n = Math.max(2, o.stops ?? 32);
  const stops = Array.from({ length: n }, (_, i) => {
    const t = i / (n - 1);
    // SVG gradient offsets run top (0) to bottom (1); the bar's top is the high end
    return `<stop offset="${(1 - t).toFixed(4)}" stop-color="${hex(o.colour(t))}"/>`;
  }).reverse().join("");
  const [lo, hi] = o.range;
  const H = Math.max(40, Math.round(o.height));
  const barW = 14, pad = 6;
  const tk = niceTicks(lo, hi, Math.max(2, Math.min(8, Math.floor(H / 40))));
  const labels = tk.labels;
  const ticks: Array<[number, number]> = tk.values.map((v) => [hi > lo ? (v - lo) / (hi - lo) : 0.5, v]);
  const textW = Math.max(1, ...labels.map((l) => l.length)) * 6.3 + 6;
  const W = Math.ceil(barW + 4 + textW + (o.label ? 16 : 0));
  const y = (t: number) => pad + (1 - t) * (H - 2 * pad);
  const tickSvg = ticks.map(([t], i) =>
    `<line x1="${barW}" x2="${barW + 4}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" class="cb-tick"/>` +
    `<text x="${barW + 6}" y="${(y(t) + 3.5).toFixed(1)}" class="tick">${esc(labels[i])}</text>`).join("");
  const label = o.label
    ? `<text transform="translate(${W - 3} ${(H / 2).toFixed(1)}) rotate(-90)" text-anchor="middle" class="axis-label">${esc(o.label)}</text>`
    : "";
  return `<svg class="colourbar" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="colour bar${o.label ? ` of ${esc(o.label)}` : ""}, ticks ${esc(labels.join(", "))}">` +
    `<defs><linearGradient id="${id}" x1="0" y1="0" x2="0" y2="1">${stops}</linearGradient></defs>` +
    `<rect x="0.5" y="${pad}" width="${barW - 1}" height="${H - 2 * pad}" fill="url(#${id})" class="cb-frame"/>${tickSvg}${label}</svg>`;
}
