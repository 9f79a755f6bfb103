/**
 * The outputs of one run in its folder (DESIGN.md "Results"): result.h5, metrics.json, PNG previews, and
 * manifest.json written last. A folder without manifest.json is an incomplete run.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { illuminatedMask, illuminationMap } from "../metrics/illumination.js";
import { writePreviews } from "../report/previews.js";
import { phaseAndAmplitude, writeResult } from "../scan/result.js";
import type { Errors } from "../solver/evaluate.js";
import type { Reconstruction } from "../solver/reconstruct.js";
import { version } from "../version.js";

export const MANIFEST = "manifest.json";

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
  truth: string | null;
  final: FinalMetrics;
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

export function configHash(config: unknown): string {
  return crypto.createHash("sha256").update(JSON.stringify(config)).digest("hex").slice(0, 16);
}

/** Writes every output of a finished reconstruction into `dir`; returns the file names, manifest last. */
export async function writeRunOutputs(
  dir: string, r: Reconstruction, info: { scan: string; truth: string | null; errors: Errors | null },
): Promise<{ files: string[]; metrics: RunMetrics }> {
  fs.mkdirSync(dir, { recursive: true });
  fs.rmSync(path.join(dir, MANIFEST), { force: true }); // a rerun into the same folder is incomplete until it ends
  const { height: H, width: W, pixelSize } = r.geometry;
  const HW = H * W;
  const maps = r.maps ? Object.fromEntries(r.elements.map((el, e) => [el, r.maps!.subarray(e * HW, (e + 1) * HW)])) : null;
  await writeResult(path.join(dir, "result.h5"), {
    height: H, width: W, object: r.object, pixelSize_m: pixelSize,
    probe: { modes: r.modes, n: r.frameSize, data: r.probe },
    maps, free: r.free,
    attributes: {
      mode: r.config.mode, engine: r.engine.name, device: r.engine.device, iterations: r.config.iterations,
      scan: info.scan, link: JSON.stringify(r.link), config: JSON.stringify(r.config),
    },
  });
  const metrics: RunMetrics = {
    ptyxrf: version(),
    engine: r.engine.name,
    device: r.engine.device,
    mode: r.config.mode,
    iterations: r.config.iterations,
    wall_s: r.wall_s,
    ms_per_iter: (1000 * r.wall_s) / Math.max(1, r.config.iterations),
    scan: info.scan,
    truth: info.truth,
    final: finalMetrics(r, info.errors),
    config: r.config,
    history: r.history.toJSON().records,
  };
  fs.writeFileSync(path.join(dir, "metrics.json"), `${JSON.stringify(metrics, null, 2)}\n`);
  const { phase, amplitude } = phaseAndAmplitude(r.object);
  const mask = illuminatedMask(illuminationMap(r.probe, r.geometry.windows));
  const previews = writePreviews(dir, {
    ...(r.config.mode === "xrf" ? {} : { phase, amplitude }), width: W, height: H, elements: maps ?? {}, mask,
  });
  const files = ["result.h5", "metrics.json", ...previews.files.map((f) => path.basename(f))];
  const manifest = {
    complete: true,
    ptyxrf: version(),
    created: new Date().toISOString(),
    mode: r.config.mode,
    config_hash: configHash(r.config),
    scan: info.scan,
    files: files.map((name) => ({ name, bytes: fs.statSync(path.join(dir, name)).size, sha256: sha256(path.join(dir, name)) })),
  };
  const tmp = path.join(dir, `${MANIFEST}.partial`);
  fs.writeFileSync(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
  fs.renameSync(tmp, path.join(dir, MANIFEST));
  return { files: [...files, MANIFEST], metrics };
}
