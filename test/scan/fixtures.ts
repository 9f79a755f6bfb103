/** Small valid scans built by hand (independent of the simulator), and helpers for the bad-file corpus. */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FrameSource, ScanHeader } from "../../src/scan/model.js";

export function tmpDir(prefix = "ptyxrf-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function sha256(file: string): string {
  return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/** A 4 x 5 raster of 16 x 16 frames, two elements, deterministic values. */
export function smallScan(opts: { npos?: number; n?: number; raster?: boolean; dtype?: FrameSource["dtype"] } = {}): {
  header: ScanHeader;
  frames: FrameSource;
  frameValue: (frame: number, pixel: number) => number;
} {
  const ny = 4, nx = 5;
  const npos = opts.npos ?? ny * nx;
  const n = opts.n ?? 16;
  const positions = new Float64Array(2 * npos);
  for (let i = 0; i < npos; i++) {
    positions[2 * i] = Math.floor(i / nx) * 1.5e-7 - 3e-7;
    positions[2 * i + 1] = (i % nx) * 1.5e-7 - 3e-7;
  }
  const fe = new Float32Array(npos).map((_, i) => 10 + i);
  const zn = new Float32Array(npos).map((_, i) => 0.5 * i);
  const frameValue = (f: number, p: number) => ((f * 7 + p * 13) % 101) + (p === 0 ? 1 : 0);
  const dtype = opts.dtype ?? "uint32";
  const header: ScanHeader = {
    metadata: { energy_keV: 10, detector_distance_m: 2, detector_pixel_size_m: 75e-6, sample: "fixture", matrix_beta: 1e-9, matrix_delta: 2e-8 },
    npos,
    frameSize: n,
    positions,
    xrf: {
      elements: [{ symbol: "Fe", sensitivity: 2, beta: 1e-9, delta: 3e-8 }, { symbol: "Zn", sensitivity: 1.5 }],
      maps: { Fe: fe, Zn: zn },
      ...(opts.raster !== false && npos === ny * nx ? { raster: [ny, nx] as [number, number] } : {}),
    },
  };
  const frames: FrameSource = {
    dtype,
    frames(start, count) {
      const Ctor = dtype === "float32" ? Float32Array : dtype === "uint16" ? Uint16Array : Uint32Array;
      const out = new Ctor(count * n * n);
      for (let f = 0; f < count; f++) for (let p = 0; p < n * n; p++) out[f * n * n + p] = frameValue(start + f, p);
      return out;
    },
  };
  return { header, frames, frameValue };
}
