/**
 * Phantom: element maps and a non-fluorescing matrix on an H x W grid, in relative units (values in [0, 1];
 * simulate.ts scales them to areal densities). Piecewise-smooth structures with sharp (about one pixel wide,
 * anti-aliased) edges, not noise:
 *
 *   matrix:   one large cell-like ellipse with a dome-shaped thickness profile and two thinner "vacuoles";
 *   elements: per element, 2 + round(H W / (6 D^2)) features inside the cell (ellipses and convex polygons with
 *             a gently curved interior), about half of them larger than the beam diameter D and the rest with
 *             diameters of 0.25-0.6 D (smaller than the probe); the first large feature of each element partly
 *             overlaps the first large feature of the previous element; overlapping features add, then clip at 1.
 */
import type { Rng } from "./rng.js";

export interface PhantomSpec {
  height: number;
  width: number;
  elements: string[];
  /** Beam diameter in pixels: sets the feature sizes. */
  beamDiameter_px: number;
}

export interface Phantom {
  elements: Record<string, Float32Array>;
  matrix: Float32Array;
}

interface Shape {
  cy: number;
  cx: number;
  /** Radius of a disc about (cy, cx) that holds the shape. */
  reach: number;
  /** Signed distance in pixels (negative inside) and normalised radius rho (0 at the centre, 1 on the edge). */
  at(y: number, x: number): { sd: number; rho: number };
}

function ellipse(cy: number, cx: number, a: number, b: number, angle: number): Shape {
  const c = Math.cos(angle), s = Math.sin(angle);
  return {
    cy, cx, reach: Math.max(a, b),
    at(y, x) {
      const u = (y - cy) * c + (x - cx) * s, v = -(y - cy) * s + (x - cx) * c;
      const rho = Math.hypot(u / a, v / b);
      if (rho === 0) return { sd: -Math.min(a, b), rho };
      const grad = Math.hypot(u / (a * a), v / (b * b)) / rho;
      return { sd: (rho - 1) / grad, rho };
    },
  };
}

/** Convex polygon: `k` vertices on a circle of radius r at jittered, evenly spread angles. */
function polygon(cy: number, cx: number, r: number, k: number, rng: Rng): Shape {
  const theta0 = 2 * Math.PI * rng.uniform();
  const vy: number[] = [], vx: number[] = [];
  for (let i = 0; i < k; i++) {
    const t = theta0 + (2 * Math.PI * (i + 0.6 * (rng.uniform() - 0.5))) / k;
    vy.push(cy + r * Math.sin(t));
    vx.push(cx + r * Math.cos(t));
  }
  // outward normals (ny, nx) and offsets of each edge: inside where ny y + nx x - d <= 0 for all edges
  const ny: number[] = [], nx: number[] = [], d: number[] = [];
  for (let i = 0; i < k; i++) {
    const j = (i + 1) % k;
    const ey = vy[j] - vy[i], ex = vx[j] - vx[i], len = Math.hypot(ey, ex);
    let py = -ex / len, px = ey / len;
    if (py * (vy[i] - cy) + px * (vx[i] - cx) < 0) { py = -py; px = -px; }
    ny.push(py);
    nx.push(px);
    d.push(py * vy[i] + px * vx[i]);
  }
  const inradius = Math.min(...d.map((di, i) => di - ny[i] * cy - nx[i] * cx));
  return {
    cy, cx, reach: r,
    at(y, x) {
      let sd = -Infinity;
      for (let i = 0; i < k; i++) sd = Math.max(sd, ny[i] * y + nx[i] * x - d[i]);
      return { sd, rho: Math.min(1, Math.hypot(y - cy, x - cx) / Math.max(inradius, 1e-9)) };
    },
  };
}

/** map += amplitude * edge(sd) * profile(rho) over the shape's bounding box. */
function paint(map: Float32Array, width: number, height: number, shape: Shape, amplitude: number, profile: (rho: number) => number): void {
  const y0 = Math.max(0, Math.floor(shape.cy - shape.reach - 2)), y1 = Math.min(height - 1, Math.ceil(shape.cy + shape.reach + 2));
  const x0 = Math.max(0, Math.floor(shape.cx - shape.reach - 2)), x1 = Math.min(width - 1, Math.ceil(shape.cx + shape.reach + 2));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const { sd, rho } = shape.at(y, x);
      const edge = Math.min(1, Math.max(0, 0.5 - sd));
      if (edge > 0) map[y * width + x] += amplitude * edge * profile(Math.min(rho, 1));
    }
  }
}

function clip01(map: Float32Array): void {
  for (let i = 0; i < map.length; i++) map[i] = Math.min(1, Math.max(0, map[i]));
}

export function makePhantom(spec: PhantomSpec, rng: Rng): Phantom {
  const { height: H, width: W, beamDiameter_px: D } = spec;
  if (spec.elements.length < 1) throw new Error("phantom: at least one element is needed");
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * rng.uniform();

  const matrix = new Float32Array(H * W);
  const cell = ellipse(H / 2 + uniform(-0.03, 0.03) * H, W / 2 + uniform(-0.03, 0.03) * W,
    uniform(0.36, 0.44) * H, uniform(0.36, 0.44) * W, uniform(0, Math.PI));
  paint(matrix, W, H, cell, 1, (rho) => 0.55 + 0.45 * Math.sqrt(1 - rho * rho));
  /** A point inside the cell, at normalised radius <= maxRho. */
  const inCell = (maxRho: number): [number, number] => {
    for (;;) {
      const y = uniform(0, H), x = uniform(0, W);
      if (cell.at(y, x).rho <= maxRho) return [y, x];
    }
  };
  for (let v = 0; v < 2; v++) {
    const [cy, cx] = inCell(0.6);
    const r = uniform(0.08, 0.14) * Math.min(H, W);
    paint(matrix, W, H, ellipse(cy, cx, r, r * uniform(0.6, 1), uniform(0, Math.PI)), -0.5, () => 1);
  }
  clip01(matrix);

  const count = 2 + Math.round((H * W) / (6 * D * D));
  const elements: Record<string, Float32Array> = {};
  let anchor: { cy: number; cx: number; r: number } | null = null;
  for (const el of spec.elements) {
    const map = new Float32Array(H * W);
    for (let f = 0; f < count; f++) {
      const big = f % 2 === 0;
      const r = Math.max(1.5, big ? uniform(0.35, 0.9) * D : uniform(0.12, 0.3) * D);
      let [cy, cx] = inCell(0.85);
      if (f === 0 && anchor) {
        const t = uniform(0, 2 * Math.PI);
        cy = anchor.cy + 0.8 * anchor.r * Math.sin(t);
        cx = anchor.cx + 0.8 * anchor.r * Math.cos(t);
      }
      if (f === 0) anchor = { cy, cx, r };
      const shape = rng.uniform() < 0.5
        ? ellipse(cy, cx, r, r * uniform(0.5, 1), uniform(0, Math.PI))
        : polygon(cy, cx, r, 3 + Math.floor(5 * rng.uniform()), rng);
      paint(map, W, H, shape, uniform(0.5, 1), (rho) => 1 - 0.3 * rho * rho);
    }
    clip01(map);
    elements[el] = map;
  }
  return { elements, matrix };
}
