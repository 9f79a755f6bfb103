import { describe, expect, it } from "vitest";
import { makeEvaluator } from "../../src/solver/evaluate.js";
import { meanPattern, probeFromMeanPattern } from "../../src/solver/init.js";
import { runRpie } from "../../src/solver/rpie.js";
import { simScan } from "./simScan.js";

// small preset: 64 x 64 object, 32 x 32 probe, 6 x 6 raster, Poisson noise at 1e6 photons; the probe guess in
// the file is the true probe (a characterised beamline probe), the object starts flat
const data = simScan({ preset: "small", seed: 3 });
const grid = { height: data.truth.object.height, width: data.truth.object.width };

describe("rPIE", () => {
  it("reduces the object error substantially within 30 iterations, and the loss falls", async () => {
    const errors: number[] = [];
    let evaluate: ReturnType<typeof makeEvaluator> | null = null;
    const r = await runRpie(data.scan, {
      iterations: 30, grid, refineAfter: 5,
      onIteration: (record, state, geometry) => {
        evaluate ??= makeEvaluator(data.truth, geometry.windows);
        if (record.iteration === 1) {
          // the starting error: a flat object of the amplitude the counts imply
          const flat = new Float32Array(state.object.length);
          for (let p = 0; p < flat.length; p += 2) flat[p] = 1;
          errors.push(evaluate({ ...state, object: flat }, [], "ptycho").object_rel_error!);
        }
        errors.push(evaluate(state, [], "ptycho").object_rel_error!);
      },
    });
    const h = r.history.records;
    expect(h).toHaveLength(30);
    expect(errors[30]).toBeLessThan(0.5 * errors[0]);
    expect(errors[30]).toBeLessThan(0.07);
    expect(h[29].losses.ptycho).toBeLessThan(0.5 * h[0].losses.ptycho);
    expect(h[29].losses.ptycho).toBeLessThan(h[9].losses.ptycho);
    expect(h[9].losses.ptycho).toBeLessThan(h[0].losses.ptycho);
    expect(h[0].steps.beta).toBeUndefined(); // probe fixed before refineAfter
    expect(h[29].steps).toEqual({ alpha: 0.1, beta: 1 });
    expect(r.object.length).toBe(2 * grid.height * grid.width);
    expect(r.probe.length).toBe(2 * 32 * 32);
  });

  it("is deterministic for a seed; the seed sets the position order", async () => {
    const a = await runRpie(data.scan, { iterations: 3, grid, seed: 5 });
    const b = await runRpie(data.scan, { iterations: 3, grid, seed: 5 });
    const c = await runRpie(data.scan, { iterations: 3, grid, seed: 6 });
    expect(Buffer.from(a.object.buffer).equals(Buffer.from(b.object.buffer))).toBe(true);
    expect(Buffer.from(a.probe.buffer).equals(Buffer.from(b.probe.buffer))).toBe(true);
    expect(Buffer.from(a.object.buffer).equals(Buffer.from(c.object.buffer))).toBe(false);
  });

  it("mixed states (K = 2) from the mean pattern; probe refinement off keeps the probe", async () => {
    const mixed = simScan({ preset: "small", seed: 4, probeModes: 2, probeGuess: false });
    const { npos, frameSize: n } = mixed.scan.header;
    const probe = probeFromMeanPattern(meanPattern(mixed.scan.diffraction, npos, n), n, 2);
    const r = await runRpie(mixed.scan, { iterations: 8, initial: { probe } });
    expect(r.modes).toBe(2);
    const h = r.history.records;
    expect(h[7].losses.ptycho).toBeLessThan(0.7 * h[0].losses.ptycho);
    const fixed = await runRpie(data.scan, { iterations: 2, grid, probeRefine: false });
    expect(Array.from(fixed.probe)).toEqual(Array.from(data.scan.header.probeGuess!.data));
    await expect(runRpie(data.scan, { iterations: 1, alpha: 2 })).rejects.toThrow(/alpha and beta/);
    await expect(runRpie(mixed.scan, { iterations: 1, probeInit: "file" })).rejects.toThrow(/no \/ptychography\/probe_guess/);
  });
});
