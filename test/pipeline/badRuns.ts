/**
 * Scans that pass validation but must not become results: counts that are NaN, infinite or negative in
 * frames the validator does not sample, a probe guess holding NaN (the validator checks its shape only),
 * XRF maps that are all zero (the joint solver's losses become NaN at iteration 2), and an element named
 * with control and bidi characters. Small and written
 * in the tests (the `small` preset: 36 frames of 32 x 32).
 */
import type { FrameSource } from "../../src/scan/model.js";
import { DEFAULT_LIMITS, sampleIndices } from "../../src/scan/validate.js";
import { writeScan } from "../../src/scan/write.js";
import { simulate } from "../../src/sim/simulate.js";

/** Frames the validator's sample of `npos` frames leaves out, in order. */
export function unsampled(npos: number): number[] {
  const sampled = new Set(sampleIndices(npos, DEFAULT_LIMITS.sampleFrames));
  return Array.from({ length: npos }, (_, i) => i).filter((i) => !sampled.has(i));
}

/**
 * Writes the `small` preset (seed 2) as float32 frames with `edit` applied: values at pixels of given
 * frames, the probe guess, the XRF maps.
 */
export async function writeSmallScan(file: string, edit: {
  pixels?: { frame: number; pixel: number; value: number }[];
  probeNaN?: boolean;
  zeroXrf?: boolean;
  /** Renames an element's map (from, to). */
  renameElement?: [string, string];
} = {}): Promise<{ npos: number; frameSize: number }> {
  const sim = simulate({ preset: "small", seed: 2 });
  const { npos, frameSize: n } = sim.header;
  const frames: FrameSource = {
    dtype: "float32",
    frames(start, count) {
      const out = Float32Array.from(sim.frames.frames(start, count));
      for (const p of edit.pixels ?? []) if (p.frame >= start && p.frame < start + count) out[(p.frame - start) * n * n + p.pixel] = p.value;
      return out;
    },
  };
  if (edit.renameElement) {
    const [from, to] = edit.renameElement;
    sim.header.xrf.maps[to] = sim.header.xrf.maps[from];
    delete sim.header.xrf.maps[from];
    sim.header.xrf.elements = sim.header.xrf.elements.map((e) => (e.symbol === from ? { ...e, symbol: to } : e));
  }
  if (edit.zeroXrf) for (const el of Object.keys(sim.header.xrf.maps)) sim.header.xrf.maps[el].fill(0);
  if (edit.probeNaN) {
    if (!sim.header.probeGuess) throw new Error("the small preset has no probe guess");
    sim.header.probeGuess.data[7] = Number.NaN;
  }
  await writeScan(file, sim.header, frames, { compression: "none" });
  return { npos, frameSize: n };
}
