/**
 * A ground truth belongs to a scan (README "ptyxrf reconstruct", --truth): same number of positions, same frame
 * (probe) size, same elements, same object pixel size, and an object grid that holds every probe window of the
 * scan (the reconstruction then runs on the truth's grid). Anything else is another scan's truth: the run is
 * refused with every difference named (exit 2), never an internal error halfway or errors against the wrong
 * object. A truth of the same geometry on a larger grid (a simulator's margin) is accepted.
 */
import type { LoadedScan } from "../solver/problem.js";
import { scanGeometry } from "../solver/problem.js";
import type { Truth } from "../scan/model.js";

export class TruthMismatchError extends Error {
  constructor(readonly truthPath: string, readonly problems: string[]) {
    super(`truth does not match scan: ${problems.join("; ")} (${truthPath})`);
    this.name = "TruthMismatchError";
  }
}

const list = (xs: string[]) => (xs.length ? xs.join(", ") : "none");

/**
 * Largest distance in pixels between two position lists, each centred on its mid-range first (a stage offset
 * is not a difference). Scans with position errors (the case position refinement is for) stay well below half
 * a probe window; another scan's positions (another raster step, pattern or overlap) do not.
 */
function maxDeviation_px(a: ArrayLike<number>, b: ArrayLike<number>, dx: number): number {
  const mid = (p: ArrayLike<number>, k: number) => {
    let lo = Infinity, hi = -Infinity;
    for (let i = k; i < p.length; i += 2) { lo = Math.min(lo, p[i]); hi = Math.max(hi, p[i]); }
    return (lo + hi) / 2;
  };
  const ay = mid(a, 0), ax = mid(a, 1), by = mid(b, 0), bx = mid(b, 1);
  let worst = 0;
  for (let i = 0; i < a.length; i += 2) worst = Math.max(worst, Math.hypot(a[i] - ay - (b[i] - by), a[i + 1] - ax - (b[i + 1] - bx)) / dx);
  return worst;
}

/** Every way `truth` does not fit `scan` (empty: it fits). */
export function truthMismatches(scan: LoadedScan, truth: Truth): string[] {
  const h = scan.header;
  const p: string[] = [];
  const npos = truth.positions_m.length / 2;
  if (npos !== h.npos) p.push(`positions: the scan has ${h.npos}, the truth ${npos}`);
  if (truth.probe.n !== h.frameSize) p.push(`probe size: the scan's frames are ${h.frameSize} x ${h.frameSize}, the truth's probe ${truth.probe.n} x ${truth.probe.n}`);
  const scanEls = h.xrf.elements.map((e) => e.symbol).sort();
  const truthEls = Object.keys(truth.elementMaps).sort();
  if (scanEls.join(",") !== truthEls.join(",")) p.push(`elements: the scan has ${list(scanEls)}, the truth ${list(truthEls)}`);
  const { height: H, width: W } = truth.object;
  for (const el of truthEls) {
    const n = truth.elementMaps[el].length;
    if (n !== H * W) p.push(`the truth's ${el} map has ${n} values for its ${H} x ${W} object`);
  }
  if (truth.object.data.length !== 2 * H * W) p.push(`the truth's object has ${truth.object.data.length / 2} values for ${H} x ${W}`);
  let free: ReturnType<typeof scanGeometry> | null = null;
  try {
    free = scanGeometry(h, false);
  } catch { /* the scan's own geometry is the validator's concern */ }
  if (free) {
    const dx = free.pixelSize;
    if (!(Math.abs(truth.pixelSize_m - dx) <= 1e-6 * dx)) p.push(`pixel size: the scan's is ${dx.toPrecision(6)} m, the truth's ${truth.pixelSize_m.toPrecision(6)} m`);
    if (npos === h.npos) {
      const dev = maxDeviation_px(h.positions, truth.positions_m, dx);
      if (dev > h.frameSize / 2) p.push(`positions: the scan's and the truth's differ by up to ${dev.toFixed(1)} pixels (more than half the ${h.frameSize}-pixel probe window)`);
    }
    try {
      scanGeometry(h, false, { height: H, width: W }); // what the run does on the truth's grid
    } catch {
      p.push(`object: the truth's ${H} x ${W} grid cannot hold the scan's probe windows (${free.height} x ${free.width} needed)`);
    }
  }
  return p;
}

/** Throws TruthMismatchError naming every difference. */
export function checkTruthMatchesScan(scan: LoadedScan, truth: Truth, truthPath: string): void {
  const problems = truthMismatches(scan, truth);
  if (problems.length) throw new TruthMismatchError(truthPath, problems);
}
