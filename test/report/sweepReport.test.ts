import { describe, expect, it } from "vitest";
import { renderSweepReport } from "../../src/report/sweepReport.js";
import { syntheticSweep } from "./sweepFixture.js";

/** Body rows of the table that follows a heading containing `label`. */
function rowsAfter(html: string, label: string): string[] {
  const start = html.indexOf(`<h3>${label} `);
  const table = html.slice(start, html.indexOf("</table>", start));
  return [...table.matchAll(/<tr( class="[^"]*")?>(.*?)<\/tr>/gs)].map((m) => m[0]).slice(1);
}

describe("renderSweepReport", () => {
  const s = syntheticSweep();
  const html = renderSweepReport(s);

  it("ranks each scan's tasks, best first and highlighted, failed ones last", () => {
    const rows = rowsAfter(html, "cell-A");
    expect(rows).toHaveLength(6);
    expect(rows[0]).toMatch(/^<tr class="best">/);
    expect(rows[0]).toContain(">t002</a>");
    expect(rows[5]).toMatch(/^<tr class="failed">/);
    expect(rows[5]).toContain(">t004</a>");
    const ranks = rows.slice(0, 5).map((r) => Number(/<td class="num">(\d+)<\/td>/.exec(r)![1]));
    expect(ranks).toEqual([1, 2, 3, 4, 5]);
    expect(html.match(/<tr class="best">/g)).toHaveLength(2); // one per scan
  });

  it("lists failed and missing tasks with their errors, escaped", () => {
    expect(html).toContain("Failed and missing tasks (2)");
    expect(html).toContain("worker exited 137: out of memory &lt;GPU&gt;");
    expect(html).toContain("no manifest.json after 3 attempts");
    expect(html).not.toContain("<GPU>");
  });

  it("plots the rank metric against each varied parameter, numeric and categorical", () => {
    expect(html).toContain("object_rel_error vs rates.maps");
    expect(html).toContain("object_rel_error vs noise.ptycho");
    expect(html).toContain(">poisson</text>");
    expect(html.match(/class="highlight"/g)!.length).toBe(4); // each scan's best, in both plots
  });

  it("embeds thumbnails and links reports, shows the spec and provenance, and fetches nothing", () => {
    expect(html.match(/<img class="thumb" src="data:image\/png;base64,/g)).toHaveLength(10);
    expect(html).toContain('href="t002/report.html"');
    expect(html).toContain("&quot;rates.maps&quot;: [");
    expect(html).toContain("local");
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toContain("<script");
  });

  it("keeps the table narrow: long names may wrap, and results equal in every task are stated once", () => {
    expect(html).toContain("object_<wbr>rel_<wbr>error ↓");
    expect(html).toContain("rates.<wbr>maps");
    expect(html).toContain("Zn_<wbr>rel_<wbr>error");
    // every task ran 200 iterations: not a column, a note
    expect(html).toContain("so not in the tables: <code>iterations = 200</code>");
    const head = html.slice(html.indexOf("<thead>"), html.indexOf("</thead>"));
    expect(head).not.toContain("iterations");
    expect(html).toContain('<table class="data compact">');
  });

  it("renders a sweep where nothing succeeded or nothing varies", () => {
    const none = renderSweepReport({ ...s, tasks: s.tasks.slice(0, 1).map((t) => ({ ...t, status: "failed", rank: undefined, metrics: {}, error: "boom" })) });
    expect(none).toContain("no succeeded task");
    expect(none).toContain("boom");
    expect(none).not.toContain("against the parameters</h2>"); // a single task varies nothing
    expect(renderSweepReport({ ...s, tasks: [] })).toContain("<h1>rates-vs-noise</h1>");
  });
});
