/**
 * The user's label image for the correlation analysis (config `correlation.mask`, docs/reports.md), read
 * BEFORE the reconstruction so that a bad mask costs no GPU time: a config error (exit 2) at the start,
 * never a surprise after the run.
 *
 *   - locally (CLI): a path, which must be a regular file (no device such as /dev/zero, no FIFO, no
 *     folder) of at most MAX_MASK_BYTES;
 *   - in the cloud (worker, ingest): a key relative to the scan's folder in the scans bucket
 *     ("cells.png" beside incoming/alice/run.h5 is incoming/alice/cells.png), never a path on the worker;
 *     read with a byte cap.
 *
 * The file must be a PNG. One of another size than the object is not decoded (its declared size is in its
 * header): the run goes on with the phase segmentation and says why (docs/reports.md).
 */
import fs from "node:fs";
import { labelsFromPng } from "../metrics/correlation.js";
import { fileKind } from "../scan/byteSource.js";
import { ConfigError } from "../solver/config.js";
import { MAX_MASK_BYTES } from "./maskKey.js";

export { MAX_MASK_BYTES, maskKey, maskKeyProblem } from "./maskKey.js";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Pre-read labels (or why the phase is segmented instead), handed to writeRunOutputs. */
export interface MaskLabels {
  labels?: { data: Int32Array; source: string };
  warning?: string;
}

function maskError(message: string): ConfigError {
  return new ConfigError([`"correlation.mask" ${message}`]);
}

/**
 * A local label image's bytes: a regular file of at most `maxBytes` (ConfigError otherwise). Opened
 * non-blocking and checked on the open descriptor, so a FIFO cannot hang the run and a device cannot feed it
 * without end.
 */
export function readLocalMask(file: string, maxBytes = MAX_MASK_BYTES): Uint8Array {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw maskError(`${file} cannot be opened (${code === "ENOENT" ? "no such file" : code ?? (err as Error).message})`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw maskError(`${file} is ${fileKind(st)}: it must be a PNG file`);
    if (st.size > maxBytes) throw maskError(`${file} is ${st.size} bytes: a label image may have at most ${maxBytes}`);
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let got = 0, n: number;
    while (got < buf.length && (n = fs.readSync(fd, buf, got, buf.length - got, got)) > 0) got += n;
    if (got > maxBytes) throw maskError(`${file} grew past ${maxBytes} bytes while being read`);
    return buf.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

/** Width and height from a PNG's header (IHDR), or a ConfigError when the bytes are not a PNG. */
export function pngSize(bytes: Uint8Array, source: string): { width: number; height: number } {
  const isPng = bytes.length >= 24 && PNG_SIGNATURE.every((b, i) => bytes[i] === b) && String.fromCharCode(...bytes.subarray(12, 16)) === "IHDR";
  if (!isPng) throw maskError(`${source} is not a PNG file (a label image: grey value = region label, 0 = background)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/**
 * Labels from a label image for an object of `size`: decoded only when its header says it has that size
 * (so a small file cannot declare a huge image); another size gives the phase segmentation with a warning.
 */
export function decodeMask(bytes: Uint8Array, source: string, size: { width: number; height: number }): MaskLabels {
  const { width, height } = pngSize(bytes, source);
  if (width !== size.width || height !== size.height) {
    return { warning: `correlation.mask ${source} is ${width} x ${height} pixels but the object is ${size.width} x ${size.height}: segmented the phase instead` };
  }
  let img;
  try {
    img = labelsFromPng(bytes);
  } catch (err) {
    throw maskError(`${source} could not be read as a PNG label image (${(err as Error).message})`);
  }
  return { labels: { data: img.data, source } };
}
