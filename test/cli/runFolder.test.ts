/**
 * Run folders of `ptyxrf reconstruct` (src/pipeline/runFolder/): one run per folder at a time, a complete run
 * replaced only with --force and then whole, files that are not run outputs never deleted, stale locks and
 * crashed swaps recovered.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeScan, writeTruth } from "../../src/scan/write.js";
import { simulate } from "../../src/sim/simulate.js";
import { sha256, tmpDir } from "../scan/fixtures.js";
import { cli } from "./run.js";
import { spawnBin } from "./spawn.js";

const dir = tmpDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const scan = path.join(dir, "scan.h5");
const scan3 = path.join(dir, "scan3.h5");
beforeAll(async () => {
  const sim = simulate({ preset: "small", seed: 5 });
  await writeScan(scan, sim.header, sim.frames);
  const sim3 = simulate({ preset: "small", seed: 5, elements: ["Fe", "Zn", "Cu"] });
  await writeScan(scan3, sim3.header, sim3.frames);
});

/** name -> sha256 of every entry of a folder (folders as "dir"). */
function snapshot(folder: string): Record<string, string> {
  return Object.fromEntries(fs.readdirSync(folder).sort().map((n) => {
    const p = path.join(folder, n);
    return [n, fs.statSync(p).isDirectory() ? "dir" : sha256(p)];
  }));
}

/** Every file of a complete run folder is in its manifest with its sha256, and nothing else is there. */
function expectExactlyTheManifest(folder: string): void {
  const manifest = JSON.parse(fs.readFileSync(path.join(folder, "manifest.json"), "utf8")) as { files: { name: string; sha256: string }[] };
  const snap = snapshot(folder);
  expect(Object.keys(snap).sort()).toEqual([...manifest.files.map((f) => f.name), "manifest.json"].sort());
  for (const f of manifest.files) expect(snap[f.name]).toBe(f.sha256);
}

const siblings = (folder: string) => fs.readdirSync(path.dirname(folder)).filter((n) => n.startsWith(`${path.basename(folder)}.`));

describe("ptyxrf reconstruct: one run per folder", () => {
  it("two reconstructs started together into one folder: exactly one runs, the other fails at once naming the folder and the holder", async () => {
    const out = path.join(dir, "race");
    const args = ["reconstruct", scan, "--out", out, "--iterations", "30", "--threads", "1"];
    const a = spawnBin(args), b = spawnBin(args);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect([ra.code, rb.code].sort(), `${ra.stderr}\n----\n${rb.stderr}`).toEqual([0, 2]);
    const [winner, loser, winnerPid] = ra.code === 0 ? [ra, rb, a.child.pid] : [rb, ra, b.child.pid];
    expect(loser.stderr).toContain(`ptyxrf reconstruct: ${out} is in use by another ptyxrf reconstruct (pid ${winnerPid} on this host, started `);
    expect(loser.stderr).toMatch(/started \d{4}-\d\d-\d\dT[\d:.]+Z\): wait for it to finish or choose another --out/);
    expect(loser.stderr).not.toMatch(/internal error|iteration 1\//);
    expect(loser.ms).toBeLessThan(winner.ms); // failed at once, not after a reconstruction of its own
    expect(JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8")).iterations).toBe(30);
    expectExactlyTheManifest(out);
    expect(siblings(out)).toEqual([]); // no lock, no .partial left
  });

  it("a lock of a live run is respected; a stale lock (dead pid on this host) is taken over with a note; a lock from another host is never taken over", async () => {
    const out = path.join(dir, "locks");
    const lock = `${out}.lock`;
    const record = (pid: number, host: string) => JSON.stringify({ pid, host, started: "2020-01-02T03:04:05.000Z", command: "ptyxrf reconstruct", nonce: "n0" });

    fs.writeFileSync(lock, record(process.pid, os.hostname()));
    let r = await cli("reconstruct", scan, "--out", out, "--iterations", "2");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${out} is in use by another ptyxrf reconstruct (pid ${process.pid} on this host, started 2020-01-02T03:04:05.000Z)`);
    expect(fs.readFileSync(lock, "utf8")).toBe(record(process.pid, os.hostname())); // untouched

    fs.writeFileSync(lock, record(4242, "beamline-ws-7"));
    r = await cli("reconstruct", scan, "--out", out, "--iterations", "2");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`(pid 4242 on host beamline-ws-7, started 2020-01-02T03:04:05.000Z): wait for it to finish or choose another --out; if no run is going on there, delete ${lock}`);

    const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
    fs.writeFileSync(lock, record(dead, os.hostname()));
    r = await cli("reconstruct", scan, "--out", out, "--iterations", "2", "--threads", "1");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`note: took over a stale lock on ${out}: its holder (pid ${dead}, started 2020-01-02T03:04:05.000Z) is no longer running`);
    expect(fs.existsSync(lock)).toBe(false); // released at the end
    expectExactlyTheManifest(out);
  });
});

describe("ptyxrf reconstruct: a complete run is replaced only with --force, and then whole", () => {
  it("refuses a complete folder without --force (exit 2, nothing changed); --force replaces it and no file of the old run survives", async () => {
    const out = path.join(dir, "replace");
    let r = await cli("reconstruct", scan3, "--out", out, "--iterations", "2", "--threads", "1");
    expect(r.code, r.stderr).toBe(0);
    expect(fs.existsSync(path.join(out, "element_Cu.png"))).toBe(true);
    const before = snapshot(out);
    const created = JSON.parse(fs.readFileSync(path.join(out, "manifest.json"), "utf8")).created;

    r = await cli("reconstruct", scan, "--out", out, "--iterations", "2", "--threads", "1");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`ptyxrf reconstruct: ${out} holds a complete run (manifest.json, created ${created}): ptyxrf does not overwrite it; add --force to replace it, or choose another --out`);
    expect(snapshot(out)).toEqual(before);

    r = await cli("reconstruct", scan, "--out", out, "--iterations", "2", "--threads", "1", "--force");
    expect(r.code, r.stderr).toBe(0);
    expectExactlyTheManifest(out);
    expect(fs.existsSync(path.join(out, "element_Cu.png"))).toBe(false);
    expect(fs.existsSync(path.join(out, "overlay_Cu.png"))).toBe(false);
    expect(siblings(out)).toEqual([]);
  });

  it("--out spelled with a trailing slash builds beside the folder, never inside it, and a second run sees the same folder", async () => {
    const out = path.join(dir, "slash");
    let r = await cli("reconstruct", scan, "--out", `${out}/`, "--iterations", "2", "--threads", "1");
    expect(r.code, r.stderr).toBe(0);
    expectExactlyTheManifest(out);
    expect(siblings(out)).toEqual([]);
    r = await cli("reconstruct", scan, "--out", `${out}/`, "--iterations", "2", "--threads", "1", "--force");
    expect(r.code, r.stderr).toBe(0);
    expectExactlyTheManifest(out);
  });

  it("never deletes files that are not run outputs, even with --force; an empty folder is used as it is", async () => {
    const out = path.join(dir, "mine");
    fs.mkdirSync(out);
    const inode = fs.statSync(out).ino;
    let r = await cli("reconstruct", scan, "--out", out, "--iterations", "2", "--threads", "1");
    expect(r.code, r.stderr).toBe(0);
    expect(fs.statSync(out).ino).toBe(inode); // the user's folder itself, its files moved in (manifest last)
    expectExactlyTheManifest(out);
    fs.writeFileSync(path.join(out, "notes.txt"), "sample 7, second beamtime");
    fs.copyFileSync(scan, path.join(out, "scan.h5"));
    const before = snapshot(out);
    for (const force of [[], ["--force"]]) {
      r = await cli("reconstruct", scan, "--out", out, "--iterations", "2", ...force);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`ptyxrf reconstruct: ${out} holds files that are not ptyxrf run outputs (notes.txt, scan.h5): ptyxrf writes a run only into a new or empty folder, or with --force over a folder of its own run outputs; choose another --out`);
      expect(snapshot(out)).toEqual(before);
    }
  });

  it("a swap that a crash interrupted (old run aside, new run complete beside it) is finished by the next run into the folder", async () => {
    const out = path.join(dir, "crashed");
    let r = await cli("reconstruct", scan, "--out", out, "--iterations", "2", "--threads", "1");
    expect(r.code, r.stderr).toBe(0);
    const newRun = snapshot(out);
    // the state between commit()'s two renames: DIR.replaced (the old run), DIR.partial (the new, complete), no DIR
    fs.renameSync(out, `${out}.partial`);
    fs.mkdirSync(`${out}.replaced`);
    fs.writeFileSync(path.join(`${out}.replaced`, "manifest.json"), "{}");
    r = await cli("reconstruct", scan, "--out", out, "--iterations", "2");
    expect(r.stderr).toContain(`note: finished replacing ${out}: the last run ended between swapping its new folder in and removing the old one`);
    expect(r.code).toBe(2); // and then: a complete run, not replaced without --force
    expect(r.stderr).toContain(`${out} holds a complete run`);
    expect(snapshot(out)).toEqual(newRun);
    expect(siblings(out)).toEqual([]);
  });

  it("an incomplete folder of run outputs (no manifest) is replaced only with --force", async () => {
    const out = path.join(dir, "incomplete");
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, "result.h5"), "half written");
    fs.writeFileSync(path.join(out, "element_Cu.png"), "stale");
    let r = await cli("reconstruct", scan, "--out", out, "--iterations", "2");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${out} holds an incomplete run (no manifest.json: element_Cu.png, result.h5): add --force to replace it, or choose another --out`);
    r = await cli("reconstruct", scan, "--out", out, "--iterations", "2", "--threads", "1", "--force");
    expect(r.code, r.stderr).toBe(0);
    expectExactlyTheManifest(out);
  });
});
