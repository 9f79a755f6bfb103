/**
 * XRF forward model and its adjoints (DESIGN.md "XRF"), on the windows of geometry.ts:
 *
 *   I_j = sum_k |T_{f_j} P_k|^2                   probe intensity, sub-pixel shifted like the ptychography probe
 *   X_ej = s_e sum_u I_j(u) c_e(window_j(u))      u over the N x N window at the integer corner of position j
 *
 * Maps are real H x W arrays keyed by element symbol; sensitivities s_e default to 1. Counts and residuals are
 * per position of the range [start, start + count): entry i belongs to position start + i.
 * Gradients, for residuals r_ej = dL/dX_ej:
 *   dL/dc_e += s_e S_j^T(I_j r_ej)                                        (real maps)
 *   dL/dP_k* += T_{-f_j}( (T_{f_j} P_k) . sum_e s_e r_ej S_j c_e )        (Wirtinger, as in ptycho.ts)
 */
import { addAbs2, type Buf } from "./complex.js";
import { subpixelShiftProbe, type ScanWindows } from "./geometry.js";
import { probeModeCount } from "./ptycho.js";

type Maps = Record<string, ArrayLike<number>>;
type Sensitivities = Record<string, number | undefined>;

interface Workspace {
  intensity: Float64Array;
  weight: Float64Array;
  shifted: Float64Array;
  grad: Float64Array;
}

const workspaces = new Map<string, Workspace>();

function workspace(n: number, modes: number): Workspace {
  const key = `${n}x${modes}`;
  let ws = workspaces.get(key);
  if (!ws) {
    const nn = n * n;
    ws = {
      intensity: new Float64Array(nn),
      weight: new Float64Array(nn),
      shifted: new Float64Array(2 * modes * nn),
      grad: new Float64Array(2 * modes * nn),
    };
    workspaces.set(key, ws);
  }
  return ws;
}

/** T_f P for all modes: the probe itself when f = 0, else ws.shifted. */
function shifted(probe: Buf, n: number, fy: number, fx: number, ws: Workspace): Buf {
  if (fy === 0 && fx === 0) return probe;
  subpixelShiftProbe(probe, n, fy, fx, ws.shifted);
  return ws.shifted;
}

/** out (N x N real) = sum_k |T_f P_k|^2. */
export function probeIntensity(probe: Buf, n: number, fy: number, fx: number, out: Buf): void {
  const modes = probeModeCount(probe, n), nn = n * n;
  const q = shifted(probe, n, fy, fx, workspace(n, modes));
  out.fill(0, 0, nn);
  for (let k = 0; k < modes; k++) addAbs2(q, out, nn, k * nn);
}

/** Grid maps are H x W, per-position arrays hold `count` values, both for the same elements. */
function checkMaps(win: ScanWindows, maps: Maps, start: number, count: number, perPosition: Maps): void {
  const a = Object.keys(maps).sort().join(","), b = Object.keys(perPosition).sort().join(",");
  if (a !== b) throw new Error(`XRF: maps for [${a}] but per-position values for [${b}]`);
  for (const [el, m] of Object.entries(maps)) {
    if (m.length !== win.height * win.width) {
      throw new Error(`XRF map ${el}: ${m.length} values, expected ${win.height} x ${win.width}`);
    }
    if (perPosition[el].length < count) throw new Error(`XRF ${el}: ${perPosition[el].length} values for ${count} positions`);
  }
  if (!(start >= 0 && count >= 0 && start + count <= win.count)) {
    throw new Error(`positions [${start}, ${start + count}) outside the scan's ${win.count} positions`);
  }
}

/** sum_u I(u) c(window_j(u)) over the N x N window of position j. */
function windowDot(intensity: Buf, map: ArrayLike<number>, win: ScanWindows, j: number): number {
  const n = win.n;
  let s = 0;
  for (let y = 0; y < n; y++) {
    const row = (win.iy[j] + y) * win.width + win.ix[j];
    for (let x = 0; x < n; x++) s += intensity[n * y + x] * map[row + x];
  }
  return s;
}

/** out[e][i] = X_e,(start + i) for every element map. */
export function xrfForward(
  maps: Maps, sensitivity: Sensitivities, probe: Buf, win: ScanWindows, start: number, count: number,
  out: Record<string, Buf>,
): void {
  checkMaps(win, maps, start, count, out);
  const { intensity } = workspace(win.n, probeModeCount(probe, win.n));
  for (let i = 0; i < count; i++) {
    const j = start + i;
    probeIntensity(probe, win.n, win.fy[j], win.fx[j], intensity);
    for (const el of Object.keys(maps)) out[el][i] = (sensitivity[el] ?? 1) * windowDot(intensity, maps[el], win, j);
  }
}

/** gMaps[e] += s_e sum_j S_j^T(I_j r_ej) for residuals r_e (entry i for position start + i). */
export function xrfAdjoint(
  residuals: Maps, sensitivity: Sensitivities, probe: Buf, win: ScanWindows, start: number, count: number,
  gMaps: Record<string, Buf>,
): void {
  checkMaps(win, gMaps, start, count, residuals);
  const n = win.n;
  const { intensity } = workspace(n, probeModeCount(probe, n));
  for (let i = 0; i < count; i++) {
    const j = start + i;
    probeIntensity(probe, n, win.fy[j], win.fx[j], intensity);
    for (const el of Object.keys(residuals)) {
      const a = (sensitivity[el] ?? 1) * residuals[el][i];
      if (a === 0) continue;
      const g = gMaps[el];
      for (let y = 0; y < n; y++) {
        const row = (win.iy[j] + y) * win.width + win.ix[j];
        for (let x = 0; x < n; x++) g[row + x] += a * intensity[n * y + x];
      }
    }
  }
}

/** gProbe (K x N x N complex) += dL/dP* of the XRF term for residuals r_e = dL/dX_e. */
export function xrfProbeGradient(
  residuals: Maps, maps: Maps, sensitivity: Sensitivities, probe: Buf, win: ScanWindows,
  start: number, count: number, gProbe: Buf,
): void {
  checkMaps(win, maps, start, count, residuals);
  const n = win.n, nn = n * n, modes = probeModeCount(probe, n);
  const ws = workspace(n, modes);
  const { weight, grad: g } = ws;
  for (let i = 0; i < count; i++) {
    const j = start + i;
    weight.fill(0);
    for (const el of Object.keys(residuals)) {
      const a = (sensitivity[el] ?? 1) * residuals[el][i];
      if (a === 0) continue;
      const c = maps[el];
      for (let y = 0; y < n; y++) {
        const row = (win.iy[j] + y) * win.width + win.ix[j];
        for (let x = 0; x < n; x++) weight[n * y + x] += a * c[row + x];
      }
    }
    const q = shifted(probe, n, win.fy[j], win.fx[j], ws);
    for (let k = 0; k < modes; k++) {
      for (let u = 0, o = 2 * nn * k; u < nn; u++, o += 2) {
        g[o] = weight[u] * q[o];
        g[o + 1] = weight[u] * q[o + 1];
      }
    }
    if (win.fy[j] !== 0 || win.fx[j] !== 0) subpixelShiftProbe(g, n, -win.fy[j], -win.fx[j], g);
    for (let p = 0; p < 2 * modes * nn; p++) gProbe[p] += g[p];
  }
}
