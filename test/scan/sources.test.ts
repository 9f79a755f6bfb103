/** Byte sources (src/scan/byteSource.ts): the page cache in front of every read, and sources vs paths. */
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BufferSource, FileSource, PagedSource, type RandomAccessSource } from "../../src/scan/byteSource.js";
import { validateScan } from "../../src/scan/validate.js";
import { editH5, tmpDir, writeValidScan } from "./fixtures.js";

const dir = tmpDir("ptyxrf-sources-");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Deterministic pseudo-random bytes. */
function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

/** A source that records every read made of it. */
class Recording implements RandomAccessSource {
  readonly calls: [position: number, length: number][] = [];
  closed = false;
  private readonly inner: BufferSource;
  constructor(readonly data: Uint8Array, readonly name = "mem") {
    this.inner = new BufferSource(name, data);
  }
  get size() {
    return this.data.length;
  }
  readInto(position: number, target: Uint8Array): number {
    this.calls.push([position, target.length]);
    return this.inner.readInto(position, target);
  }
  close() {
    this.closed = true;
  }
}

function read(src: RandomAccessSource, position: number, length: number): { n: number; got: Uint8Array } {
  const got = new Uint8Array(length);
  const n = src.readInto(position, got);
  return { n, got: got.subarray(0, n) };
}

const cachedPages = (p: PagedSource) => (p as unknown as { pages: Map<number, Uint8Array> }).pages;

describe("PagedSource", () => {
  const data = bytes(10_000);

  it("reads within and across page boundaries equal the underlying bytes", () => {
    const p = new PagedSource(new Recording(data), 256);
    const reads: [number, number][] = [
      [0, 1], [0, 256], [255, 2], [256, 256], [100, 1000], [1000, 3000], [5, 9995], [9999, 1], [4096, 256], [511, 513],
    ];
    for (const [pos, len] of reads) {
      const { n, got } = read(p, pos, len);
      expect(n).toBe(len);
      expect(Buffer.compare(got, data.subarray(pos, pos + len))).toBe(0);
    }
    expect(p.size).toBe(10_000);
    expect(p.name).toBe("mem");
  });

  it("a repeated read is served from the cache: no new requests", () => {
    const inner = new Recording(data);
    const p = new PagedSource(inner, 256);
    read(p, 300, 700);
    const after = { ...p.stats };
    expect(after.requests).toBe(1);
    expect(after.bytesFetched).toBe(3 * 256); // bytes 300..999: pages 1..3, aligned
    expect(inner.calls).toEqual([[256, 768]]);
    for (let k = 0; k < 3; k++) {
      expect(Buffer.compare(read(p, 300, 700).got, data.subarray(300, 1000))).toBe(0);
      expect(Buffer.compare(read(p, 260, 10).got, data.subarray(260, 270))).toBe(0);
    }
    expect(p.stats).toEqual(after);
    expect(inner.calls).toHaveLength(1);
  });

  it("runs of consecutive missing pages are fetched in one request each", () => {
    const inner = new Recording(data);
    const p = new PagedSource(inner, 256);
    read(p, 0, 10); // page 0
    read(p, 3 * 256, 10); // page 3
    expect(inner.calls).toEqual([[0, 256], [768, 256]]);
    // pages 0..6: 0 and 3 cached; runs 1-2 and 4-6 missing
    const { got } = read(p, 0, 7 * 256);
    expect(Buffer.compare(got, data.subarray(0, 7 * 256))).toBe(0);
    expect(inner.calls.slice(2)).toEqual([[256, 512], [1024, 768]]);
    expect(p.stats).toEqual({ requests: 4, bytesFetched: 7 * 256 });
    // a cold read of 20 pages is one request
    const q = new PagedSource(new Recording(data), 256);
    read(q, 10, 20 * 256 - 20);
    expect(q.stats.requests).toBe(1);
  });

  it("keeps at most maxPages pages, evicting the least recently used", () => {
    const inner = new Recording(data);
    const p = new PagedSource(inner, 256, 4);
    for (const page of [0, 1, 2, 3]) read(p, page * 256, 1);
    expect(cachedPages(p).size).toBe(4);
    read(p, 0, 1); // touch page 0: now 1 is the least recently used
    read(p, 4 * 256, 1); // a fifth page evicts page 1
    expect(cachedPages(p).size).toBe(4);
    expect([...cachedPages(p).keys()].sort()).toEqual([0, 2, 3, 4]);
    const requests = p.stats.requests;
    read(p, 0, 1);
    expect(p.stats.requests).toBe(requests); // page 0 survived
    read(p, 256, 1);
    expect(p.stats.requests).toBe(requests + 1); // page 1 did not
    for (let page = 0; page < 30; page++) {
      read(p, page * 256 + 7, 300); // each read spans two pages
      expect(cachedPages(p).size).toBeLessThanOrEqual(4);
    }
  });

  it("a single read of more pages than maxPages is served whole", () => {
    const p = new PagedSource(new Recording(data), 256, 2);
    const { n, got } = read(p, 100, 2000);
    expect(n).toBe(2000);
    expect(Buffer.compare(got, data.subarray(100, 2100))).toBe(0);
    read(p, 300, 10); // the next read trims the cache back to maxPages
    expect(cachedPages(p).size).toBeLessThanOrEqual(9);
    read(p, 9000, 10);
    expect(cachedPages(p).size).toBeLessThanOrEqual(2);
  });

  it("short reads at the end of the source; none past it", () => {
    const small = bytes(1000, 7);
    const inner = new Recording(small);
    const p = new PagedSource(inner, 256);
    let r = read(p, 900, 200);
    expect(r.n).toBe(100);
    expect(Buffer.compare(r.got, small.subarray(900))).toBe(0);
    expect(inner.calls).toEqual([[768, 232]]); // the last page is only as long as the source
    expect(p.stats.bytesFetched).toBe(232);
    r = read(p, 999, 5);
    expect([r.n, r.got[0]]).toEqual([1, small[999]]);
    expect(read(p, 1000, 10).n).toBe(0);
    expect(read(p, 5000, 10).n).toBe(0);
    expect(read(p, 10, 0).n).toBe(0);
    expect(inner.calls).toHaveLength(1);
    r = read(p, 0, 4096);
    expect(r.n).toBe(1000);
    expect(Buffer.compare(r.got, small)).toBe(0);
  });

  it("close() closes the inner source and drops the cache", () => {
    const inner = new Recording(data);
    const p = new PagedSource(inner, 256);
    read(p, 0, 1000);
    p.close();
    expect(inner.closed).toBe(true);
    expect(cachedPages(p).size).toBe(0);
  });

  // Fails until src/scan/byteSource.ts is fixed: see the report that came with this test.
  it("a source that delivers fewer bytes than its size says (a file or object that shrank) gives a short read, not a RangeError or a negative count", () => {
    const real = bytes(50, 3);
    const shrunk: RandomAccessSource = { name: "shrunk", size: 100, readInto: (pos, t) => new BufferSource("x", real).readInto(pos, t), close() {} };
    const p = new PagedSource(shrunk, 64);
    let r: { n: number; got: Uint8Array } | undefined;
    expect(() => (r = read(p, 40, 30))).not.toThrow();
    expect(r!.n).toBe(10); // bytes 40..49 exist, 50.. do not
    expect(Buffer.compare(r!.got, real.subarray(40, 50))).toBe(0);
    expect(() => (r = read(p, 60, 10))).not.toThrow();
    expect(r!.n).toBe(0);
  });
});

describe("FileSource and BufferSource", () => {
  it("read the bytes of the file, short at the end; FileSource refuses reads after close", () => {
    const data = bytes(3000, 11);
    const file = path.join(dir, "bytes.bin");
    fs.writeFileSync(file, data);
    const f = new FileSource(file);
    const b = new BufferSource("b", data);
    for (const src of [f, b]) {
      expect(src.size).toBe(3000);
      expect(Buffer.compare(read(src, 1234, 100).got, data.subarray(1234, 1334))).toBe(0);
      const end = read(src, 2990, 100);
      expect(end.n).toBe(10);
      expect(Buffer.compare(end.got, data.subarray(2990))).toBe(0);
      expect(read(src, 3000, 1).n).toBe(0);
      expect(read(src, 4000, 1).n).toBe(0);
    }
    f.close();
    expect(() => read(f, 0, 1)).toThrow(/read after close/);
    expect(() => new FileSource(path.join(dir, "missing.bin"))).toThrow(/ENOENT/);
  });
});

describe("validateScan on a BufferSource equals validateScan on the path", () => {
  const strip = (r: Awaited<ReturnType<typeof validateScan>>) => {
    const { source, ...rest } = r;
    return { source, rest };
  };

  async function compare(file: string) {
    const fromPath = strip(await validateScan(file));
    const fromBuffer = strip(await validateScan(new BufferSource(`mem:${path.basename(file)}`, fs.readFileSync(file))));
    expect(fromPath.source).toBe(file);
    expect(fromBuffer.source).toBe(`mem:${path.basename(file)}`);
    expect(fromBuffer.rest).toEqual(fromPath.rest);
    return fromPath.rest;
  }

  it("a valid scan", async () => {
    const file = path.join(dir, "valid.h5");
    await writeValidScan(file, { compression: "gzip" });
    const r = await compare(file);
    expect(r.ok).toBe(true);
    expect(r.read.requests).toBeGreaterThan(0);
    expect(r.read.bytesFetched).toBe(r.read.fileBytes); // a small file: its pages are all read
  });

  it("a scan with several problems", async () => {
    const file = path.join(dir, "bad.h5");
    await writeValidScan(file, { dtype: "float32" });
    await editH5(file, (h) => {
      const m = h.get("metadata") as unknown as typeof h;
      m.delete_attribute("energy_keV");
      m.create_attribute("energy_keV", 12000, null, "<d");
      (h.get("/ptychography/diffraction") as unknown as { write_slice(r: unknown, d: unknown): void }).write_slice([[0, 1], [0, 1], [0, 1]], new Float32Array([-2]));
    });
    const r = await compare(file);
    expect(r.errors.map((e) => e.code)).toEqual(["implausible-value", "negative-counts"]);
  });

  it("not HDF5, truncated and empty files", async () => {
    const text = path.join(dir, "notes.txt");
    fs.writeFileSync(text, "not a scan\n");
    expect((await compare(text)).errors.map((e) => e.code)).toEqual(["not-hdf5"]);
    const valid = path.join(dir, "v.h5");
    await writeValidScan(valid);
    const cut = path.join(dir, "cut.h5");
    const all = fs.readFileSync(valid);
    fs.writeFileSync(cut, all.subarray(0, all.length >> 1));
    expect((await compare(cut)).errors.map((e) => e.code)).toEqual(["unreadable-hdf5"]);
    const empty = path.join(dir, "empty.h5");
    fs.writeFileSync(empty, "");
    expect((await compare(empty)).errors.map((e) => e.code)).toEqual(["empty-file"]);
  });
});
