/**
 * An RGB raster for the PNG figures (docs/reports.md "PNG previews"): filled rectangles, single pixels and
 * bitmap text (font.ts), encoded as an 8-bit RGB PNG with pngjs. Coordinates are integer pixels, (0, 0) the
 * top-left corner; drawing outside the raster is clipped.
 */
import { PNG } from "pngjs";
import type { Rgb } from "./colormap.js";
import { rasterText, type TextOptions } from "./font.js";

export class Canvas {
  readonly data: Uint8Array;

  constructor(readonly width: number, readonly height: number, background: Rgb = [255, 255, 255]) {
    if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 1 && height >= 1)) {
      throw new Error(`canvas: size must be positive integers, got ${width} x ${height}`);
    }
    this.data = new Uint8Array(3 * width * height);
    this.fill(0, 0, width, height, background);
  }

  set(x: number, y: number, c: Rgb): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = 3 * (y * this.width + x);
    this.data[o] = c[0]; this.data[o + 1] = c[1]; this.data[o + 2] = c[2];
  }

  get(x: number, y: number): Rgb {
    const o = 3 * (y * this.width + x);
    return [this.data[o], this.data[o + 1], this.data[o + 2]];
  }

  /** Fills the w x h rectangle whose top-left corner is (x, y). */
  fill(x: number, y: number, w: number, h: number, c: Rgb): void {
    const x0 = Math.max(0, x), y0 = Math.max(0, y), x1 = Math.min(this.width, x + w), y1 = Math.min(this.height, y + h);
    for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) this.set(xx, yy, c);
  }

  /** A one-pixel outline just outside the w x h rectangle at (x, y). */
  frame(x: number, y: number, w: number, h: number, c: Rgb): void {
    this.fill(x - 1, y - 1, w + 2, 1, c);
    this.fill(x - 1, y + h, w + 2, 1, c);
    this.fill(x - 1, y, 1, h, c);
    this.fill(x + w, y, 1, h, c);
  }

  /** Text with its top-left corner at (x, y) (see font.ts rasterText for rotated text). */
  text(text: string, x: number, y: number, c: Rgb, o: TextOptions = {}): void {
    rasterText(text, x, y, (px, py) => this.set(px, py, c), o);
  }

  /** The raster as an 8-bit RGB PNG. */
  toPng(): Buffer {
    const png = new PNG({ width: this.width, height: this.height });
    for (let i = 0, n = this.width * this.height; i < n; i++) {
      png.data[4 * i] = this.data[3 * i];
      png.data[4 * i + 1] = this.data[3 * i + 1];
      png.data[4 * i + 2] = this.data[3 * i + 2];
      png.data[4 * i + 3] = 255;
    }
    return PNG.sync.write(png, { colorType: 2 });
  }
}
