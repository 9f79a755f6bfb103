/**
 * config correlation.mask on the CLI: a local path, read BEFORE the scan and the solve. A device, a FIFO, a
 * folder, a file over 16 MiB, a file that is not a PNG or does not exist: exit 2 at once with the reason, no
 * output folder, nothing reconstructed (it used to be read after the whole run: /dev/zero grew the process to
 * gigabytes, a FIFO hung it).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_MASK_BYTES, readLocalMask } from "../../src/pipeline/correlationMask.js";
import { ConfigError } from "../../src/solver/config.js";
import { tmpDir } from "../scan/fixtures.js";
import { writeSmallScan } from "../pipeline/badRuns.js";
import { cli } from "./run.js";

const dir = tmpDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => path.join(dir, name);

beforeAll(async () => {
  await writeSmallScan(file("scan.h5"));
  execFileSync("mkfifo", [file("fifo.png")]);
  fs.writeFileSync(file("big.png"), "");
  fs.truncateSync(file("big.png"), MAX_MASK_BYTES + 1); // sparse: declared, not written
  fs.writeFileSync(file("notes.png"), "these are not the labels you are looking for");
  fs.mkdirSync(file("folder.png"));
  fs.symlinkSync("/dev/zero", file("zero-link.png"));
});

async function runWithMask(mask: string) {
  const cfg = file(`cfg-${path.basename(mask)}.json`);
  fs.writeFileSync(cfg, JSON.stringify({ correlation: { mask } }));
  const out = file(`out-${path.basename(mask)}`);
  const t0 = performance.now();
  const r = await cli("reconstruct", file("scan.h5"), "--out", out, "--iterations", "3", "--threads", "1", "--config", cfg);
  return { ...r, ms: performance.now() - t0, wroteOutputs: fs.existsSync(out) };
}

describe("correlation.mask is read before the run, and only from a regular file of at most 16 MiB", () => {
  const cases: [string, () => string, RegExp][] = [
    ["/dev/zero", () => "/dev/zero", /"correlation\.mask" \/dev\/zero is a character device: it must be a PNG file/],
    ["a symlink to /dev/zero", () => file("zero-link.png"), /zero-link\.png is a character device: it must be a PNG file/],
    ["a FIFO (no writer: it would hang)", () => file("fifo.png"), /fifo\.png is a named pipe \(FIFO\): it must be a PNG file/],
    ["a folder", () => file("folder.png"), /folder\.png is a directory: it must be a PNG file/],
    ["a file over 16 MiB", () => file("big.png"), new RegExp(`big\\.png is ${MAX_MASK_BYTES + 1} bytes: a label image may have at most ${MAX_MASK_BYTES}`)],
    ["a file that is not a PNG", () => file("notes.png"), /notes\.png is not a PNG file/],
    ["a missing file", () => file("missing.png"), /missing\.png cannot be opened \(no such file\)/],
  ];
  for (const [name, mask, reason] of cases) {
    it(`${name}: exit 2 at once with the reason, nothing written`, async () => {
      if (mask() === "/dev/zero" && !fs.existsSync("/dev/zero")) return;
      const r = await runWithMask(mask());
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^ptyxrf reconstruct: invalid config: "correlation\\.mask" ${mask().replace(/[.]/g, "\\.")} `));
      expect(r.stderr).toMatch(reason);
      expect(r.stderr).not.toMatch(/iteration 1\//); // failed before the solve
      expect(r.wroteOutputs).toBe(false);
      expect(r.ms).toBeLessThan(2000);
    });
  }

  it("readLocalMask reads a PNG-sized regular file whole, and no more than the cap", () => {
    fs.writeFileSync(file("small.bin"), Buffer.alloc(100, 7));
    expect(Array.from(readLocalMask(file("small.bin")))).toEqual(Array(100).fill(7));
    expect(() => readLocalMask(file("small.bin"), 99)).toThrow(ConfigError);
  });

  it("ptyxrf submit: a mask path is refused before anything is uploaded (the service reads masks from beside the scan)", async () => {
    const cfg = file("cfg-submit.json");
    fs.writeFileSync(cfg, JSON.stringify({ correlation: { mask: "/dev/zero" } }));
    const r = await cli("submit", file("scan.h5"), "--config", cfg, "--profile", "local");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^ptyxrf submit: invalid config: "correlation\.mask" must name a PNG in the scan's own folder, as a key relative to it .* not a path on the worker; got "\/dev\/zero"/);
  });
});
