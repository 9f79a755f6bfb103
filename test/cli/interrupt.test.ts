/**
 * Ctrl-C / SIGTERM during `ptyxrf reconstruct` (src/pipeline/runFolder/checkpoints.ts): a checkpoint at the
 * next iteration boundary, exit 130 / 143 with the command that resumes, --resume ending bit for bit where an
 * uninterrupted run ends, a checkpoint of another run refused, a second Ctrl-C quitting at once.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import h5wasm from "h5wasm/node";
import { writer } from "../../src/scan/h5runtime.js";
import { writeScan, writeTruth } from "../../src/scan/write.js";
import { simulate } from "../../src/sim/simulate.js";
import { sha256, tmpDir } from "../scan/fixtures.js";
import { cli } from "./run.js";
import { spawnBin } from "./spawn.js";

const dir = tmpDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const at = (name: string) => path.join(dir, name);
beforeAll(async () => {
  const sim = simulate({ preset: "small", seed: 6 });
  await writeScan(at("scan.h5"), sim.header, sim.frames);
  await writeTruth(at("truth.h5"), sim.truth);
  const other = simulate({ preset: "small", seed: 7 });
  await writeScan(at("other.h5"), other.header, other.frames);
  await writeTruth(at("other-truth.h5"), other.truth);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every dataset of an HDF5 file: path -> raw bytes. */
async function datasets(file: string): Promise<Map<string, Buffer>> {
  await writer();
  const f = new h5wasm.File(file, "r");
  const out = new Map<string, Buffer>();
  const walk = (g: InstanceType<typeof h5wasm.Group>, prefix: string) => {
    for (const name of g.keys()) {
      const item = g.get(name);
      if (item instanceof h5wasm.Group) walk(item, `${prefix}${name}/`);
      else if (item instanceof h5wasm.Dataset) {
        const v = item.value;
        out.set(`${prefix}${name}`, ArrayBuffer.isView(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : Buffer.from(JSON.stringify(v)));
      }
    }
  };
  try {
    walk(f, "");
  } finally {
    f.close();
  }
  return out;
}

const metrics = (out: string) => JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8"));
const withoutTimes = (history: { time_s: number }[]) => history.map(({ time_s: _t, ...rest }) => rest);

describe("ptyxrf reconstruct: Ctrl-C, then --resume", () => {
  it("SIGINT checkpoints at the next iteration (exit 130, the old complete run untouched); --resume ends bit-identical to an uninterrupted run", async () => {
    const N = 60;
    const args = (out: string) => ["reconstruct", at("scan.h5"), "--out", out, "--iterations", String(N), "--truth", at("truth.h5"), "--threads", "1"];
    // the folder holds an earlier complete run: replaced (--force) only once the new run is complete
    const out = at("resumed");
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, "result.h5"), "the earlier run");
    fs.writeFileSync(path.join(out, "manifest.json"), JSON.stringify({ complete: true, created: "2020-01-01T00:00:00.000Z", files: [] }));
    const old = { result: sha256(path.join(out, "result.h5")), manifest: sha256(path.join(out, "manifest.json")) };

    const full = spawnBin(args(at("full"))); // the uninterrupted run, alongside
    const run = spawnBin([...args(out), "--force"]);
    await run.waitForStderr(/^iteration 1\/60 /m);
    run.child.kill("SIGINT");
    const r = await run.done;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain("SIGINT: stopping at the end of this iteration and saving a checkpoint (Ctrl-C again quits at once)");
    const m = /interrupted: stopped by SIGINT after iteration (\d+) of 60; checkpoint saved in (\S+)\n(\S+) (?:is unchanged|was not created)\. To continue where it stopped:\n {2}(.+)\n?$/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const stoppedAt = Number(m![1]);
    expect(stoppedAt).toBeGreaterThanOrEqual(1);
    expect(stoppedAt).toBeLessThan(N);
    expect(m![2]).toBe(path.join(`${out}.partial`, "_checkpoint", "solver.ckpt"));
    expect(fs.existsSync(m![2])).toBe(true);
    const resumeCommand = m![4].split(" ");
    expect(resumeCommand).toEqual(["ptyxrf", ...args(out), "--force", "--resume"]);
    // nothing of the new run in the folder, no lock left
    expect(sha256(path.join(out, "result.h5"))).toBe(old.result);
    expect(sha256(path.join(out, "manifest.json"))).toBe(old.manifest);
    expect(fs.readdirSync(out).sort()).toEqual(["manifest.json", "result.h5"]);
    expect(fs.existsSync(`${out}.lock`)).toBe(false);

    const resumed = await spawnBin(resumeCommand.slice(1)).done;
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`note: resuming from the checkpoint at iteration ${stoppedAt} of 60`);
    const f = await full.done;
    expect(f.code, f.stderr).toBe(0);

    const a = await datasets(path.join(at("full"), "result.h5"));
    const b = await datasets(path.join(out, "result.h5"));
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    expect([...a.keys()]).toEqual(expect.arrayContaining(["reconstructed/object", "reconstructed/probe", "reconstructed/elemental_maps/Fe", "reconstructed/elemental_maps/Zn", "reconstructed/free_map"]));
    for (const [name, bytes] of a) expect(b.get(name)!.equals(bytes), name).toBe(true);
    expect(sha256(path.join(out, "result.h5"))).toBe(sha256(path.join(at("full"), "result.h5"))); // the whole file
    const ma = metrics(at("full")), mb = metrics(out);
    expect(mb.final).toEqual(ma.final);
    expect(withoutTimes(mb.history)).toEqual(withoutTimes(ma.history));
    expect(fs.existsSync(`${out}.partial`)).toBe(false);
    expect(fs.existsSync(`${out}.lock`)).toBe(false);
  });

  it("SIGTERM: exit 143; --resume refuses a checkpoint of another config, scan or truth (exit 2) and keeps it; a plain rerun is refused until --resume or --force", async () => {
    const out = at("term");
    const args = ["reconstruct", at("scan.h5"), "--out", out, "--iterations", "80", "--truth", at("truth.h5"), "--threads", "1"];
    const run = spawnBin(args);
    await run.waitForStderr(/^iteration 1\/80 /m);
    run.child.kill("SIGTERM");
    const r = await run.done;
    expect(r.code, r.stderr).toBe(143);
    expect(r.stderr).toMatch(/interrupted: stopped by SIGTERM after iteration \d+ of 80; checkpoint saved in /);
    const ckpt = path.join(`${out}.partial`, "_checkpoint", "solver.ckpt");
    const saved = sha256(ckpt);

    const without = (flag: string) => args.filter((_, i) => args[i - 1] !== flag && args[i] !== flag);
    let x = await cli(...args.slice(0, 6), "--iterations", "81", "--truth", at("truth.h5"), "--threads", "1", "--resume");
    expect(x.code).toBe(2);
    expect(x.stderr).toMatch(new RegExp(`cannot resume: the checkpoint in ${ckpt.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} belongs to another run: the solver config differs \\(config hash [0-9a-f]{16} in the checkpoint, [0-9a-f]{16} now`));
    x = await cli("reconstruct", at("other.h5"), ...args.slice(2), "--resume");
    expect(x.code).toBe(2);
    expect(x.stderr).toMatch(/belongs to another run: the scan differs \(checkpoint: \S+scan\.h5, sha256 [0-9a-f]{12}\.\.\.; now: \S+other\.h5, sha256 [0-9a-f]{12}\.\.\.\)/);
    x = await cli(...without("--truth"), "--resume");
    expect(x.code).toBe(2);
    expect(x.stderr).toMatch(/belongs to another run: the ground truth differs \(checkpoint: sha256 [0-9a-f]{12}\.\.\.; now: none\)/);
    x = await cli(...args);
    expect(x.code).toBe(2);
    expect(x.stderr).toMatch(/term\.partial holds the checkpoint of an interrupted run \(iteration \d+ of 80, saved [\dT:.Z-]+\): add --resume to continue it, or --force to discard it and start afresh/);
    expect(sha256(ckpt)).toBe(saved); // every refusal kept it
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.existsSync(`${out}.lock`)).toBe(false);
  });

  it("a second Ctrl-C quits at once: no checkpoint, no outputs, the lock released", async () => {
    const bench = simulate({ preset: "bench", seed: 1 }); // ~0.4 s per iteration on one thread
    await writeScan(at("bench.h5"), bench.header, bench.frames);
    const out = at("twice");
    const run = spawnBin(["reconstruct", at("bench.h5"), "--out", out, "--iterations", "20", "--threads", "1"]);
    await run.waitForStderr(/^iteration 1\/20 /m);
    // both during iteration 2: the in-thread kernel holds the event loop, both handlers run at its end
    await sleep(40);
    run.child.kill("SIGINT");
    await sleep(40);
    run.child.kill("SIGINT");
    const r = await run.done;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain("SIGINT: stopping at the end of this iteration");
    expect(r.stderr).toContain(`SIGINT again: quitting at once; ${out} is unchanged, ${out}.partial is left incomplete`);
    expect(r.stderr).not.toContain("checkpoint saved");
    expect(fs.existsSync(path.join(`${out}.partial`, "_checkpoint", "solver.ckpt"))).toBe(false);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.existsSync(`${out}.lock`)).toBe(false);
    // the leftover without a checkpoint is cleared by the next run, which says so
    const next = await cli("reconstruct", at("bench.h5"), "--out", out, "--iterations", "1", "--threads", "2");
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain(`note: removed ${out}.partial: an earlier attempt that ended without a checkpoint`);
  });
});
