/**
 * The page shell shared by the run report and the sweep summary: one self-contained HTML document (inline CSS,
 * no scripts, no external URLs) with a header band, a section index and the sections.
 */
import { esc } from "./escape.js";

export interface PageSection {
  /** Anchor id (letters, digits, "-"). */
  id: string;
  title: string;
  html: string;
}

export interface PageInput {
  title: string;
  /** Small text above the title (e.g. "ptyxrf run report"). */
  kicker?: string;
  /** Facts under the title, as label -> value (escaped). */
  facts?: Array<[string, string]>;
  sections: PageSection[];
  footer?: string;
}

const CSS = `
:root { --fg: #1d2330; --muted: #5b6475; --line: #dfe3ea; --bg: #f4f6f9; --card: #fff; --accent: #2f5d9e; --good: #e5f4e8; --bad: #fbe9e9; --best: #1f7a3a; }
* { box-sizing: border-box; }
html { background: var(--bg); }
body { margin: 0; color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
header.top { background: #1f2a3c; color: #fff; padding: 22px 32px 18px; }
header.top .kicker { text-transform: uppercase; letter-spacing: .08em; font-size: 11px; color: #9fb3d1; }
header.top h1 { margin: 2px 0 10px; font-size: 24px; font-weight: 600; word-break: break-all; }
header.top dl { display: flex; flex-wrap: wrap; gap: 6px 26px; margin: 0; }
header.top dl div { display: flex; flex-direction: column; }
header.top dt { font-size: 11px; color: #9fb3d1; }
header.top dd { margin: 0; font-size: 14px; font-variant-numeric: tabular-nums; }
nav.toc { position: sticky; top: 0; z-index: 2; background: #ffffffee; border-bottom: 1px solid var(--line); padding: 8px 32px; display: flex; flex-wrap: wrap; gap: 4px 18px; font-size: 13px; }
nav.toc a { color: var(--accent); text-decoration: none; }
main { padding: 18px 32px 28px; max-width: 1500px; }
section.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 18px 16px; margin: 0 0 18px; }
section.card > h2 { margin: 0 0 12px; font-size: 17px; font-weight: 600; }
h3 { font-size: 14px; margin: 14px 0 8px; }
p.note { color: var(--muted); margin: 4px 0 10px; font-size: 13px; }
.warn { background: #fff6e0; border: 1px solid #f0d48a; border-radius: 6px; padding: 6px 10px; margin: 6px 0; font-size: 13px; }
.tiles { display: flex; flex-wrap: wrap; gap: 10px; }
.tile { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 130px; background: #fafbfd; }
.tile .v { font-size: 19px; font-weight: 600; font-variant-numeric: tabular-nums; }
.tile .k { font-size: 12px; color: var(--muted); }
.figures { display: flex; flex-wrap: wrap; gap: 18px 22px; align-items: flex-start; }
figure.map { margin: 0; }
figure.map figcaption { font-size: 13px; font-weight: 600; margin: 0 0 4px; }
figure.map figcaption span { font-weight: 400; color: var(--muted); }
.map-row { display: flex; align-items: flex-start; gap: 6px; }
.map-img { position: relative; line-height: 0; border: 1px solid #b9c0cc; }
.map-img img { display: block; image-rendering: pixelated; }
.map-img svg.outline { position: absolute; left: 0; top: 0; width: 100%; height: 100%; }
.scalebar { position: absolute; left: 10px; bottom: 9px; height: 4px; background: #000; outline: 2px solid #fff; }
.scalebar span { position: absolute; left: 0; bottom: 8px; font-size: 12px; line-height: 1; color: #1d2330; white-space: nowrap; font-weight: 600; background: #ffffffeb; padding: 2px 4px; border-radius: 2px; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
svg.plot { max-width: 100%; height: auto; background: #fff; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; fill: #1d2330; }
svg .tick { font-size: 11px; fill: #4a5263; }
svg .title { font-size: 13px; font-weight: 600; }
svg .subtitle { font-size: 12px; fill: #4a5263; }
svg .axis-label { font-size: 11.5px; fill: #4a5263; }
svg .legend { font-size: 11.5px; }
svg .nodata { font-size: 13px; fill: #8a93a3; }
svg .grid { stroke: #e8ebf0; stroke-width: 1; }
svg .plot-bg { fill: #fff; }
svg .plot-frame { fill: none; stroke: #9aa3b2; stroke-width: 1; }
svg .highlight { fill: none; stroke: var(--best); stroke-width: 2; }
svg .cb-frame { stroke: #555; stroke-width: 1; }
svg .cb-tick { stroke: #555; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
table.data th, table.data td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
table.data thead th { background: #f0f2f6; font-weight: 600; position: sticky; top: 0; }
table.data td.num, table.data th.num { text-align: right; }
table.data tr.best td { background: var(--good); font-weight: 600; }
table.data tr.failed td { background: var(--bad); }
table.data tr.total td { font-weight: 600; border-top: 2px solid #c9ced8; }
table.data caption { text-align: left; font-weight: 600; padding: 4px 0; }
table.data.compact { font-size: 12.5px; }
table.data.compact th, table.data.compact td { padding: 3px 6px; }
table.data.compact thead th { vertical-align: bottom; }
table.kv th { text-align: left; font-weight: 500; color: var(--muted); padding: 2px 14px 2px 0; vertical-align: top; white-space: nowrap; }
table.kv td { padding: 2px 0; word-break: break-all; }
table.kv td.num { text-align: left; }
.cols { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 0 24px; align-items: start; }
.cols > table { justify-self: start; }
.changed { font-weight: 700; color: #8a3b00; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 10px; overflow-x: auto; margin: 6px 0; white-space: pre-wrap; word-break: break-word; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: baseline; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; font-weight: 600; }
.badge.ok { background: var(--good); color: var(--best); }
.badge.bad { background: var(--bad); color: #a1262d; }
.badge.miss { background: #eceff3; color: #5b6475; }
img.thumb { display: block; width: 56px; height: 56px; object-fit: contain; image-rendering: pixelated; border: 1px solid var(--line); }
footer { color: var(--muted); font-size: 12px; padding: 0 32px 24px; }
@media print { nav.toc { display: none; } section.card { break-inside: avoid; } }
`;

/** The whole HTML document. */
export function renderPage(p: PageInput): string {
  const facts = p.facts?.length
    ? `<dl>${p.facts.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`).join("")}</dl>`
    : "";
  const toc = p.sections.length > 1 ? `<nav class="toc">${p.sections.map((s) => `<a href="#${esc(s.id)}">${esc(s.title)}</a>`).join("")}</nav>` : "";
  const sections = p.sections.map((s) => `<section class="card" id="${esc(s.id)}">\n<h2>${esc(s.title)}</h2>\n${s.html}\n</section>`).join("\n");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>${esc(p.title)}</title>
<style>${CSS}</style>
</head>
<body>
<header class="top">${p.kicker ? `<div class="kicker">${esc(p.kicker)}</div>` : ""}<h1>${esc(p.title)}</h1>${facts}</header>
${toc}
<main>
${sections}
</main>
${p.footer ? `<footer>${p.footer}</footer>` : ""}
</body>
</html>
`;
}

/** An image as a data: URI. */
export function pngDataUri(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString("base64")}`;
}
