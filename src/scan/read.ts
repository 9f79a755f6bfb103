/**
 * Reads combined ptychography + XRF scan files through any random-access byte source.
 *
 * Only what is asked for is read: `header()` reads positions, XRF maps and attributes; `readFrames`
 * reads a slice of the diffraction stack in its stored dtype (never widened to float64).
 * Call `validateScan` first for a full report; the reader throws `ScanFormatError` on the first
 * structural problem it meets.
 */
import { FileSource, PagedSource, type RandomAccessSource } from "./byteSource.js";
import { attrValue, getDataset, getGroup, numericAttr, textAttr, toFloat32, toFloat64, toNumber } from "./h5access.js";
import { h5ErrorMessage, openFromSource, type DeviceFile, type H5Dataset, type H5File } from "./h5runtime.js";
import { ELEMENT_ATTRS, OPTIONAL_NUMERIC_ATTRS, OPTIONAL_TEXT_ATTRS, PATHS, REQUIRED_ATTRS } from "./layout.js";
import type { DiffractionArray, DiffractionDtype, ElementInfo, ProbeModes, ScanHeader, ScanMetadata } from "./model.js";

export class ScanFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScanFormatError";
  }
}

const DTYPE_KINDS: Record<string, DiffractionDtype> = { "<f": "float32", "<H": "uint16", "<I": "uint32" };

export function diffractionKind(ds: H5Dataset): DiffractionDtype | null {
  return typeof ds.dtype === "string" ? (DTYPE_KINDS[ds.dtype] ?? null) : null;
}

/** Opens `src` (a path or a byte source) as HDF5. Errors name the source and what HDF5 said. */
export async function openH5(src: string | RandomAccessSource, pageSize?: number): Promise<{ paged: PagedSource; dev: DeviceFile }> {
  const inner = typeof src === "string" ? new FileSource(src) : src;
  const paged = new PagedSource(inner, pageSize);
  try {
    const dev = await openFromSource(paged);
    return { paged, dev };
  } catch (err) {
    paged.close();
    throw new ScanFormatError(`${inner.name}: cannot open as HDF5: ${h5ErrorMessage(err)}`);
  }
}

/** Reads an attribute from /metadata, falling back to the root. */
export function metadataAttr(file: H5File, name: string): unknown {
  const meta = getGroup(file, PATHS.metadata);
  const fromMeta = meta ? attrValue(meta, name) : undefined;
  return fromMeta !== undefined ? fromMeta : attrValue(file, name);
}

export class ScanReader {
  private constructor(
    readonly source: PagedSource,
    private readonly dev: DeviceFile,
  ) {}

  static async open(src: string | RandomAccessSource): Promise<ScanReader> {
    const { paged, dev } = await openH5(src);
    return new ScanReader(paged, dev);
  }

  get file(): H5File {
    return this.dev.file;
  }

  private need(path: string): H5Dataset {
    const ds = getDataset(this.file, path);
    if (!ds) throw new ScanFormatError(`${this.source.name}: missing dataset ${path}`);
    return ds;
  }

  get diffraction(): H5Dataset {
    return this.need(PATHS.diffraction);
  }

  get npos(): number {
    return this.diffraction.shape![0];
  }

  get frameSize(): number {
    return this.diffraction.shape![1];
  }

  get dtype(): DiffractionDtype {
    const kind = diffractionKind(this.diffraction);
    if (!kind) throw new ScanFormatError(`${PATHS.diffraction}: unsupported dtype ${String(this.diffraction.dtype)}`);
    return kind;
  }

  /** Frames [start, start + count) in their stored dtype. */
  readFrames(start: number, count: number): DiffractionArray {
    const ds = this.diffraction;
    try {
      return ds.slice([[start, start + count], [], []]) as DiffractionArray;
    } catch (err) {
      throw new ScanFormatError(`${PATHS.diffraction}: cannot read frames ${start}..${start + count - 1}: ${h5ErrorMessage(err)}`);
    }
  }

  /** The whole diffraction stack as float32, read block by block into `out` (allocated when absent). */
  readAllFramesFloat32(out?: Float32Array, blockFrames = 64): Float32Array {
    const n = this.frameSize;
    const target = out ?? new Float32Array(this.npos * n * n);
    for (let s = 0; s < this.npos; s += blockFrames) {
      const c = Math.min(blockFrames, this.npos - s);
      target.set(this.readFrames(s, c), s * n * n);
    }
    return target;
  }

  metadata(): ScanMetadata {
    const md: Record<string, unknown> = {};
    for (const a of [...REQUIRED_ATTRS, ...OPTIONAL_NUMERIC_ATTRS]) {
      const num = toNumber(metadataAttr(this.file, a));
      if (num !== undefined) md[a] = num;
      else if (REQUIRED_ATTRS.includes(a as (typeof REQUIRED_ATTRS)[number])) {
        throw new ScanFormatError(`${this.source.name}: missing attribute ${a} (in ${PATHS.metadata} or /)`);
      }
    }
    for (const a of OPTIONAL_TEXT_ATTRS) {
      const v = metadataAttr(this.file, a);
      if (typeof v === "string") md[a] = v;
    }
    return md as unknown as ScanMetadata;
  }

  header(): ScanHeader {
    const npos = this.npos;
    const positions = toFloat64(this.need(PATHS.positions).value);
    const group = getGroup(this.file, PATHS.xrfMaps);
    if (!group) throw new ScanFormatError(`${this.source.name}: missing group ${PATHS.xrfMaps}`);
    const elements: ElementInfo[] = [];
    const maps: Record<string, Float32Array> = {};
    let raster: [number, number] | undefined;
    for (const symbol of group.keys()) {
      const ds = this.need(`${PATHS.xrfMaps}/${symbol}`);
      const shape = ds.shape ?? [];
      if (shape.length === 2) raster = [shape[0], shape[1]];
      maps[symbol] = toFloat32(ds.value);
      const info: ElementInfo = { symbol };
      for (const a of ELEMENT_ATTRS) {
        const v = numericAttr(ds, a);
        if (v !== undefined) info[a] = v;
      }
      elements.push(info);
    }
    const header: ScanHeader = {
      metadata: this.metadata(),
      npos,
      frameSize: this.frameSize,
      positions,
      xrf: { elements, maps, ...(raster ? { raster } : {}) },
    };
    const probe = getDataset(this.file, PATHS.probeGuess);
    if (probe) header.probeGuess = readProbe(probe);
    const spectra = getDataset(this.file, PATHS.xrfSpectra);
    if (spectra && spectra.shape?.length === 2) {
      header.xrf.spectra = { channels: spectra.shape[1], data: toFloat32(spectra.value) };
    }
    return header;
  }

  close(): void {
    try {
      this.dev.close();
    } finally {
      this.source.close();
    }
  }
}

/** Reads a [K, N, N, 2] (or [N, N, 2]) float dataset as probe modes. */
export function readProbe(ds: H5Dataset): ProbeModes {
  const shape = ds.shape ?? [];
  const ok = (shape.length === 4 || shape.length === 3) && shape[shape.length - 1] === 2;
  if (!ok) throw new ScanFormatError(`${ds.path}: expected shape [K, N, N, 2] (re, im), found [${shape.join(", ")}]`);
  const modes = shape.length === 4 ? shape[0] : 1;
  const n = shape[shape.length - 2];
  return { modes, n, data: toFloat32(ds.value) };
}

export { textAttr };
