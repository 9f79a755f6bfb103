import fs from "node:fs";
import path from "node:path";
import { PRESETS, type PresetName, type SimOptions } from "../../sim/presets.js";
import { simulate } from "../../sim/simulate.js";
import { reader, writer } from "../../scan/h5runtime.js";
import { writeScan, writeTruth, type Compression } from "../../scan/write.js";
import { choiceOption, intOption, numberOption, parse, UsageError, type Command, type Io } from "../args.js";
import { formatBytes, formatLength, keyValues } from "../format.js";

const COMPRESSIONS = ["none", "gzip", "bitshuffle-lz4"] as const;

function gridOption(value: string | undefined): [number, number] | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)x(\d+)$/.exec(value);
  if (!m || +m[1] < 1 || +m[2] < 1) throw new UsageError(`--grid expects NYxNX, e.g. 20x20, got "${value}"`, "simulate");
  return [+m[1], +m[2]];
}

export const simulateCommand: Command = {
  name: "simulate",
  summary: "make a synthetic scan (scan.h5) with its ground truth (truth.h5)",
  usage: "ptyxrf simulate --preset small|paper|bench|large|lowdose --seed N --out DIR [options]",
  help: `Simulates a joint ptychography + XRF scan: a phantom of fluorescing elements in a non-fluorescing
matrix, a focused zone-plate-like probe, a raster or Fermat-spiral scan, diffraction patterns and XRF
maps with noise. Writes DIR/scan.h5 (the combined layout, as a beamline would) and DIR/truth.h5 (object,
probe, element maps, exact positions, link). Deterministic for a seed.

Presets:
  small   object 64, probe 32, 6x6 raster, Fe+Zn, exponential link, Poisson noise (fast, for tests)
  paper   object 154, probe 64, overlap 0.5, 3% Gaussian noise, Fe+Zn, linear link (the joint paper)
  bench   object 256, probe 64, 20x20 raster, Fe+Zn, exponential link, Poisson noise
  large   object 2048, probe 256, 64x64 raster: a 1 GiB diffraction stack, written block by block
  lowdose object 200, probe 64, 15x15 raster at overlap 0.5, Poisson, <= 1e3 photons in the brightest
          pattern (the DAP paper's low-dose setting)

Options (override the preset):
  --preset NAME         preset (default small)
  --seed N              random seed (default 1)
  --out DIR             output folder (required; created if missing)
  --compression C       diffraction compression: none, gzip, bitshuffle-lz4 (default none)
  --object-size N       object side in pixels
  --probe-size N        probe window = detector frame side (power of two)
  --modes K             incoherent probe modes
  --pattern P           raster or fermat
  --grid NYxNX          raster grid, e.g. 20x20
  --positions N         number of positions (Fermat spiral, or a square-ish raster)
  --overlap F           overlap in [0, 1): step = beam diameter x (1 - F)
  --noise KIND          none, poisson or gaussian
  --noise-level F       Gaussian sigma as a fraction (0.03 = 3%)
  --photons N           incident photons per exposure
  --max-pattern-photons P  scale the dose so the brightest noiseless pattern holds P photons
  --elements A,B        fluorescing elements, e.g. Fe,Zn,Cu
  --link L              linear or exponential
  --no-probe-guess      leave /ptychography/probe_guess out (by default the true probe is written
                        there, as a characterised beamline probe would be)
  -h, --help            this help`,
  async run(argv: string[], io: Io): Promise<number> {
    const { values: v, positionals } = parse("simulate", argv, {
      preset: { type: "string" }, seed: { type: "string" }, out: { type: "string" }, compression: { type: "string" },
      "object-size": { type: "string" }, "probe-size": { type: "string" }, modes: { type: "string" },
      pattern: { type: "string" }, grid: { type: "string" }, positions: { type: "string" }, overlap: { type: "string" },
      noise: { type: "string" }, "noise-level": { type: "string" }, photons: { type: "string" },
      elements: { type: "string" }, link: { type: "string" }, "no-probe-guess": { type: "boolean" },
      "max-pattern-photons": { type: "string" },
    }, false);
    void positionals;
    const cmd = "simulate";
    if (!v.out) throw new UsageError("--out DIR is required", cmd);
    const preset = choiceOption(cmd, "preset", v.preset, Object.keys(PRESETS) as PresetName[]) ?? "small";
    const grid = gridOption(v.grid);
    const npos = intOption(cmd, "positions", v.positions, 1);
    const overlap = numberOption(cmd, "overlap", v.overlap, 0, 0.99);
    const pattern = choiceOption(cmd, "pattern", v.pattern, ["raster", "fermat"] as const);
    const kind = choiceOption(cmd, "noise", v.noise, ["none", "poisson", "gaussian"] as const);
    const level = numberOption(cmd, "noise-level", v["noise-level"], 0, 10);
    const options: SimOptions = {
      preset,
      seed: intOption(cmd, "seed", v.seed, 0),
      objectSize: intOption(cmd, "object-size", v["object-size"], 8),
      probeSize: intOption(cmd, "probe-size", v["probe-size"], 8),
      probeModes: intOption(cmd, "modes", v.modes, 1),
      dose: numberOption(cmd, "photons", v.photons, 1, 2 ** 32 - 1),
      elements: v.elements?.split(",").map((s) => s.trim()).filter(Boolean),
      link: choiceOption(cmd, "link", v.link, ["linear", "exponential"] as const),
      ...(v["no-probe-guess"] ? { probeGuess: false } : {}),
      maxPatternPhotons: numberOption(cmd, "max-pattern-photons", v["max-pattern-photons"], 1, 2 ** 32 - 1),
      ...(grid || npos !== undefined || overlap !== undefined || pattern ? { scan: { pattern, grid, npos, overlap } } : {}),
      ...(kind || level !== undefined ? { noise: { kind, level } } : {}),
    };
    const compression = choiceOption(cmd, "compression", v.compression, COMPRESSIONS) ?? ("none" as Compression);

    await Promise.all([reader(), writer()]); // let HDF5 start before the synchronous simulation holds the event loop
    let sim;
    try {
      sim = simulate(options);
    } catch (err) {
      throw new UsageError((err as Error).message.replace(/^simulate: /, ""), cmd);
    }
    fs.mkdirSync(v.out, { recursive: true });
    const scanPath = path.join(v.out, "scan.h5");
    const truthPath = path.join(v.out, "truth.h5");
    const t0 = Date.now();
    await writeScan(scanPath, sim.header, sim.frames, { compression });
    await writeTruth(truthPath, sim.truth);
    const c = sim.config;
    io.out(keyValues([
      ["scan", `${scanPath} (${formatBytes(fs.statSync(scanPath).size)})`],
      ["truth", `${truthPath} (${formatBytes(fs.statSync(truthPath).size)})`],
      ["preset", `${c.preset}, seed ${c.seed}`],
      ["object", `${c.objectSize} x ${c.objectSize} pixels of ${formatLength(sim.truth.pixelSize_m)}, ${c.link} link`],
      ["probe", `${c.probeSize} x ${c.probeSize}, ${c.probeModes} mode(s), ${c.dose.toExponential(1)} photons`],
      ["positions", `${sim.header.npos} (${c.scan.pattern})`],
      ["elements", c.elements.join(", ")],
      ["noise", c.noise.kind === "gaussian" ? `Gaussian ${(100 * c.noise.level).toFixed(1)}%` : c.noise.kind],
      ["time", `${((Date.now() - t0) / 1000).toFixed(1)} s`],
    ]));
    return 0;
  },
};
