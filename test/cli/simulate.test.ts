/** `ptyxrf simulate` is reproducible to the byte (src/scan/fixedClock.ts): the scan sha256 in provenance means something. */
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sha256, tmpDir } from "../scan/fixtures.js";
import { cli } from "./run.js";

const dir = tmpDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("ptyxrf simulate", () => {
  it("writes byte-identical scan.h5 and truth.h5 for the same command, a second apart (HDF5 object times were the wall clock)", async () => {
    const run = async (name: string) => {
      const r = await cli("simulate", "--preset", "small", "--seed", "11", "--compression", "gzip", "--out", path.join(dir, name));
      expect(r.code, r.stderr).toBe(0);
      return ["scan.h5", "truth.h5"].map((f) => sha256(path.join(dir, name, f)));
    };
    const first = await run("a");
    await new Promise((r) => setTimeout(r, 1100 - (Date.now() % 1000))); // HDF5 stamps whole seconds: cross one
    const second = await run("b");
    expect(second).toEqual(first);
    expect(Date.now()).toBeGreaterThan(0); // the real clock is back after the writes
    expect(Math.abs(Date.now() - new Date().getTime())).toBeLessThan(1000);
  });
});
