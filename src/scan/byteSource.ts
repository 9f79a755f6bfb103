/**
 * Random-access byte sources: what the HDF5 reader pulls bytes from.
 *
 * HDF5 (h5wasm) reads synchronously, so a source reads synchronously too. A local file is one; the ingest
 * Lambda serves the same interface from S3 ranged GETs (bridged to sync). `PagedSource` puts an LRU page
 * cache in front of any source and counts what it fetched, so "bytes read" is measured the same way for a
 * local path and for S3.
 */
import fs from "node:fs";

export interface RandomAccessSource {
  /** A name for messages: a path or a URI. */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /** Fills `target` from `position`; returns the number of bytes read (fewer only at end of source). */
  readInto(position: number, target: Uint8Array): number;
  close(): void;
}

export interface FetchStats {
  /** Bytes fetched from the underlying source. */
  bytesFetched: number;
  /** Fetch requests made to the underlying source. */
  requests: number;
}

/** What a path that is not a regular file is, in words ("a named pipe (FIFO)"). */
export function fileKind(st: fs.Stats): string {
  if (st.isFile()) return "a regular file";
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a named pipe (FIFO)";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * A local regular file, opened read-only. Nothing is ever written to it. Anything else (a FIFO, a device, a
 * directory) is refused when opened: it is opened non-blocking, so a FIFO without a writer cannot hang the
 * caller, and checked on the open descriptor, so it cannot be swapped between a check and the open.
 */
export class FileSource implements RandomAccessSource {
  readonly size: number;
  private fd: number | null;

  constructor(readonly name: string) {
    const fd = fs.openSync(name, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new Error(`${name}: expected a regular file, found ${fileKind(st)}`);
      this.size = st.size;
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    this.fd = fd;
  }

  readInto(position: number, target: Uint8Array): number {
    if (this.fd === null) throw new Error(`${this.name}: read after close`);
    let done = 0;
    while (done < target.length && position + done < this.size) {
      const n = fs.readSync(this.fd, target, done, target.length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** An in-memory byte array as a source (tests, small objects). */
export class BufferSource implements RandomAccessSource {
  readonly size: number;
  constructor(readonly name: string, private readonly bytes: Uint8Array) {
    this.size = bytes.length;
  }
  readInto(position: number, target: Uint8Array): number {
    const n = Math.max(0, Math.min(target.length, this.size - position));
    target.set(this.bytes.subarray(position, position + n));
    return n;
  }
  close(): void {}
}

/**
 * LRU page cache in front of a source. Every miss fetches one aligned page (default 64 KiB); runs of
 * consecutive missing pages are fetched in one request.
 */
export class PagedSource implements RandomAccessSource {
  readonly stats: FetchStats = { bytesFetched: 0, requests: 0 };
  private readonly pages = new Map<number, Uint8Array>();

  constructor(
    readonly inner: RandomAccessSource,
    readonly pageSize = 64 * 1024,
    readonly maxPages = 512,
  ) {}

  get name(): string {
    return this.inner.name;
  }
  get size(): number {
    return this.inner.size;
  }

  readInto(position: number, target: Uint8Array): number {
    const end = Math.min(position + target.length, this.size);
    if (end <= position) return 0;
    const first = Math.floor(position / this.pageSize);
    const last = Math.floor((end - 1) / this.pageSize);
    this.fetchMissing(first, last);
    let written = 0;
    for (let p = first; p <= last; p++) {
      const page = this.pages.get(p)!;
      const pageStart = p * this.pageSize;
      const from = Math.max(position, pageStart) - pageStart;
      const to = Math.min(end, pageStart + page.length) - pageStart;
      if (to <= from) break; // the source delivered fewer bytes than its size says
      target.set(page.subarray(from, to), written);
      written += to - from;
      if (page.length < this.pageSize && pageStart + page.length < this.size) break; // a short page: stop at its end
    }
    return written;
  }

  private fetchMissing(first: number, last: number): void {
    let p = first;
    while (p <= last) {
      const cached = this.pages.get(p);
      if (cached) {
        this.pages.delete(p); // refresh LRU order
        this.pages.set(p, cached);
        p++;
        continue;
      }
      let runEnd = p;
      while (runEnd + 1 <= last && !this.pages.has(runEnd + 1)) runEnd++;
      const start = p * this.pageSize;
      const length = Math.min((runEnd + 1) * this.pageSize, this.size) - start;
      const buf = new Uint8Array(length);
      const n = this.inner.readInto(start, buf);
      this.stats.bytesFetched += n;
      this.stats.requests += 1;
      for (let q = p; q <= runEnd; q++) {
        const off = (q - p) * this.pageSize;
        this.pages.set(q, buf.slice(off, Math.min(off + this.pageSize, n)));
      }
      p = runEnd + 1;
    }
    while (this.pages.size > Math.max(this.maxPages, last - first + 1)) {
      const oldest = this.pages.keys().next().value as number;
      this.pages.delete(oldest);
    }
  }

  close(): void {
    this.pages.clear();
    this.inner.close();
  }
}
