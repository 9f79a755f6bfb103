/**
 * Diffraction frames of foreign layouts: one or several 3-D datasets ([frames, ny, nx], possibly in other
 * files) read lazily as one stack, cropped to the square power-of-two window the canonical layout needs.
 *
 * Crop rule (documented in docs/layouts.md): the window is centred on the beam centre (rounded to a
 * pixel, which lands on index N/2 of the window, where the centred FFT has its origin); its side is the
 * size the user asks for, or else the largest power of two that fits the frames around that centre.
 */
import { describeDtype } from "../h5access.js";
import { h5ErrorMessage, type H5Dataset } from "../h5runtime.js";
import type { DiffractionArray, DiffractionDtype, FrameSource } from "../model.js";
import { diffractionKind } from "../read.js";
import { shapeText } from "./h5input.js";
import { LayoutError } from "./partial.js";

export interface FrameSegment {
  ds: H5Dataset;
  /** File the dataset lives in, for messages. */
  file: string;
}

export interface CropWindow {
  size: number;
  y0: number;
  x0: number;
  /** The centre used, in detector pixels (y, x), and whether it was the detector's own centre. */
  centre: [number, number];
  defaultCentre: boolean;
}

const MIN_FRAME = 16;

/** The crop window around `centre` ((y, x) pixels; default the frame centre) of side `size` or the largest that fits. */
export function cropWindow(
  ny: number, nx: number, centre: [number, number] | undefined, size: number | undefined, where: { file: string; path: string },
): CropWindow {
  const c: [number, number] = centre ?? [ny / 2, nx / 2];
  const cy = Math.round(c[0]), cx = Math.round(c[1]);
  const room = Math.min(cy, ny - cy, cx, nx - cx);
  const text = `the beam centre (y ${c[0]}, x ${c[1]}) of ${ny} x ${nx} frames`;
  if (size !== undefined) {
    if (!(Number.isInteger(size) && size >= MIN_FRAME && (size & (size - 1)) === 0)) {
      throw new LayoutError(where.file, where.path, `a frame size that is a power of two >= ${MIN_FRAME}`, String(size));
    }
    if (size / 2 > room) {
      throw new LayoutError(where.file, where.path, `room for a ${size} x ${size} window around ${text}`, `room for at most ${2 * Math.max(0, room)} pixels a side`, "choose a smaller frame size or check the beam centre");
    }
  }
  let n = size ?? 0;
  if (n === 0) for (let p = MIN_FRAME; p / 2 <= room; p *= 2) n = p;
  if (n === 0) throw new LayoutError(where.file, where.path, `room for a window of at least ${MIN_FRAME} x ${MIN_FRAME} pixels around ${text}`, `room for ${2 * Math.max(0, room)} pixels a side`, "check the beam centre");
  return { size: n, y0: cy - n / 2, x0: cx - n / 2, centre: c, defaultCentre: centre === undefined };
}

/** Checks the segments (3-D, same frame shape and dtype) and returns their frame shape, dtype and counts. */
export function inspectSegments(segments: FrameSegment[]): { ny: number; nx: number; dtype: DiffractionDtype; counts: number[] } {
  let ny = 0, nx = 0, dtype: DiffractionDtype | null = null;
  const counts: number[] = [];
  for (const s of segments) {
    const shape = s.ds.shape ?? [];
    if (shape.length !== 3) throw new LayoutError(s.file, s.ds.path, "a 3-D stack of frames [frames, ny, nx]", `${shape.length} dimensions ${shapeText(shape)}`);
    const kind = diffractionKind(s.ds);
    if (!kind) throw new LayoutError(s.file, s.ds.path, "uint16, uint32 or float32 counts", describeDtype(s.ds));
    if (dtype === null) {
      [ny, nx, dtype] = [shape[1], shape[2], kind];
    } else if (shape[1] !== ny || shape[2] !== nx || kind !== dtype) {
      const first = segments[0];
      throw new LayoutError(s.file, s.ds.path, `frames of ${ny} x ${nx} ${dtype} as in ${first.file}:${first.ds.path}`, `${shape[1]} x ${shape[2]} ${kind}`);
    }
    counts.push(shape[0]);
  }
  if (dtype === null) throw new Error("inspectSegments: no segments");
  return { ny, nx, dtype, counts };
}

/**
 * The segments as one lazily read stack of cropped frames. `mask` (ny * nx, non-zero = bad pixel) zeroes
 * the masked pixels of every frame.
 */
export function segmentedFrames(segments: FrameSegment[], crop: CropWindow, mask?: Uint8Array): { frames: FrameSource; npos: number } {
  const { nx, dtype, counts } = inspectSegments(segments);
  const starts = counts.map((_, i) => counts.slice(0, i).reduce((a, b) => a + b, 0));
  const npos = counts.reduce((a, b) => a + b, 0);
  const n = crop.size, nn = n * n;
  const masked: number[] = [];
  if (mask) {
    for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) if (mask[(crop.y0 + y) * nx + crop.x0 + x]) masked.push(y * n + x);
  }
  const frames: FrameSource = {
    dtype,
    frames(start: number, count: number): DiffractionArray {
      if (!(start >= 0 && count >= 0 && start + count <= npos)) throw new Error(`frames [${start}, ${start + count}) outside the ${npos} frames`);
      const Ctor = dtype === "float32" ? Float32Array : dtype === "uint16" ? Uint16Array : Uint32Array;
      const out = new Ctor(count * nn);
      let done = 0;
      while (done < count) {
        const g = start + done;
        let k = starts.length - 1;
        while (starts[k] > g) k--;
        const local = g - starts[k];
        const take = Math.min(count - done, counts[k] - local);
        const s = segments[k];
        let block: DiffractionArray;
        try {
          block = s.ds.slice([[local, local + take], [crop.y0, crop.y0 + n], [crop.x0, crop.x0 + n]]) as DiffractionArray;
        } catch (err) {
          throw new LayoutError(s.file, s.ds.path, "frames HDF5 can decode", `an error reading frames ${local}..${local + take - 1}: ${h5ErrorMessage(err)}`);
        }
        out.set(block, done * nn);
        done += take;
      }
      if (masked.length) for (let f = 0; f < count; f++) for (const p of masked) out[f * nn + p] = 0;
      return out;
    },
  };
  return { frames, npos };
}
