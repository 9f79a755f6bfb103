/**
 * The cpu engine's compute kernel: ptychography loss + gradient, XRF forward / loss / adjoint, probe gradients,
 * for a list of positions, on Float32 storage with Float64 scratch allocated once per kernel. One kernel runs
 * in each worker thread (over SharedArrayBuffer views) or in the main thread (threads: 1).
 *
 * Mathematics: exactly src/physics (ptycho.ts, xrf.ts, losses.ts), reorganised for speed. With DFT / IDFT
 * the unnormalised transforms of fft2d.ts, cb(y, x) = (-1)^(y + x) and s = 1/N^2, the centred orthonormal FFT
 * is F x = (1/N) cb DFT(cb x) and F^H y = (1/N) cb IDFT(cb y), so with Qc = cb . Q (Q = T_f P the shifted
 * probe) everything runs on plain DFTs and the checkerboards cancel or fold into the probe:
 *
 *   R_k = DFT(Qc_k . S_j O)                      D = s sum_k |R_k|^2 + b
 *   G_k = IDFT(s dl/dD . R_k)                    (g_psi = cb . G_k)
 *   dL/dO*    += S_j^T sum_k conj(Qc_k) . G_k
 *   dL/dP_k*  += cb . conj(S_j O) . G_k                                     (integer position)
 *             += cb . s IDFT( conj(ramp_j) . DFT(conj(S_j O) . G_k) )       (sub-pixel; the IDFT and the
 *                                                                             cb are applied once, at the end)
 *   Qc_k = s IDFT(ramp_j . DFT(cb . P_k))        (shifted probe, cached per position and probe version)
 *   XRF:  I_j = sum_k |Qc_k|^2,   X_ej = s_e <I_j, S_j c_e>,   r_ej = dl/dX_ej
 *         dL/dc_e += s_e r_ej S_j^T I_j,   w_j = sum_e s_e r_ej S_j c_e
 *         dL/dP_k* += P_k . sum_{integer j} w_j  +  cb . s IDFT( sum_{sub-pixel j} conj(ramp_j) . DFT(Qc_k . w_j) )
 *
 * Position gradient (physics/positionGradient.ts): with w_k = conj(S_j O) . G_k (so dL/dQ_k* = cb . w_k),
 *   dL/dcorner_y = 2 Re sum_k <cb . w_k, dQ_k/df_y>,   dQ/df_y = F^H diag(-2 pi i kappa_y / N) F Q,  kappa = k - N/2
 * (same for x), evaluated two ways:
 *   - sub-pixel positions, in frequency (Parseval), with U_k = DFT(Qc_k) = ramp_j . DFT(cb . P_k):
 *       (4 pi / N^3) sum_k sum_kappa kappa_y Im( conj(DFT(w_k)) . U_k )
 *     DFT(w_k) is the transform the sub-pixel probe gradient computes anyway (accumulated as
 *     conj(ramp) . DFT(w_k)); otherwise it costs one forward FFT per mode;
 *   - integer positions, in space: 2 sum Re(conj(w_k) . dPc_k,y) with dPc_k,y = cb . dP_k/df_y =
 *     s IDFT(-2 pi i kappa_y / N . DFT(cb . P_k)) computed once per probe version (no FFT per position).
 * Position gradients off change nothing in the hot loop.
 *
 * Frequency-domain arrays are in the bit-reversed layout of fft2d.ts; ramps are stored in the same layout.
 * Positions with |fy|, |fx| < 1e-6 count as integer (no shift, no extra FFTs).
 */
import { DEFAULT_EPS, type PtychoNoiseModel, type XrfNoiseModel } from "../../physics/losses.js";
import { SplitFFT2 } from "./fft2d.js";

/** Fractional shifts below this (pixels) are treated as integer positions. */
export const SUBPIXEL_TOLERANCE = 1e-6;

/** Static description of a loaded problem (cloned into each worker once). */
export interface KernelConfig {
  n: number;
  modes: number;
  height: number;
  width: number;
  npos: number;
  iy: Int32Array;
  ix: Int32Array;
  fy: Float64Array;
  fx: Float64Array;
  /** Measured counts [npos, N, N] (shared, never copied by the kernel). */
  diffraction: Float32Array;
  ptychoModel: PtychoNoiseModel;
  background: number;
  eps: number;
  /** Number of XRF elements (0 without an XRF problem). */
  elements: number;
  sensitivity: Float64Array;
  /** Measured fluorescence [E, npos]. */
  xrfMeasured: Float32Array;
  xrfModel: XrfNoiseModel;
}

/** Buffers a kernel reads and writes: shared between threads for workers, plain for the in-thread kernel. */
export interface KernelBuffers {
  /** Inputs, written by the main thread before each call. */
  object: Float32Array;
  probe: Float32Array;
  maps: Float32Array;
  /** Positions list of the current call (the kernel handles entries [first, first + count)). */
  positions: Int32Array;
  /** Model fluorescence [E, npos], written for the positions handled. */
  xrfModelOut: Float64Array;
  /** This kernel's gradient accumulators (zeroed by the kernel at the start of evaluate). */
  gObject: Float32Array;
  gProbePtycho: Float32Array;
  gMaps: Float32Array;
  gProbeXrf: Float32Array;
  /** dL_ptycho/d(corner_y, corner_x) per position [2 npos] (zeroed by the kernel when requested). */
  gPositions: Float64Array;
  /** Shifted-probe cache, shared by all kernels: slots of K x (re plane, im plane) Float32, N^2 each. */
  cache: Float32Array;
  /** Probe version each slot was computed for (0: never). */
  cacheVersion: Int32Array;
  /** Slot of each position, -1 for integer positions and positions beyond the cache budget. */
  slotOf: Int32Array;
}

/**
 * Float64 scratch carved from one buffer with each array skewed by a different amount modulo 4 KiB. Arrays
 * of N^2 doubles (32 KiB for N = 64) allocated separately tend to start at the same address modulo 4 KiB;
 * the FFT then reads re and im samples that share L1 cache sets (8 rows apart = 4 KiB in each plane) and
 * runs 2x slower, depending on where the allocator happened to put them (measured: 62-72 us vs 117-154 us
 * for a 64 x 64 forward + inverse pair).
 */
class Arena {
  private readonly buffer: ArrayBuffer;
  private offset = 0;
  private count = 0;

  constructor(doubles: number, arrays: number) {
    this.buffer = new ArrayBuffer(8 * (doubles + 1024 * arrays));
  }

  take(length: number): Float64Array {
    // skew i: 72 i doubles (i cache lines of 576 B) past a 4 KiB boundary
    const base = Math.ceil(this.offset / 512) * 512 + ((72 * this.count) % 512);
    this.count++;
    if (8 * (base + length) > this.buffer.byteLength) throw new Error("cpu engine: scratch arena overflow");
    this.offset = base + length;
    return new Float64Array(this.buffer, 8 * base, length);
  }
}

export interface EvalFlags {
  ptycho: boolean;
  xrf: boolean;
  probeGradient: boolean;
  /** dL_ptycho/d(corner) into buf.gPositions (with ptycho only). */
  positionGradient?: boolean;
  /** Noise model of this call; the problem's when absent. */
  ptychoModel?: PtychoNoiseModel;
}

export class CpuKernel {
  readonly cfg: KernelConfig;
  /** Noise model of the call in progress. */
  private model: PtychoNoiseModel = "gaussian";
  readonly buf: KernelBuffers;
  private readonly fft: SplitFFT2;
  private readonly n: number;
  private readonly nn: number;
  private readonly modes: number;
  private readonly freqIndex: Int32Array;
  private readonly checker: Float64Array;
  private readonly subpixel: Uint8Array;
  /** Centred frequency kappa = bitrev(i) - N/2 of stored row / column i. */
  private readonly kappa: Float64Array;

  // scratch (Float64 split planes, K x N^2 unless noted)
  private readonly wr: Float64Array;
  private readonly wi: Float64Array;
  private readonly mult: Float64Array; // N^2
  private readonly fpr: Float64Array; // DFT(cb . P_k)
  private readonly fpi: Float64Array;
  private readonly apr: Float64Array; // ptycho probe-gradient accumulators, frequency (sub-pixel) ...
  private readonly api: Float64Array;
  private readonly bpr: Float64Array; // ... and space (integer positions)
  private readonly bpi: Float64Array;
  private readonly axr: Float64Array; // XRF probe-gradient accumulator, frequency (sub-pixel)
  private readonly axi: Float64Array;
  private readonly wint: Float64Array; // N^2: sum of the XRF weights w_j of integer positions
  private readonly wsub: Float64Array; // N^2: w_j of the current sub-pixel position
  private readonly iq: Float64Array; // N^2: probe intensity of the current position
  private readonly i0: Float64Array; // N^2: unshifted probe intensity
  private readonly xres: Float64Array; // E: s_e r_ej of the current position
  private readonly ryr: Float64Array; // N: ramps of the current position, bit-reversed order
  private readonly ryi: Float64Array;
  private readonly rxr: Float64Array;
  private readonly rxi: Float64Array;
  /** cb . P (split planes per mode, Float32 like the cache: the probe of integer positions). */
  private readonly pc: Float32Array;
  /** Shifted probe of a position without a cache slot. */
  private readonly qScratch: Float32Array;

  private probeVersion = 0;
  private fpVersion = 0;
  /** cb . dP/df_y and cb . dP/df_x (split planes, K x N^2 each), for integer-position gradients. */
  private dyr: Float64Array | null = null;
  private dyi: Float64Array | null = null;
  private dxr: Float64Array | null = null;
  private dxi: Float64Array | null = null;
  private dpVersion = 0;
  // the shifted probe of the current position: q[qOff + k*2N^2 + (0 | N^2) + p]
  private q: Float32Array;
  private qOff = 0;
  private anySubP = false;
  private anySubX = false;

  /** Losses of the last evaluate call. */
  lossPtycho = 0;
  lossXrf = 0;

  constructor(cfg: KernelConfig, buf: KernelBuffers) {
    this.cfg = cfg;
    this.buf = buf;
    const n = cfg.n, nn = n * n, K = cfg.modes;
    this.n = n;
    this.nn = nn;
    this.modes = K;
    this.fft = new SplitFFT2(n);
    this.freqIndex = this.fft.freqIndex;
    this.checker = new Float64Array(nn);
    for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) this.checker[y * n + x] = (x + y) & 1 ? -1 : 1;
    this.subpixel = new Uint8Array(cfg.npos);
    this.updateSubpixel();
    this.kappa = new Float64Array(n);
    for (let i = 0; i < n; i++) this.kappa[i] = this.fft.bitrev[i] - n / 2;
    const arena = new Arena((10 * K + 5) * nn, 15);
    const plane = () => arena.take(K * nn);
    this.wr = plane(); this.wi = plane();
    this.fpr = plane(); this.fpi = plane();
    this.apr = plane(); this.api = plane();
    this.bpr = plane(); this.bpi = plane();
    this.axr = plane(); this.axi = plane();
    this.mult = arena.take(nn);
    this.wint = arena.take(nn);
    this.wsub = arena.take(nn);
    this.iq = arena.take(nn);
    this.i0 = arena.take(nn);
    this.xres = new Float64Array(Math.max(1, cfg.elements));
    this.ryr = new Float64Array(n); this.ryi = new Float64Array(n);
    this.rxr = new Float64Array(n); this.rxi = new Float64Array(n);
    this.pc = new Float32Array(2 * K * nn);
    this.qScratch = new Float32Array(2 * K * nn);
    this.q = this.pc;
  }

  private updateSubpixel(): void {
    const cfg = this.cfg;
    for (let j = 0; j < cfg.npos; j++) {
      this.subpixel[j] = Math.abs(cfg.fy[j]) >= SUBPIXEL_TOLERANCE || Math.abs(cfg.fx[j]) >= SUBPIXEL_TOLERANCE ? 1 : 0;
    }
  }

  /**
   * Move the positions (same count): new integer corners and fractions, and the shifted-probe cache to use
   * (possibly reallocated by the engine, which also rewrites the shared slotOf and zeroes cacheVersion).
   */
  setWindows(iy: Int32Array, ix: Int32Array, fy: Float64Array, fx: Float64Array, cache: Float32Array, cacheVersion: Int32Array): void {
    const cfg = this.cfg;
    if (iy.length !== cfg.npos || ix.length !== cfg.npos || fy.length !== cfg.npos || fx.length !== cfg.npos) {
      throw new Error(`cpu engine: setWindows needs ${cfg.npos} positions`);
    }
    cfg.iy.set(iy);
    cfg.ix.set(ix);
    cfg.fy.set(fy);
    cfg.fx.set(fx);
    this.updateSubpixel();
    this.buf.cache = cache;
    this.buf.cacheVersion = cacheVersion;
    this.q = this.pc;
    this.qOff = 0;
  }

  // ---------------------------------------------------------------- probe versions and shifted probes

  /** Adopt the probe in buf.probe as version `version` (versions are global, increasing, > 0). */
  private syncProbe(version: number): void {
    if (version === this.probeVersion) return;
    const { nn, modes: K, checker } = this;
    const p = this.buf.probe, pc = this.pc, i0 = this.i0;
    i0.fill(0);
    for (let k = 0; k < K; k++) {
      const o = 2 * k * nn;
      for (let i = 0; i < nn; i++) {
        const re = p[o + 2 * i], im = p[o + 2 * i + 1], c = checker[i];
        pc[o + i] = c * re;
        pc[o + nn + i] = c * im;
        i0[i] += re * re + im * im;
      }
    }
    this.probeVersion = version;
  }

  /** Ramps exp(-2 pi i (k - N/2) f / N) of position j, per axis, in bit-reversed order. */
  private ramps(j: number): void {
    this.ramp(this.cfg.fy[j], this.ryr, this.ryi);
    this.ramp(this.cfg.fx[j], this.rxr, this.rxi);
  }

  private ramp(f: number, outR: Float64Array, outI: Float64Array): void {
    const n = this.n, br = this.fft.bitrev;
    for (let k = 0; k < n; k++) {
      const ph = (-2 * Math.PI * (k - n / 2) * f) / n;
      outR[br[k]] = Math.cos(ph);
      outI[br[k]] = Math.sin(ph);
    }
  }

  /** Point this.q / this.qOff at the shifted probe (cb-modulated) of position j; ramps(j) must be current. */
  private selectProbe(j: number): void {
    if (!this.subpixel[j]) {
      this.q = this.pc;
      this.qOff = 0;
      return;
    }
    const slot = this.buf.slotOf[j];
    if (slot >= 0) {
      this.q = this.buf.cache;
      this.qOff = slot * 2 * this.modes * this.nn;
      if (this.buf.cacheVersion[slot] !== this.probeVersion) {
        this.shiftProbe(this.buf.cache, this.qOff);
        this.buf.cacheVersion[slot] = this.probeVersion;
      }
    } else {
      this.q = this.qScratch;
      this.qOff = 0;
      this.shiftProbe(this.qScratch, 0);
    }
  }

  /** fpr/fpi = DFT(cb . P_k) for the current probe version (touches no other scratch). */
  private ensureFp(): void {
    if (this.fpVersion === this.probeVersion) return;
    const { nn, modes: K, fft, fpr, fpi, pc } = this;
    for (let k = 0; k < K; k++) {
      for (let i = 0; i < nn; i++) {
        fpr[k * nn + i] = pc[2 * k * nn + i];
        fpi[k * nn + i] = pc[2 * k * nn + nn + i];
      }
      fft.forward(fpr, fpi, k * nn);
    }
    this.fpVersion = this.probeVersion;
  }

  /** dyr/dyi, dxr/dxi = cb . dP/df = s IDFT(-2 pi i kappa / N . DFT(cb . P)) for the current probe version. */
  private ensureDp(): void {
    if (this.dpVersion === this.probeVersion && this.dyr) return;
    this.ensureFp();
    const { n, nn, modes: K, fft, fpr, fpi, kappa } = this;
    if (!this.dyr) {
      this.dyr = new Float64Array(K * nn); this.dyi = new Float64Array(K * nn);
      this.dxr = new Float64Array(K * nn); this.dxi = new Float64Array(K * nn);
    }
    const dyr = this.dyr, dyi = this.dyi!, dxr = this.dxr!, dxi = this.dxi!;
    const c = (2 * Math.PI) / n, s = 1 / nn;
    for (let k = 0; k < K; k++) {
      const o = k * nn;
      for (let y = 0; y < n; y++) {
        for (let x = 0, p = o + y * n; x < n; x++, p++) {
          // -2 pi i kappa / N . (a + i b) = (2 pi kappa / N) (b - i a)
          const a = fpr[p], b = fpi[p], cy = c * kappa[y], cx = c * kappa[x];
          dyr[p] = cy * b; dyi[p] = -cy * a;
          dxr[p] = cx * b; dxi[p] = -cx * a;
        }
      }
      fft.inverse(dyr, dyi, o);
      fft.inverse(dxr, dxi, o);
      for (let p = o; p < o + nn; p++) {
        dyr[p] *= s; dyi[p] *= s; dxr[p] *= s; dxi[p] *= s;
      }
    }
    this.dpVersion = this.probeVersion;
  }

  /** dst[off..] = Qc = s IDFT(ramp . DFT(cb . P)) for every mode, with the current ramps. */
  private shiftProbe(dst: Float32Array, off: number): void {
    const { n, nn, modes: K, fft, wr, wi, fpr, fpi, ryr, ryi, rxr, rxi } = this;
    this.ensureFp();
    const s = 1 / nn;
    for (let k = 0; k < K; k++) {
      const o = k * nn;
      for (let y = 0; y < n; y++) {
        const cyr = ryr[y], cyi = ryi[y];
        for (let x = 0, p = o + y * n; x < n; x++, p++) {
          const rr = cyr * rxr[x] - cyi * rxi[x], ri = cyr * rxi[x] + cyi * rxr[x];
          const a = fpr[p], b = fpi[p];
          wr[p] = a * rr - b * ri;
          wi[p] = a * ri + b * rr;
        }
      }
      fft.inverse(wr, wi, o);
      const d = off + 2 * k * nn;
      for (let i = 0; i < nn; i++) {
        dst[d + i] = s * wr[o + i];
        dst[d + nn + i] = s * wi[o + i];
      }
    }
  }

  /** acc[plane k] += conj(ramp) . DFT(w[plane k]) for every mode (w is overwritten). */
  private accumulateShifted(accR: Float64Array, accI: Float64Array): void {
    this.forwardW();
    this.accumulateSpectrum(accR, accI);
  }

  /** wr/wi planes k = DFT(wr/wi planes k), every mode. */
  private forwardW(): void {
    const { nn, modes: K, fft, wr, wi } = this;
    for (let k = 0; k < K; k++) fft.forward(wr, wi, k * nn);
  }

  /** acc[plane k] += conj(ramp) . wr/wi[plane k] for every mode (wr/wi hold spectra). */
  private accumulateSpectrum(accR: Float64Array, accI: Float64Array): void {
    const { n, nn, modes: K, wr, wi, ryr, ryi, rxr, rxi } = this;
    for (let k = 0; k < K; k++) {
      const o = k * nn;
      for (let y = 0; y < n; y++) {
        const cyr = ryr[y], cyi = -ryi[y];
        for (let x = 0, p = o + y * n; x < n; x++, p++) {
          const rr = cyr * rxr[x] + cyi * rxi[x], ri = cyi * rxr[x] - cyr * rxi[x]; // conj(ry) conj(rx)
          const a = wr[p], b = wi[p];
          accR[p] += a * rr - b * ri;
          accI[p] += a * ri + b * rr;
        }
      }
    }
  }

  /**
   * Sub-pixel position j with position gradients, the spectra W_k = DFT(w_k) in wr/wi: dL/d(corner) goes into
   * buf.gPositions: (4 pi / N^3) sum_k sum kappa Im(conj(W_k) U_k) with U_k = ramp_j . DFT(cb . P_k), i.e.
   * Im(conj(X_k) . DFT(cb . P_k)) with X_k = conj(ramp_j) . W_k (|ramp| = 1), and (when `accumulate`) X_k is
   * added to the ptycho probe-gradient accumulators, in the same pass over the spectra.
   */
  private subpixelSpectrum(j: number, accumulate: boolean): void {
    this.ensureFp();
    const { n, nn, modes: K, wr, wi, fpr, fpi, ryr, ryi, rxr, rxi, kappa, apr, api } = this;
    let gy = 0, gx = 0;
    for (let k = 0; k < K; k++) {
      const o = k * nn;
      for (let y = 0; y < n; y++) {
        const cyr = ryr[y], cyi = -ryi[y];
        let row = 0, rowX = 0;
        for (let x = 0, p = o + y * n; x < n; x++, p++) {
          const rr = cyr * rxr[x] + cyi * rxi[x], ri = cyi * rxr[x] - cyr * rxi[x]; // conj(ry) conj(rx)
          const a = wr[p], b = wi[p];
          const xr = a * rr - b * ri, xi = a * ri + b * rr;
          if (accumulate) {
            apr[p] += xr;
            api[p] += xi;
          }
          const im = xr * fpi[p] - xi * fpr[p];
          row += im;
          rowX += kappa[x] * im;
        }
        gy += kappa[y] * row;
        gx += rowX;
      }
    }
    const c = (4 * Math.PI) / (n * nn);
    this.buf.gPositions[2 * j] += c * gy;
    this.buf.gPositions[2 * j + 1] += c * gx;
  }

  // ---------------------------------------------------------------- evaluate

  /**
   * Loss and gradients of positions buf.positions[first .. first + count) into this kernel's accumulators
   * (zeroed first); losses into lossPtycho / lossXrf, model fluorescence into buf.xrfModelOut.
   */
  evaluate(first: number, count: number, flags: EvalFlags, probeVersion: number): void {
    this.model = flags.ptychoModel ?? this.cfg.ptychoModel;
    const { buf, cfg } = this;
    this.syncProbe(probeVersion);
    const pg = flags.probeGradient;
    const pos = !!flags.positionGradient && flags.ptycho;
    this.lossPtycho = 0;
    this.lossXrf = 0;
    this.anySubP = false;
    this.anySubX = false;
    if (flags.ptycho) {
      buf.gObject.fill(0);
      if (pos) buf.gPositions.fill(0);
      if (pg) {
        this.apr.fill(0); this.api.fill(0); this.bpr.fill(0); this.bpi.fill(0);
      }
    }
    if (flags.xrf) {
      if (cfg.elements === 0) throw new Error("cpu engine: the XRF term was requested but the problem has no XRF data");
      buf.gMaps.fill(0);
      if (pg) {
        this.axr.fill(0); this.axi.fill(0); this.wint.fill(0);
      }
    }
    const positions = buf.positions;
    for (let i = first; i < first + count; i++) {
      const j = positions[i];
      const sub = this.subpixel[j] === 1;
      if (sub) this.ramps(j);
      this.selectProbe(j);
      if (flags.ptycho) this.ptychoPosition(j, sub, pg, pos);
      if (flags.xrf) this.xrfPosition(j, sub, pg, true);
    }
    if (pg && flags.ptycho) this.finishProbeGradient(this.bpr, this.bpi, this.apr, this.api, this.anySubP, buf.gProbePtycho, false);
    if (pg && flags.xrf) this.finishProbeGradient(this.bpr, this.bpi, this.axr, this.axi, this.anySubX, buf.gProbeXrf, true);
  }

  /** Model intensities D (with background) of positions [start, start + count) into out (natural layout). */
  intensities(start: number, count: number, probeVersion: number, out: Float32Array, outOffset: number): void {
    this.syncProbe(probeVersion);
    const { nn, modes: K, wr, wi, freqIndex } = this;
    const s = 1 / nn, b = this.cfg.background;
    for (let j = start; j < start + count; j++) {
      const sub = this.subpixel[j] === 1;
      if (sub) this.ramps(j);
      this.selectProbe(j);
      this.exitWaves(j);
      const o = outOffset + (j - start) * nn;
      for (let p = 0; p < nn; p++) {
        let d = 0;
        for (let k = 0; k < K; k++) d += wr[k * nn + p] * wr[k * nn + p] + wi[k * nn + p] * wi[k * nn + p];
        out[o + freqIndex[p]] = s * d + b;
      }
    }
  }

  /** Model fluorescence of positions buf.positions[first .. first + count) into buf.xrfModelOut. */
  fluorescence(first: number, count: number, probeVersion: number): void {
    this.syncProbe(probeVersion);
    const positions = this.buf.positions;
    for (let i = first; i < first + count; i++) {
      const j = positions[i];
      const sub = this.subpixel[j] === 1;
      if (sub) this.ramps(j);
      this.selectProbe(j);
      this.xrfPosition(j, sub, false, false);
    }
  }

  /** wr/wi planes k = DFT(Qc_k . S_j O) (bit-reversed layout). */
  private exitWaves(j: number): void {
    const { n, nn, modes: K, wr, wi, q, qOff, fft } = this;
    const obj = this.buf.object, W = this.cfg.width;
    const iy = this.cfg.iy[j], ix = this.cfg.ix[j];
    for (let k = 0; k < K; k++) {
      const qr0 = qOff + 2 * k * nn, qi0 = qr0 + nn, o = k * nn;
      for (let y = 0; y < n; y++) {
        let ob = 2 * ((iy + y) * W + ix);
        for (let x = 0, p = y * n; x < n; x++, p++, ob += 2) {
          const or = obj[ob], oi = obj[ob + 1], qr = q[qr0 + p], qi = q[qi0 + p];
          wr[o + p] = qr * or - qi * oi;
          wi[o + p] = qr * oi + qi * or;
        }
      }
      fft.forward(wr, wi, o);
    }
  }

  private ptychoPosition(j: number, sub: boolean, pg: boolean, pos: boolean): void {
    const { n, nn, modes: K, wr, wi, mult, fft } = this;
    this.exitWaves(j);
    this.lossPtycho += this.lossAndMultiplier(j);
    for (let k = 0; k < K; k++) {
      const o = k * nn;
      if (k > 0) {
        for (let p = 0; p < nn; p++) {
          const m = mult[p];
          wr[o + p] *= m;
          wi[o + p] *= m;
        }
      }
      fft.inverse(wr, wi, o);
    }
    // back-projection: object gradient, and the probe gradient in space (integer) or into wr/wi (sub-pixel);
    // w = conj(S_j O) . G goes into wr/wi when its spectrum is needed (sub-pixel probe gradient, positions)
    const q = this.q, obj = this.buf.object, g = this.buf.gObject, W = this.cfg.width;
    const iy = this.cfg.iy[j], ix = this.cfg.ix[j];
    const bpr = this.bpr, bpi = this.bpi;
    const storeW = sub && (pg || pos), accB = pg && !sub, dotInt = pos && !sub;
    if (dotInt) this.ensureDp();
    const dyr = this.dyr!, dyi = this.dyi!, dxr = this.dxr!, dxi = this.dxi!;
    let gy = 0, gx = 0;
    for (let k = 0; k < K; k++) {
      const qr0 = this.qOff + 2 * k * nn, qi0 = qr0 + nn, o = k * nn;
      for (let y = 0; y < n; y++) {
        let ob = 2 * ((iy + y) * W + ix);
        const row = o + y * n, qr1 = qr0 + y * n, qi1 = qi0 + y * n;
        if (dotInt) {
          // integer position: probe gradient (if asked) and the position gradient 2 Re <w, cb dP/df> in space
          for (let x = 0; x < n; x++, ob += 2) {
            const gr = wr[row + x], gi = wi[row + x], qr = q[qr1 + x], qi = q[qi1 + x];
            const or = obj[ob], oi = obj[ob + 1];
            g[ob] += qr * gr + qi * gi;
            g[ob + 1] += qr * gi - qi * gr;
            const wre = or * gr + oi * gi, wim = or * gi - oi * gr;
            if (accB) {
              bpr[row + x] += wre;
              bpi[row + x] += wim;
            }
            const p = row + x;
            gy += wre * dyr[p] + wim * dyi[p];
            gx += wre * dxr[p] + wim * dxi[p];
          }
        } else if (!storeW && !accB) {
          for (let x = 0; x < n; x++, ob += 2) {
            const gr = wr[row + x], gi = wi[row + x], qr = q[qr1 + x], qi = q[qi1 + x];
            g[ob] += qr * gr + qi * gi;
            g[ob + 1] += qr * gi - qi * gr;
          }
        } else if (accB) {
          for (let x = 0; x < n; x++, ob += 2) {
            const gr = wr[row + x], gi = wi[row + x], qr = q[qr1 + x], qi = q[qi1 + x];
            const or = obj[ob], oi = obj[ob + 1];
            g[ob] += qr * gr + qi * gi;
            g[ob + 1] += qr * gi - qi * gr;
            bpr[row + x] += or * gr + oi * gi;
            bpi[row + x] += or * gi - oi * gr;
          }
        } else {
          for (let x = 0; x < n; x++, ob += 2) {
            const gr = wr[row + x], gi = wi[row + x], qr = q[qr1 + x], qi = q[qi1 + x];
            const or = obj[ob], oi = obj[ob + 1];
            g[ob] += qr * gr + qi * gi;
            g[ob + 1] += qr * gi - qi * gr;
            wr[row + x] = or * gr + oi * gi;
            wi[row + x] = or * gi - oi * gr;
          }
        }
      }
    }
    if (dotInt) {
      this.buf.gPositions[2 * j] += 2 * gy;
      this.buf.gPositions[2 * j + 1] += 2 * gx;
    }
    if (storeW) {
      this.forwardW();
      // without position gradients this is exactly the probe-gradient accumulation (no extra branches)
      if (pos) this.subpixelSpectrum(j, pg);
      else this.accumulateSpectrum(this.apr, this.api);
      if (pg) this.anySubP = true;
    }
  }

  /**
   * D from the far fields in wr/wi; returns the loss of position j, writes g = s dl/dD into mult and already
   * multiplies mode 0 (planes wr/wi [0, N^2)) by it (the other modes are the caller's).
   */
  private lossAndMultiplier(j: number): number {
    const { n, nn, modes: K, wr, wi, mult } = this;
    const br = this.fft.bitrev;
    const meas = this.cfg.diffraction, mo = j * nn;
    const s = 1 / nn, b = this.cfg.background, eps = this.cfg.eps;
    let loss = 0;
    // Loops run in natural frequency order (ky, kx): the measured frame is read sequentially and the
    // count > 0 branches follow the smooth pattern of zero counts (unpredictable in the bit-reversed order;
    // measured 8 % of a whole evaluate on the bench preset).
    switch (this.model) {
      case "gaussian":
        for (let ky = 0, pm = mo; ky < n; ky++) {
          const rowW = br[ky] * n;
          for (let kx = 0; kx < n; kx++, pm++) {
            const p = rowW + br[kx];
            const xr = wr[p], xi = wi[p];
            let d = xr * xr + xi * xi;
            for (let k = 1; k < K; k++) d += wr[k * nn + p] * wr[k * nn + p] + wi[k * nn + p] * wi[k * nn + p];
            const de = s * d + b + eps, c = meas[pm];
            const a = c > 0 ? Math.sqrt(c) : 0, sd = Math.sqrt(de), r = sd - a;
            loss += r * r;
            const g = s - (s * a) / sd;
            if (K > 1) mult[p] = g;
            wr[p] = xr * g;
            wi[p] = xi * g;
          }
        }
        return loss;
      case "poisson":
        for (let ky = 0, pm = mo; ky < n; ky++) {
          const rowW = br[ky] * n;
          for (let kx = 0; kx < n; kx++, pm++) {
            const p = rowW + br[kx];
            const xr = wr[p], xi = wi[p];
            let d = xr * xr + xi * xi;
            for (let k = 1; k < K; k++) d += wr[k * nn + p] * wr[k * nn + p] + wi[k * nn + p] * wi[k * nn + p];
            const m = s * d + b + eps, c = meas[pm];
            let g = s;
            if (c > 0) {
              const ratio = c / m; // m - c - c log(m / c) = m - c + c log(c / m)
              loss += m - c + c * Math.log(ratio);
              g = s - s * ratio;
            } else {
              loss += m;
            }
            if (K > 1) mult[p] = g;
            wr[p] = xr * g;
            wi[p] = xi * g;
          }
        }
        return loss;
      case "weighted":
        for (let ky = 0, pm = mo; ky < n; ky++) {
          const rowW = br[ky] * n;
          for (let kx = 0; kx < n; kx++, pm++) {
            const p = rowW + br[kx];
            const xr = wr[p], xi = wi[p];
            let d = xr * xr + xi * xi;
            for (let k = 1; k < K; k++) d += wr[k * nn + p] * wr[k * nn + p] + wi[k * nn + p] * wi[k * nn + p];
            const dm = s * d + b, c = meas[pm];
            let g = s;
            if (c > 0) {
              const t = (dm - c) / c;
              loss += 0.5 * (dm - c) * t;
              g = s * t;
            } else {
              loss += dm;
            }
            if (K > 1) mult[p] = g;
            wr[p] = xr * g;
            wi[p] = xi * g;
          }
        }
        return loss;
      default:
        throw new Error(`cpu engine: unknown ptychography noise model "${this.model as string}"`);
    }
  }

  /**
   * XRF of position j: model counts into buf.xrfModelOut; with `gradient`, the loss, the map gradient and
   * (with pg) the probe-gradient accumulators.
   */
  private xrfPosition(j: number, sub: boolean, pg: boolean, gradient: boolean): void {
    const { n, nn, modes: K, cfg } = this;
    const E = cfg.elements, H = cfg.height, W = cfg.width, npos = cfg.npos, hw = H * W;
    const maps = this.buf.maps, iy = cfg.iy[j], ix = cfg.ix[j], sens = cfg.sensitivity;
    let iq = this.i0;
    if (sub) {
      iq = this.iq;
      const q = this.q;
      for (let p = 0; p < nn; p++) {
        let v = 0;
        for (let k = 0, o = this.qOff; k < K; k++, o += 2 * nn) v += q[o + p] * q[o + p] + q[o + nn + p] * q[o + nn + p];
        iq[p] = v;
      }
    }
    // elements two at a time (one pass over the window per pair; an odd last element pairs with itself,
    // weight 0)
    const xres = this.xres, out = this.buf.xrfModelOut, meas = cfg.xrfMeasured, eps = cfg.eps;
    const corner = iy * W + ix;
    for (let e = 0; e < E; e += 2) {
      const b0 = e * hw + corner, b1 = e + 1 < E ? b0 + hw : b0;
      let acc0 = 0, acc1 = 0;
      for (let y = 0; y < n; y++) {
        const r0 = b0 + y * W, r1 = b1 + y * W;
        for (let x = 0, p = y * n; x < n; x++, p++) {
          const i = iq[p];
          acc0 += i * maps[r0 + x];
          acc1 += i * maps[r1 + x];
        }
      }
      for (let f = e; f < e + 2 && f < E; f++) {
        const X = sens[f] * (f === e ? acc0 : acc1);
        out[f * npos + j] = X;
        if (!gradient) continue;
        const M = meas[f * npos + j];
        let r: number;
        if (cfg.xrfModel === "lsq") {
          const d = X - M;
          this.lossXrf += d * d;
          r = 2 * d;
        } else {
          const m = X + eps, c = M > 0 ? M : 0;
          this.lossXrf += c > 0 ? m - c - c * Math.log(m / c) : m;
          r = 1 - c / m;
        }
        xres[f] = sens[f] * r;
      }
    }
    if (!gradient) return;
    const gm = this.buf.gMaps;
    const w = sub ? this.wsub : this.wint;
    if (sub && pg) w.fill(0);
    for (let e = 0; e < E; e += 2) {
      const a0 = xres[e], a1 = e + 1 < E ? xres[e + 1] : 0;
      if (a0 === 0 && a1 === 0) continue;
      const b0 = e * hw + corner, b1 = e + 1 < E ? b0 + hw : b0;
      for (let y = 0; y < n; y++) {
        const r0 = b0 + y * W, r1 = b1 + y * W;
        if (pg) {
          for (let x = 0, p = y * n; x < n; x++, p++) {
            const i = iq[p];
            gm[r0 + x] += a0 * i;
            gm[r1 + x] += a1 * i;
            w[p] += a0 * maps[r0 + x] + a1 * maps[r1 + x];
          }
        } else {
          for (let x = 0, p = y * n; x < n; x++, p++) {
            const i = iq[p];
            gm[r0 + x] += a0 * i;
            gm[r1 + x] += a1 * i;
          }
        }
      }
    }
    if (pg && sub) {
      const { wr, wi, q, qOff } = this;
      for (let k = 0; k < K; k++) {
        const qr0 = qOff + 2 * k * nn, qi0 = qr0 + nn, o = k * nn;
        for (let p = 0; p < nn; p++) {
          wr[o + p] = q[qr0 + p] * w[p];
          wi[o + p] = q[qi0 + p] * w[p];
        }
      }
      this.accumulateShifted(this.axr, this.axi);
      this.anySubX = true;
    }
  }

  /**
   * out (interleaved K x N x N) = cb . (B + s IDFT(A)); for the XRF term B_k = Pc_k . wint (its integer part).
   * A is destroyed.
   */
  private finishProbeGradient(
    bpr: Float64Array, bpi: Float64Array, ar: Float64Array, ai: Float64Array, anySub: boolean, out: Float32Array,
    xrf: boolean,
  ): void {
    const { nn, modes: K, fft, checker, pc, wint } = this;
    const s = 1 / nn;
    for (let k = 0; k < K; k++) {
      const o = k * nn;
      if (anySub) fft.inverse(ar, ai, o);
      for (let p = 0; p < nn; p++) {
        let re: number, im: number;
        if (xrf) {
          re = pc[2 * o + p] * wint[p];
          im = pc[2 * o + nn + p] * wint[p];
        } else {
          re = bpr[o + p];
          im = bpi[o + p];
        }
        if (anySub) {
          re += s * ar[o + p];
          im += s * ai[o + p];
        }
        out[2 * (o + p)] = checker[p] * re;
        out[2 * (o + p) + 1] = checker[p] * im;
      }
    }
  }
}
