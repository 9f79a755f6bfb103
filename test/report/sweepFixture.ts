/**
 * A synthetic sweep summary: two scans x a 3 x 2 grid of parameters, one failed and one missing task, every
 * metric a real sweep tabulates (src/pipeline/sweep/aggregate.ts flattenMetrics, for Fe and Zn), and each
 * task's phase.png preview figure as its thumbnail, as the aggregation embeds them.
 */
import { planPreviews } from "../../src/report/previews.js";
import type { SweepSummary, SweepTaskRow } from "../../src/report/sweepReport.js";

function thumbnail(k: number): Uint8Array {
  const n = 24;
  const phase = new Float32Array(n * n).map((_, i) => 0.2 * (Math.sin((i % n) / (2 + k)) + Math.cos(Math.floor(i / n) / 3)));
  return planPreviews({ phase, width: n, height: n, elements: {}, pixelSize_m: 50e-9 })[0].figure().png;
}

export function syntheticSweep(): SweepSummary {
  const tasks: SweepTaskRow[] = [];
  const scans = [{ scan: "s3://data/alice/cell-A.h5", label: "cell-A" }, { scan: "runs/paper/scan.h5", label: "paper" }];
  let index = 0;
  for (const s of scans) {
    for (const rate of [0.02, 0.05, 0.1]) {
      for (const noise of ["gaussian", "poisson"]) {
        const id = `t${String(index).padStart(3, "0")}`;
        const err = 0.02 + Math.abs(rate - 0.05) * 0.6 + (noise === "poisson" ? 0.004 : 0) + (s.label === "paper" ? 0.01 : 0);
        const row: SweepTaskRow = {
          index, id, scan: s.scan, scanLabel: s.label, params: { "rates.maps": rate, "noise.ptycho": noise },
          status: "succeeded",
          metrics: {
            final_loss: err * 1e-3, loss_ptycho: err * 8e-4, loss_xrf: err * 2e-4, weight_ptycho: 1.2 - err, weight_xrf: 0.8 + err,
            object_rel_error: err, object_cpcc: 1 - err / 3, Fe_rel_error: 2.1 * err, Zn_rel_error: 1.7 * err,
            wall_s: 40 + index * 3, ms_per_iter: 200 + index * 15, iterations: 200,
          },
          reportHref: `${id}/report.html`, preview: thumbnail(index),
        };
        if (index === 4) { row.status = "failed"; row.error = "worker exited 137: out of memory <GPU>"; row.metrics = {}; delete row.preview; }
        if (index === 9) { row.status = "missing"; row.error = "no manifest.json after 3 attempts"; row.metrics = {}; delete row.preview; }
        tasks.push(row);
        index++;
      }
    }
  }
  for (const label of ["cell-A", "paper"]) {
    tasks.filter((t) => t.scanLabel === label && t.status === "succeeded")
      .sort((a, b) => a.metrics.object_rel_error - b.metrics.object_rel_error)
      .forEach((t, i) => { t.rank = i + 1; });
  }
  return {
    name: "rates-vs-noise",
    createdAt: "2026-11-20T10:15:00.000Z",
    rankBy: { metric: "object_rel_error", order: "min" },
    spec: { name: "rates-vs-noise", scans: scans.map((s) => s.scan), grid: { "rates.maps": [0.02, 0.05, 0.1], "noise.ptycho": ["gaussian", "poisson"] }, base: { iterations: 200 } },
    tasks,
    provenance: { version: "0.1.0", profile: "local" },
  };
}
