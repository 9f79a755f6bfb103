/**
 * Checkpoints: the solver's snapshot round-trips through the checkpoint file bit for bit, and a run resumed
 * from a snapshot ends exactly where the uninterrupted run ends (variables, losses, history), in every mode
 * and with the stateful schedules (mini-batches, plateau, positions, fixed TV weight). Corrupt or truncated
 * files are refused; the cadence policy fires every N iterations or M minutes.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ReferenceEngine } from "../../../src/engine/reference.js";
import { CheckpointFormatError, decodeCheckpoint, encodeCheckpoint, type CheckpointIdentity } from "../../../src/pipeline/checkpoint/format.js";
import { CheckpointPolicy, cadenceFromEnv } from "../../../src/pipeline/checkpoint/policy.js";
import { FileCheckpointStore } from "../../../src/pipeline/checkpoint/store.js";
import { ConfigError } from "../../../src/solver/config.js";
import { reconstruct, type Reconstruction, type SolverSnapshot } from "../../../src/solver/reconstruct.js";
import { simScan } from "../../solver/simScan.js";

const data = simScan({ preset: "small", seed: 3 });
const grid = { height: data.truth.object.height, width: data.truth.object.width };
const identity: CheckpointIdentity = { scan: "s3://b/incoming/u/s.h5", scanVersion: "etag:abc", configHash: "0123456789abcdef", truth: "" };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ptyxrf-ckpt-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function run(config: Record<string, unknown>, o: { stopAt?: number; resume?: SolverSnapshot } = {}): Promise<{ r: Reconstruction | null; snap: SolverSnapshot | null }> {
  let snap: SolverSnapshot | null = null;
  try {
    const r = await reconstruct(data.scan, { engine: "reference", ...config }, {
      engine: new ReferenceEngine(), grid,
      ...(o.resume ? { resume: o.resume } : {}),
      onCheckpoint: (it, capture) => {
        if (it === o.stopAt) {
          // through the file format, as the worker does
          snap = decodeCheckpoint(encodeCheckpoint({ identity, created: "now", snapshot: capture() })).snapshot;
          throw new Error("stop");
        }
      },
    });
    return { r, snap };
  } catch (err) {
    if ((err as Error).message !== "stop") throw err;
    return { r: null, snap };
  }
}

function expectSame(a: Reconstruction, b: Reconstruction): void {
  expect(Buffer.from(b.object.buffer).equals(Buffer.from(a.object.buffer))).toBe(true);
  expect(Buffer.from(b.probe.buffer).equals(Buffer.from(a.probe.buffer))).toBe(true);
  if (a.maps) expect(Buffer.from(b.maps!.buffer).equals(Buffer.from(a.maps.buffer))).toBe(true);
  if (a.free) expect(Buffer.from(b.free!.buffer).equals(Buffer.from(a.free.buffer))).toBe(true);
  const strip = (r: Reconstruction) => r.history.records.map(({ time_s: _t, ...rest }) => rest);
  expect(strip(b)).toEqual(strip(a));
}

describe("resume from a snapshot", () => {
  const cases: [string, Record<string, unknown>, number][] = [
    ["joint (GradNorm, probe refinement from 20)", { mode: "joint", iterations: 30 }, 23],
    ["ptycho", { mode: "ptycho", iterations: 24 }, 10],
    ["xrf", { mode: "xrf", iterations: 16 }, 5],
    ["joint with mini-batches, plateau schedules and fixed TV", {
      mode: "joint", iterations: 14, batches: { growth: "linear", start: 6, factor: 6 }, plateau: { enabled: true, patience: 1 },
      atv: { ratio: 0.01, adaptive: false },
    }, 6],
    ["ptycho with position refinement", { mode: "ptycho", iterations: 14, positions: { refine: true, refineAfter: 3 } }, 8],
  ];
  for (const [name, config, stopAt] of cases) {
    it(`${name}: bit-identical to the uninterrupted run`, async () => {
      const full = (await run(config)).r!;
      const { snap } = await run(config, { stopAt });
      expect(snap!.meta.iteration).toBe(stopAt);
      const resumed = (await run(config, { resume: snap! })).r!;
      expectSame(full, resumed);
      expect(resumed.history.records[stopAt].time_s).toBeGreaterThanOrEqual(snap!.meta.elapsed_s);
    });
  }

  it("refuses a snapshot of another run", async () => {
    const { snap } = await run({ mode: "joint", iterations: 10 }, { stopAt: 4 });
    await expect(run({ mode: "joint", iterations: 12 }, { resume: snap! })).rejects.toThrow(ConfigError);
    await expect(run({ mode: "ptycho", iterations: 10 }, { resume: snap! })).rejects.toThrow(/mode/);
  });
});

describe("checkpoint file", () => {
  it("round-trips every array and the metadata; refuses truncated or corrupted files", async () => {
    const { snap } = await run({ mode: "joint", iterations: 8 }, { stopAt: 5 });
    const bytes = encodeCheckpoint({ identity, created: "2026-01-01T00:00:00Z", snapshot: snap! });
    const back = decodeCheckpoint(bytes);
    expect(back.identity).toEqual(identity);
    expect(Object.keys(back.snapshot.arrays).sort()).toEqual(Object.keys(snap!.arrays).sort());
    for (const [k, a] of Object.entries(snap!.arrays)) {
      expect(back.snapshot.arrays[k].constructor).toBe(a.constructor);
      expect(Buffer.from(back.snapshot.arrays[k].buffer).equals(Buffer.from(a.buffer, a.byteOffset, a.byteLength))).toBe(true);
    }
    expect(back.snapshot.meta).toEqual(snap!.meta);
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 3))).toThrow(/truncated/);
    const bad = Buffer.from(bytes);
    bad[bad.length - 1] ^= 0xff;
    expect(() => decodeCheckpoint(bad)).toThrow(/checksum/);
    expect(() => decodeCheckpoint(Buffer.from("hello world, not a checkpoint"))).toThrow(CheckpointFormatError);

    const store = new FileCheckpointStore(path.join(dir, "run", "solver.ckpt"));
    expect((await store.load()).checkpoint).toBeNull();
    await store.save(bytes);
    expect((await store.load()).checkpoint!.snapshot.meta.iteration).toBe(5);
    fs.writeFileSync(store.file, bad);
    expect((await store.load()).problem).toMatch(/checksum/);
    await store.clear();
    expect((await store.load()).checkpoint).toBeNull();
  });

  it("cadence: every N iterations or M minutes, whichever first; never after the last iteration", () => {
    let now = 0;
    const p = new CheckpointPolicy({ everyIterations: 10, everyMs: 60_000 }, 0, () => now);
    expect(p.due(9, 100)).toBe(false);
    expect(p.due(10, 100)).toBe(true);
    p.taken(10);
    now = 59_000;
    expect(p.due(12, 100)).toBe(false);
    now = 60_000;
    expect(p.due(13, 100)).toBe(true);
    p.taken(13);
    expect(p.due(100, 100)).toBe(false);
    expect(cadenceFromEnv({ PTYXRF_CHECKPOINT_EVERY: "5", PTYXRF_CHECKPOINT_MINUTES: "0.5" })).toEqual({ cadence: { everyIterations: 5, everyMs: 30_000 }, problems: [] });
    expect(cadenceFromEnv({ PTYXRF_CHECKPOINT_EVERY: "-1" }).problems).toHaveLength(1);
    expect(cadenceFromEnv({}).cadence).toEqual({ everyIterations: 50, everyMs: 300_000 });
  });
});
