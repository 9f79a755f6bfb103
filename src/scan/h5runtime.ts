/**
 * The two h5wasm runtimes ptyxrf uses, initialised once with compression plugins and the throwing error
 * handler (without it h5wasm prints an HDF5 error and returns wrong values when a filter is missing).
 *
 * - reading: h5wasm's ESM build. Files are exposed to it as Emscripten devices whose reads are served by
 *   a `RandomAccessSource` (a local file now, S3 ranged reads in the cloud), so only the bytes HDF5 asks
 *   for are ever read.
 * - writing: h5wasm's Node build, which writes straight to the local filesystem by path.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import h5read from "h5wasm";
import h5write from "h5wasm/node";
import { base_url as pluginsBaseUrl, install_local_plugins } from "h5wasm-plugins";
import type { RandomAccessSource } from "./byteSource.js";

export type H5 = typeof h5read;
export type H5File = InstanceType<H5["File"]>;
export type H5Dataset = InstanceType<H5["Dataset"]>;
export type H5Group = InstanceType<H5["Group"]>;

const PLUGIN_DIR = "/usr/local/hdf5/lib/plugin";
/** Filters compiled into h5wasm itself; everything else comes from h5wasm-plugins. */
export const BUILTIN_FILTERS: Record<number, string> = { 1: "deflate (gzip)", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit", 6: "scaleoffset" };
/** Registered HDF5 filter ids served by the bundled h5wasm-plugins. */
export const PLUGIN_FILTERS: Record<number, string> = {
  32001: "blosc", 32004: "lz4", 32008: "bitshuffle", 307: "bzip2", 32000: "lzf", 32013: "zfp", 32015: "zstd",
  32019: "jpeg", 32022: "bitgroom", 32023: "bitround", 32026: "blosc2",
};

let readerReady: Promise<H5> | null = null;
let readerModule: Awaited<H5["ready"]> | null = null;
let writerReady: Promise<typeof h5write> | null = null;

function pluginDir(): string {
  return path.join(fileURLToPath(pluginsBaseUrl), "plugins");
}

/** The reading runtime (ESM build), with every bundled filter plugin installed. */
export function reader(): Promise<H5> {
  readerReady ??= (async () => {
    const Module = await h5read.ready;
    readerModule = Module;
    Module.activate_throwing_error_handler();
    Module.FS.mkdirTree(PLUGIN_DIR);
    const dir = pluginDir();
    for (const file of fs.readdirSync(dir)) {
      if (file.endsWith(".so")) Module.FS.writeFile(`${PLUGIN_DIR}/${file}`, fs.readFileSync(path.join(dir, file)));
    }
    return h5read;
  })();
  return readerReady;
}

/** The writing runtime (Node build, real filesystem), with filter plugins for compressed writes. */
export function writer(): Promise<typeof h5write> {
  writerReady ??= (async () => {
    const Module = await h5write.ready;
    Module.activate_throwing_error_handler();
    install_local_plugins(Module);
    return h5write;
  })();
  return writerReady;
}

let deviceCounter = 0;

/** A file opened read-only through a device backed by a byte source. */
export interface DeviceFile {
  file: H5File;
  /**
   * Reads HDF5 made through the device (before any page cache): a read of stored data that causes none was
   * served from HDF5's own caches or, for data never written, answered with the fill value (storage.ts).
   */
  readonly io: { reads: number; bytes: number };
  close(): void;
}

/**
 * Opens an HDF5 file whose bytes come from `source`. The device is read-only: HDF5 cannot modify
 * the source. Throws whatever HDF5 throws for a file it cannot open (not HDF5, truncated...).
 */
export async function openFromSource(source: RandomAccessSource): Promise<DeviceFile> {
  const h5 = await reader();
  const FS = readerModule!.FS as any;
  const id = ++deviceCounter;
  const dev = FS.makedev(64, id % 256);
  const devPath = `/ptyxrf-src-${id}.h5`;
  const io = { reads: 0, bytes: 0 };
  FS.registerDevice(dev, {
    open() {},
    close() {},
    read(_stream: unknown, buffer: Uint8Array, offset: number, length: number, position: number): number {
      const view = new Uint8Array(buffer.buffer, buffer.byteOffset + offset, length);
      io.reads++;
      io.bytes += length;
      return source.readInto(position, view);
    },
    write(): number {
      throw new FS.ErrnoError(30); // EROFS: scans are never modified
    },
    llseek(stream: { position: number }, offset: number, whence: number): number {
      let pos = offset;
      if (whence === 1) pos += stream.position;
      else if (whence === 2) pos += source.size;
      if (pos < 0) throw new FS.ErrnoError(28);
      return pos;
    },
  });
  FS.mkdev(devPath, dev);
  const node = FS.lookupPath(devPath).node;
  const getattr = node.node_ops.getattr;
  node.node_ops = { ...node.node_ops, getattr: (n: unknown) => ({ ...getattr(n), size: source.size }) };
  const cleanup = () => {
    try {
      FS.unlink(devPath);
    } catch {
      /* already gone */
    }
  };
  let file: H5File;
  try {
    file = new h5.File(devPath, "r");
  } catch (err) {
    cleanup();
    throw err;
  }
  return {
    file,
    io,
    close() {
      try {
        file.close();
      } finally {
        cleanup();
      }
    },
  };
}

/** The message of whatever h5wasm threw (it sometimes throws strings), shortened to its first lines. */
export function h5ErrorMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  const minor = lines.filter((l) => l.startsWith("minor:")).map((l) => l.slice(6).trim());
  const head = lines[0] ?? "unknown HDF5 error";
  return minor.length ? `${head} (${[...new Set(minor)].join("; ")})` : head;
}
