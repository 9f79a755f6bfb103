import { describe, expect, it } from "vitest";
import { Canvas } from "../../src/report/canvas.js";
import { glyph, GLYPH_ROWS, hasGlyphs, lineHeight, rasterText, textWidth } from "../../src/report/font.js";

/** Bounding box of the ink of `text` drawn at (0, 0). */
function inkBox(text: string, o: Parameters<typeof rasterText>[4] = {}) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity, count = 0;
  rasterText(text, 0, 0, (x, y) => { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y); count++; }, o);
  return { x0, y0, w: x1 - x0 + 1, h: y1 - y0 + 1, count };
}

const ASCII = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join("");

describe("bitmap font", () => {
  it("has every printable ASCII character and the characters of units and numbers", () => {
    expect(hasGlyphs(ASCII)).toBe(true);
    expect(hasGlyphs("µ²³°−π×·±Å–—")).toBe(true);
    expect(hasGlyphs("€")).toBe(false);
    // unknown characters still take room (a hollow box) instead of vanishing
    expect(textWidth("€")).toBe(4);
  });

  it("gives every printable character its own bitmap, digits one common width", () => {
    const seen = new Map<string, string>();
    for (const ch of ASCII.slice(1)) {
      const g = glyph(ch);
      const key = `${g.width}:${g.ink.join("")}`;
      expect(seen.get(key), `${ch} looks like ${seen.get(key)}`).toBeUndefined();
      seen.set(key, ch);
      expect(g.ink.length).toBe(GLYPH_ROWS * g.width);
    }
    for (const d of "0123456789") expect(glyph(d).width).toBe(5);
    expect(glyph("−").width).toBe(glyph("+").width); // signed tick labels line up
  });

  it("sets known strings to known widths: glyph widths plus one column between glyphs, times the scale", () => {
    expect(textWidth("")).toBe(0);
    expect(textWidth("0")).toBe(5);
    expect(textWidth("10")).toBe(11);
    expect(textWidth("1 µm", 2)).toBe(2 * (5 + 3 + 5 + 5 + 3)); // 42
    expect(textWidth("µg/cm²", 2)).toBe(2 * (5 + 5 + 5 + 5 + 5 + 3 + 5)); // 66
    expect(textWidth("−0.25", 3)).toBe(3 * (5 + 5 + 2 + 5 + 5 + 4));
    expect(lineHeight(2)).toBe(18);
    // the ink spans exactly that width when the first and last glyphs reach their edges
    expect(inkBox("−0.25", { scale: 2 }).w).toBe(textWidth("−0.25", 2));
    expect(inkBox("200", { scale: 3 }).h).toBe(7 * 3); // digits: cap height 7 rows
    expect(inkBox("µ", { scale: 1 })).toMatchObject({ y0: 2, h: 7 }); // x-height and a descender
  });

  it("draws bold one pixel wider, and rotated text upwards with width and height swapped", () => {
    expect(inkBox("rad", { scale: 2, bold: true }).w).toBe(textWidth("rad", 2) + 1);
    const flat = inkBox("phase (rad)", { scale: 2 }), up = inkBox("phase (rad)", { scale: 2, rotate: -90 });
    expect([up.w, up.h]).toEqual([flat.h, flat.w]);
    expect(up.count).toBe(flat.count);
    // the first letter is at the bottom: the rotated "p" of "phase" reaches below the rest
    const c = new Canvas(30, 200);
    c.text("p.....", 0, 0, [0, 0, 0], { scale: 2, rotate: -90 });
    const inkRows: number[] = [];
    for (let y = 0; y < 200; y++) for (let x = 0; x < 30; x++) if (c.get(x, y)[0] === 0) inkRows.push(y);
    expect(Math.max(...inkRows)).toBe(textWidth("p.....", 2) - 1);
    expect(() => rasterText("x", 0, 0, () => {}, { scale: 1.5 })).toThrow(/positive integer/);
  });
});
