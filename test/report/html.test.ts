import { describe, expect, it } from "vitest";
import { colourBarSvg } from "../../src/report/html/colourBar.js";
import { esc } from "../../src/report/html/escape.js";
import { fmt, fmtDuration, fmtLength } from "../../src/report/html/format.js";
import { displaySize, regionOutlineSvg } from "../../src/report/html/mapFigure.js";
import { renderPage } from "../../src/report/html/page.js";
import { roundDown125, scaleBar, scaleBarHtml } from "../../src/report/html/scaleBar.js";
import { linearAxis, linePlot, logAxis, scatterPlot } from "../../src/report/html/svgPlot.js";
import { flatten, htmlTable } from "../../src/report/html/table.js";

/** The d attribute of the first <path> with a stroke colour. */
const pathsOf = (svg: string) => [...svg.matchAll(/<path d="([^"]*)"/g)].map((m) => m[1]);

describe("scale bars", () => {
  it("pick the longest 1-2-5 length within a quarter of the width, and its pixel width", () => {
    // 64 px of 103 nm = 6.6 um wide: a quarter is 1.65 um -> 1 um = 9.71 px
    const b = scaleBar(103e-9, 64)!;
    expect(b.length_m).toBeCloseTo(1e-6, 18);
    expect(b.label).toBe("1 µm");
    expect(b.pixels).toBeCloseTo(1e-6 / 103e-9, 9);
    expect(b.fraction).toBeCloseTo(b.pixels / 64, 12);
    // 256 px of 13 nm = 3.3 um: a quarter is 832 nm -> 500 nm
    expect(scaleBar(13e-9, 256)!.label).toBe("500 nm");
    expect(scaleBar(52e-9, 154)!.label).toBe("2 µm");
    expect(scaleBar(1e-9, 100, 0.5)!.label).toBe("50 nm");
    expect(scaleBar(0, 64)).toBeNull();
    expect(scaleBar(NaN, 64)).toBeNull();
    expect(roundDown125(1)).toBe(1);
    expect(roundDown125(4.99)).toBe(2);
    expect(roundDown125(0.5)).toBe(0.5);
    expect(roundDown125(999)).toBe(500);
  });

  it("lays the bar over the image as a percentage of its width", () => {
    expect(scaleBarHtml(scaleBar(100e-9, 40)!)).toBe('<div class="scalebar" style="width:25.000%"><span>1 µm</span></div>');
  });
});

describe("formatting and escaping", () => {
  it("escapes text and attribute values", () => {
    expect(esc(`<script>alert("x") & 'y'</script>`)).toBe("&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;");
  });

  it("formats numbers, lengths and durations for people", () => {
    expect(fmt(0.000123456)).toBe("1.23e-4");
    expect(fmt(1234.5678)).toBe("1235");
    expect(fmt(NaN)).toBe("—");
    expect(fmt(null)).toBe("—");
    expect(fmtLength(5e-7)).toBe("500 nm");
    expect(fmtLength(2e-6)).toBe("2 µm");
    expect(fmtDuration(0.341)).toBe("341 ms");
    expect(fmtDuration(125)).toBe("2 min 05 s");
  });

  it("a page escapes its title and config strings, and references nothing outside itself", () => {
    const html = renderPage({ title: "<b>scan</b>", facts: [["a", "</dd><script>x</script>"]], sections: [{ id: "s", title: "S", html: htmlTable(["k"], [["<img src=x onerror=alert(1)>"]]) }] });
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<img src=x");
    expect(html).toContain("&lt;b&gt;scan&lt;/b&gt;");
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).toContain("default-src 'none'");
  });

  it("flattens nested config objects to dotted keys, arrays as leaves", () => {
    expect(flatten({ a: { b: 1, c: { d: "x" } }, e: [1, 2], f: null, g: {} })).toEqual([["a.b", 1], ["a.c.d", "x"], ["e", [1, 2]], ["f", null], ["g", {}]]);
  });
});

describe("SVG plots", () => {
  it("linear axes use 1-2-5 steps that cover the data; log axes use decades", () => {
    expect(linearAxis(0.3, 9.2)).toEqual({ lo: 0, hi: 10, log: false, ticks: [0, 2, 4, 6, 8, 10] });
    const flat = linearAxis(3, 3);
    expect(flat.lo).toBeLessThan(3);
    expect(flat.hi).toBeGreaterThan(3);
    const log = logAxis(1e-4, 0.3);
    expect(log.ticks).toEqual([1e-4, 1e-3, 1e-2, 1e-1]);
    expect(log.lo).toBeLessThan(1e-4);
    expect(log.hi).toBeGreaterThan(0.3);
    expect(logAxis(0.02, 0.9).ticks).toEqual([0.02, 0.05, 0.1, 0.2, 0.5, 1]); // under two decades: 1-2-5 (1 is inside the 4 % padding)
    expect(logAxis(0.2, 0.9).ticks).toEqual([0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]); // under one: every tenth
  });

  it("breaks a line at NaN and at non-positive values on a log axis", () => {
    const svg = linePlot([{ name: "loss", x: [1, 2, 3, 4, 5, 6], y: [1, 0.5, NaN, 0.2, 0, 0.1] }], { logY: true });
    const d = pathsOf(svg)[0];
    expect(d.match(/M/g)!.length).toBe(3); // [1, 2], [4], [6]
    expect(d.match(/L/g)!.length).toBe(1);
    expect(svg).not.toContain("NaN");
  });

  it("says 'no data' for empty or all-NaN series and never writes NaN coordinates", () => {
    for (const svg of [linePlot([]), linePlot([{ name: "a", x: [1, 2], y: [NaN, NaN] }]), scatterPlot([{ name: "a", x: [], y: [] }])]) {
      expect(svg).toContain("no data");
      expect(svg).not.toContain("NaN");
      expect(svg.startsWith("<svg")).toBe(true);
    }
  });

  it("plots a single point visibly, escapes names, and draws a legend only for several series", () => {
    const one = linePlot([{ name: "<x>", x: [3], y: [2] }], { title: "a & b" });
    expect(one).toContain("<circle");
    expect(one).toContain("a &amp; b");
    expect(one).not.toContain("<x>");
    const two = linePlot([{ name: "p", x: [1, 2], y: [1, 2] }, { name: "q", x: [1, 2], y: [2, 1] }]);
    expect(two).toMatch(/class="legend">p</);
    expect(two).toMatch(/class="legend">q</);
  });

  it("scatter plots keep at most maxPoints per series, evenly strided, inside the frame", () => {
    const n = 1000;
    const x = Array.from({ length: n }, (_, i) => i), y = x.map((v) => v * v);
    const svg = scatterPlot([{ name: "s", x, y }], { maxPoints: 100, width: 400, height: 300 });
    const pts = [...pathsOf(svg)[0].matchAll(/M([\d.]+) ([\d.]+)h0/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(pts.length).toBe(100);
    for (const [px, py] of pts) {
      expect(px).toBeGreaterThan(0); expect(px).toBeLessThan(400);
      expect(py).toBeGreaterThan(0); expect(py).toBeLessThan(300);
    }
  });

  it("put a subtitle that would run into the title on its own line", () => {
    const o = { title: "object_rel_error vs weights.alpha", subtitle: "ring: best of its scan", width: 440, height: 290 };
    const svg = scatterPlot([{ name: "a", x: [1, 2], y: [1, 2] }, { name: "b", x: [1, 2], y: [2, 1] }], o);
    expect(svg).toMatch(/<text x="\d+" y="31" class="subtitle">ring: best of its scan<\/text>/);
    expect(svg).not.toContain('text-anchor="end" class="subtitle"');
    // a short title keeps its subtitle on the same line, right-aligned
    const short = scatterPlot([{ name: "a", x: [1, 2], y: [1, 2] }], { ...o, title: "loss vs rate" });
    expect(short).toContain('y="15" text-anchor="end" class="subtitle"');
  });

  it("categorical x axes label each category", () => {
    const svg = scatterPlot([{ name: "s", x: [0, 1], y: [1, 2] }], { xCategories: ["gaussian", "poisson"] });
    expect(svg).toContain(">gaussian</text>");
    expect(svg).toContain(">poisson</text>");
  });
});

describe("map figure parts", () => {
  it("keeps the aspect ratio at the display size", () => {
    expect(displaySize(64, 32, 300)).toEqual({ w: 300, h: 150 });
    expect(displaySize(20, 40, 300)).toEqual({ w: 150, h: 300 });
  });

  it("outlines a labelled square by its four sides, and ignores the background", () => {
    const W = 6, H = 5, labels = new Int32Array(W * H);
    for (let y = 1; y < 3; y++) for (let x = 2; x < 5; x++) labels[y * W + x] = 1;
    const svg = regionOutlineSvg(labels, W, H, new Map([[1, [1.5, 3] as [number, number]]]));
    const d = pathsOf(svg);
    expect(d).toHaveLength(2); // halo and line of the one region
    expect(d[1]).toBe("M2 1H5M2 3H5M2 1V3M5 1V3");
    expect(svg).toMatch(/<text x="3.5" y="2.0"[^>]*>1<\/text>/);
  });

  it("colour bars carry round ticks inside their range and the quantity with its unit", () => {
    const svg = colourBarSvg({ height: 200, range: [-1.3411, 0.4424], colour: (t) => [255 * t, 0, 0], label: "phase (rad)" });
    const ticks = [...svg.matchAll(/class="tick">([^<]*)</g)].map((m) => m[1]);
    expect(ticks).toEqual(["−1.0", "−0.5", "0.0"]);
    expect(svg).not.toContain("0.4424");
    expect(svg).not.toContain("1.341");
    expect(svg).toContain('stop-color="#ff0000"');
    expect(svg).toContain(">phase (rad)</text>");
    // a tall bar gets more ticks, still round, still inside
    expect([...colourBarSvg({ height: 560, range: [0, 207.3], colour: () => [0, 0, 0] }).matchAll(/class="tick">([^<]*)</g)].map((m) => m[1]))
      .toEqual(["0", "50", "100", "150", "200"]);
  });
});
