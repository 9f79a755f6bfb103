/**
 * The outputs of one run in its folder (DESIGN.md "Results"): result.h5, metrics.json (with the correlation
 * analysis), PNG previews, report.html (docs/reports.md), and manifest.json written last. A folder without
 * manifest.json is an incomplete run.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { correlate, type Correlation, type CorrelationResult } from "../metrics/correlation.js";
import { beamAreaPixels } from "../metrics/beam.js";
import { illuminatedMask, illuminationMap } from "../metrics/illumination.js";
import { esc } from "../report/html/escape.js";
import { planPreviews, writePreviews } from "../report/previews.js";
import { renderRunReport } from "../report/runReport.js";
import { phaseAndAmplitude, writeResult } from "../scan/result.js";
import { AMPLITUDE, elementMapUnit, freeMapUnit, PHASE, PROBE } from "../scan/units.js";
import { DEFAULT_CONFIG } from "../solver/config.js";
import type { Errors } from "../solver/evaluate.js";
import { checkStateFinite } from "../solver/finite.js";
import type { Reconstruction } from "../solver/reconstruct.js";
import { version } from "../version.js";
import type { MaskLabels } from "./correlationMask.js";

export const MANIFEST = "manifest.json";
export const REPORT = "report.html";

export interface FinalMetrics {
  loss_total: number;
  loss_ptycho?: number;
  loss_xrf?: number;
  weight_ptycho?: number;
  weight_xrf?: number;
  object_rel_error?: number;
  object_cpcc?: number;
  element_rel_error?: Record<string, number>;
}

export interface RunMetrics {
  ptyxrf: string;
  engine: string;
  device: string;
  mode: string;
  iterations: number;
  wall_s: number;
  ms_per_iter: number;
  scan: string;
  /** sha256 of the scan file as read (hex); null when the caller did not have it. */
  scan_sha256: string | null;
  truth: string | null;
  /** Object pixel size, metres. */
  pixel_size_m: number;
  /** The unit of every quantity in result.h5 and here (src/scan/units.ts, docs/units.md). */
  units: Record<string, string>;
  final: FinalMetrics;
  /** Correlation analysis (docs/reports.md); null when the run has no phase (mode xrf). */
  correlation: Correlation | null;
  config: unknown;
  history: unknown[];
}

export function finalMetrics(r: Reconstruction, errors: Errors | null): FinalMetrics {
  const last = r.history.last();
  const f: FinalMetrics = { loss_total: last?.losses.total ?? NaN };
  if (last?.losses.ptycho !== undefined) f.loss_ptycho = last.losses.ptycho;
  if (last?.losses.xrf !== undefined) f.loss_xrf = last.losses.xrf;
  if (last?.weights.ptycho !== undefined) f.weight_ptycho = last.weights.ptycho;
  if (last?.weights.xrf !== undefined) f.weight_xrf = last.weights.xrf;
  if (errors?.object_rel_error !== undefined) f.object_rel_error = errors.object_rel_error;
  if (errors?.object_cpcc !== undefined) f.object_cpcc = errors.object_cpcc;
  if (errors && Object.keys(errors.element_rel_error).length) f.element_rel_error = errors.element_rel_error;
  return f;
}

function sha256(file: string): string {
  return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/** sha256 (hex) of a file, read as a stream (constant memory, any size). */
export async function fileSha256(file: string): Promise<string> {
  const hash = crypto.createHash("sha256");
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * The checksum of the scan a reconstruction was made from, noted where the run read the scan (reconstructRun's
 * solve) so that every caller of writeRunOutputs (CLI, worker, demo) records it without passing it along.
 */
const scanChecksums = new WeakMap<Reconstruction, string>();
export function noteScanChecksum(r: Reconstruction, sha256Hex: string): void {
  scanChecksums.set(r, sha256Hex);
}

export function configHash(config: unknown): string {
  return crypto.createHash("sha256").update(JSON.stringify(config)).digest("hex").slice(0, 16);
}

/** Writes every output of a finished reconstruction into `dir`; returns the file names, manifest last. */
export async function writeRunOutputs(
  dir: string, r: Reconstruction,
  info: {
    scan: string; truth: string | null; errors: Errors | null; scanSha256?: string | null;
    /** The label image of config correlation.mask, read before the run (correlationMask.ts): never read here. */
    correlationLabels?: MaskLabels;
  },
): Promise<{ files: string[]; metrics: RunMetrics }> {
  checkStateFinite(r); // no file, and never a manifest, over NaN results
  fs.mkdirSync(dir, { recursive: true });
  fs.rmSync(path.join(dir, MANIFEST), { force: true }); // a rerun into the same folder is incomplete until it ends
  const { height: H, width: W, pixelSize } = r.geometry;
  const HW = H * W;
  const maps = r.maps ? Object.fromEntries(r.elements.map((el, e) => [el, r.maps!.subarray(e * HW, (e + 1) * HW)])) : null;
  const elementUnit = elementMapUnit(r.link), freeUnit = freeMapUnit(r.link);
  await writeResult(path.join(dir, "result.h5"), {
    height: H, width: W, object: r.object, pixelSize_m: pixelSize,
    probe: { modes: r.modes, n: r.frameSize, data: r.probe },
    maps, free: r.free, mapUnit: elementUnit, freeUnit,
    attributes: {
      mode: r.config.mode, engine: r.engine.name, device: r.engine.device, iterations: r.config.iterations,
      scan: info.scan, link: JSON.stringify(r.link), config: JSON.stringify(r.config),
    },
  });
  const { phase, amplitude } = phaseAndAmplitude(r.object);
  const mask = illuminatedMask(illuminationMap(r.probe, r.geometry.windows));
  const hasPhase = r.config.mode !== "xrf";
  let correlation: CorrelationResult | null = null;
  if (hasPhase) {
    const maskName = r.config.correlation?.mask ?? "";
    const user: MaskLabels = info.correlationLabels ?? (maskName ? { warning: `correlation.mask ${maskName} was not read before the run: segmented the phase instead` } : {});
    correlation = correlate({
      phase, width: W, height: H, elements: maps ?? {}, pixelSize_m: pixelSize, mask,
      minRegionPixels: r.config.correlation?.minRegionPixels ?? DEFAULT_CONFIG.correlation.minRegionPixels,
      beamAreaPixels: beamAreaPixels(r.probe, r.frameSize),
      ...(user.labels ? { labels: user.labels } : {}), ...(user.warning ? { warnings: [user.warning] } : {}),
    });
  }
  const scanSha256 = info.scanSha256 ?? scanChecksums.get(r) ?? null;
  const metrics: RunMetrics = {
    ptyxrf: version(),
    engine: r.engine.name,
    device: r.engine.device,
    mode: r.config.mode,
    iterations: r.config.iterations,
    wall_s: r.wall_s,
    ms_per_iter: (1000 * r.wall_s) / Math.max(1, r.config.iterations),
    scan: info.scan,
    scan_sha256: scanSha256,
    truth: info.truth,
    pixel_size_m: pixelSize,
    units: {
      phase: PHASE.units, amplitude: AMPLITUDE.units, element_maps: elementUnit.units, free_map: freeUnit.units,
      probe: PROBE.units, pixel_size_m: "m", wall_s: "s", ms_per_iter: "ms", errors: "1 (relative)",
    },
    final: finalMetrics(r, info.errors),
    correlation: correlation?.correlation ?? null,
    config: r.config,
    history: r.history.toJSON().records,
  };
  fs.writeFileSync(path.join(dir, "metrics.json"), `${JSON.stringify(metrics, null, 2)}\n`);
  const previewInput = { ...(hasPhase ? { phase, amplitude } : {}), width: W, height: H, elements: maps ?? {}, mask, pixelSize_m: pixelSize, elementUnit };
  const previews = writePreviews(dir, previewInput);
  const created = new Date().toISOString();
  let report: string;
  try {
    report = renderRunReport({
      run: { ...metrics, history: r.history.toJSON().records }, provenance: { version: metrics.ptyxrf, created, scanSha256, configHash: configHash(r.config) },
      configDefaults: DEFAULT_CONFIG, width: W, height: H, pixelSize_m: pixelSize, elementUnit,
      previews: planPreviews(previewInput), ...(hasPhase ? { phase } : {}), elements: maps ?? {}, correlation,
    });
  } catch (err) {
    // the run's results matter more than its report: say what went wrong in the page instead of failing the run
    report = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>report failed</title></head><body><h1>The report could not be rendered</h1><pre>${esc((err as Error).stack ?? String(err))}</pre><p>See metrics.json and the PNG previews.</p></body></html>\n`;
  }
  fs.writeFileSync(path.join(dir, REPORT), report);
  const files = ["result.h5", "metrics.json", ...previews.files.map((f) => path.basename(f)), REPORT];
  const manifest = {
    complete: true,
    ptyxrf: version(),
    created,
    mode: r.config.mode,
    config_hash: configHash(r.config),
    scan: info.scan,
    scan_sha256: scanSha256,
    files: files.map((name) => ({ name, bytes: fs.statSync(path.join(dir, name)).size, sha256: sha256(path.join(dir, name)) })),
  };
  const tmp = path.join(dir, `${MANIFEST}.partial`);
  fs.writeFileSync(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
  fs.renameSync(tmp, path.join(dir, MANIFEST));
  return { files: [...files, MANIFEST], metrics };
}
