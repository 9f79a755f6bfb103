/**
 * A sweep spec (docs/sweeps.md): which scans, which solver configurations, how to rank the results.
 *
 *   name: noise-vs-alpha                  # optional; default: the spec file's name
 *   scans:                                # s3:// URIs, local paths (relative to the spec file), or a prefix + pattern
 *     - s3://ptyxrf-scans/incoming/alice/run-17.h5
 *     - scans/run-18.h5
 *     - { prefix: "s3://ptyxrf-scans/incoming/alice/2026/", pattern: "*.h5" }
 *   truth:                                # optional: ground truth per scan (as written under scans)
 *     scans/run-18.h5: scans/run-18.truth.h5
 *   base: { iterations: 100 }             # overrides every task starts from (nested or dotted keys)
 *   grid:                                 # cartesian product of the values
 *     noise.ptycho: [gaussian, poisson]
 *     weights.alpha: [0.5, 1]
 *   list:                                 # and/or explicit configurations
 *     - { weights.strategy: fixed, weights.ptycho: 1.5, weights.xrf: 0.5 }
 *   rankBy: { metric: object_rel_error, order: min }   # optional (sweep/aggregate.ts picks a default)
 *
 * This module parses (JSON or YAML) and checks the spec's shape, reporting every problem at once; the
 * configurations themselves are validated with the solver's own resolveConfig when they are expanded.
 */
import fs from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";

export type Scalar = string | number | boolean;

export interface ScanPattern {
  /** s3://bucket/prefix/ */
  prefix: string;
  /** A glob on the key below the prefix: `*` within one folder, `**` across folders (default "*.h5"). */
  pattern: string;
}

export type ScanEntry = string | ScanPattern;

export interface RankBy {
  metric: string;
  order: "min" | "max";
}

export interface SweepSpec {
  name: string;
  scans: ScanEntry[];
  /** Ground truth per scan entry (the same string as under `scans`). */
  truth: Record<string, string>;
  /** Overrides of every configuration, flattened to dotted keys. */
  base: Record<string, Scalar | null>;
  /** Dotted key -> the values to sweep. */
  grid: Record<string, Scalar[]>;
  /** Explicit configurations, each flattened to dotted keys. */
  list: Record<string, Scalar | null>[];
  rankBy: RankBy | null;
}

export class SweepSpecError extends Error {
  constructor(readonly problems: string[], readonly source = "the sweep spec") {
    super(`${source}: ${problems.length === 1 ? problems[0] : `${problems.length} problems:\n  - ${problems.join("\n  - ")}`}`);
    this.name = "SweepSpecError";
  }
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const KEYS = ["name", "scans", "truth", "base", "grid", "list", "rankBy"];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isScalar(v: unknown): v is Scalar {
  return typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v));
}

/** {"noise": {"ptycho": "x"}, "weights.alpha": 1} -> {"noise.ptycho": "x", "weights.alpha": 1}; problems for non-scalars. */
export function flattenOverrides(value: unknown, where: string, problems: string[]): Record<string, Scalar | null> {
  const out: Record<string, Scalar | null> = {};
  if (!isObject(value)) {
    problems.push(`${where} must be a mapping of config keys to values, got ${JSON.stringify(value)}`);
    return out;
  }
  const walk = (obj: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(obj)) {
      const key = `${prefix}${k}`;
      if (isObject(v)) walk(v, `${key}.`);
      else if (isScalar(v) || v === null) out[key] = v;
      else problems.push(`${where}: "${key}" must be a string, number, boolean or null, got ${JSON.stringify(v)}`);
    }
  };
  walk(value, "");
  return out;
}

/** Dotted keys -> the nested object resolveConfig takes. */
export function nestOverrides(flat: Record<string, Scalar | null>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flat)) {
    const parts = key.split(".");
    let node = out;
    for (const p of parts.slice(0, -1)) {
      if (!isObject(node[p])) node[p] = {};
      node = node[p] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]] = value;
  }
  return out;
}

function checkScans(v: unknown, problems: string[]): ScanEntry[] {
  if (!Array.isArray(v) || v.length === 0) {
    problems.push(`"scans" must be a non-empty list (s3:// URIs, local paths, or {prefix: "s3://bucket/prefix/", pattern: "*.h5"}), got ${JSON.stringify(v)}`);
    return [];
  }
  const out: ScanEntry[] = [];
  v.forEach((s, i) => {
    if (typeof s === "string" && s.trim()) {
      if (s.startsWith("s3://") && !/^s3:\/\/[^/]+\/.*[^/]$/.test(s)) problems.push(`scans[${i}]: expected s3://bucket/key of one scan, got "${s}" (for a folder use {prefix: ..., pattern: "*.h5"})`);
      else out.push(s.trim());
    } else if (isObject(s)) {
      const extra = Object.keys(s).filter((k) => k !== "prefix" && k !== "pattern");
      if (extra.length) problems.push(`scans[${i}]: unknown field${extra.length > 1 ? "s" : ""} ${extra.map((k) => `"${k}"`).join(", ")} (expected prefix and pattern)`);
      const prefix = s.prefix;
      const pattern = s.pattern ?? "*.h5";
      if (typeof prefix !== "string" || !/^s3:\/\/[^/]+\/(.*\/)?$/.test(prefix)) problems.push(`scans[${i}].prefix must be s3://bucket/ or s3://bucket/folder/ (ending in /), got ${JSON.stringify(prefix)}`);
      else if (typeof pattern !== "string" || !pattern) problems.push(`scans[${i}].pattern must be a glob such as "*.h5", got ${JSON.stringify(pattern)}`);
      else out.push({ prefix, pattern });
    } else {
      problems.push(`scans[${i}]: expected an s3:// URI, a local path or {prefix, pattern}, got ${JSON.stringify(s)}`);
    }
  });
  return out;
}

/** Checks a parsed spec object; `defaultName` when it has no name (the spec file's name). */
export function checkSweepSpec(raw: unknown, defaultName = "sweep", source?: string): SweepSpec {
  const problems: string[] = [];
  if (!isObject(raw)) throw new SweepSpecError([`expected a mapping with "scans" and "grid" and/or "list", got ${JSON.stringify(raw)?.slice(0, 80)}`], source);
  const unknown = Object.keys(raw).filter((k) => !KEYS.includes(k));
  if (unknown.length) problems.push(`unknown field${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${k}"`).join(", ")} (expected ${KEYS.join(", ")})`);

  const name = raw.name === undefined ? defaultName.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 64) || "sweep" : raw.name;
  if (typeof name !== "string" || !NAME_RE.test(name)) problems.push(`"name" must be letters, digits, . _ - (at most 64, starting with a letter or digit), got ${JSON.stringify(name)}`);

  const scans = checkScans(raw.scans, problems);

  const truth: Record<string, string> = {};
  if (raw.truth !== undefined) {
    if (!isObject(raw.truth)) problems.push(`"truth" must map scans (as written under "scans") to their ground truth, got ${JSON.stringify(raw.truth)}`);
    else {
      for (const [scan, t] of Object.entries(raw.truth)) {
        if (typeof t !== "string" || !t) problems.push(`truth["${scan}"] must be an s3:// URI or a local path, got ${JSON.stringify(t)}`);
        else if (!scans.includes(scan)) problems.push(`truth["${scan}"]: no such entry under "scans" (write the scan exactly as under "scans")`);
        else truth[scan] = t;
      }
    }
  }

  const base = raw.base === undefined ? {} : flattenOverrides(raw.base, `"base"`, problems);

  const grid: Record<string, Scalar[]> = {};
  if (raw.grid !== undefined) {
    if (!isObject(raw.grid)) problems.push(`"grid" must map config keys to lists of values, got ${JSON.stringify(raw.grid)}`);
    else {
      for (const [key, values] of Object.entries(raw.grid)) {
        if (!Array.isArray(values) || values.length === 0) problems.push(`grid["${key}"] must be a non-empty list of values, got ${JSON.stringify(values)}`);
        else if (!values.every(isScalar)) problems.push(`grid["${key}"]: every value must be a string, number or boolean, got ${JSON.stringify(values)}`);
        else if (new Set(values.map((x) => JSON.stringify(x))).size !== values.length) problems.push(`grid["${key}"] lists a value twice: ${JSON.stringify(values)}`);
        else grid[key] = values;
      }
    }
  }

  const list: Record<string, Scalar | null>[] = [];
  if (raw.list !== undefined) {
    if (!Array.isArray(raw.list) || raw.list.length === 0) problems.push(`"list" must be a non-empty list of config overrides, got ${JSON.stringify(raw.list)}`);
    else raw.list.forEach((entry, i) => list.push(flattenOverrides(entry, `list[${i}]`, problems)));
  }

  let rankBy: RankBy | null = null;
  if (raw.rankBy !== undefined) {
    const r = raw.rankBy;
    if (typeof r === "string" && r) rankBy = { metric: r, order: "min" };
    else if (isObject(r) && typeof r.metric === "string" && r.metric && (r.order === undefined || r.order === "min" || r.order === "max")) {
      rankBy = { metric: r.metric, order: (r.order as "min" | "max" | undefined) ?? "min" };
    } else problems.push(`"rankBy" must be {metric: NAME, order: min|max} (e.g. {metric: object_rel_error, order: min}), got ${JSON.stringify(r)}`);
  }
  if (problems.length) throw new SweepSpecError(problems, source);
  return { name: name as string, scans, truth, base, grid, list, rankBy };
}

/** Parses spec text: JSON when it looks like JSON, else YAML (a superset). */
export function parseSweepSpec(text: string, defaultName = "sweep", source?: string): SweepSpec {
  let raw: unknown;
  try {
    raw = /^\s*[{[]/.test(text) ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new SweepSpecError([`not valid JSON or YAML: ${(err as Error).message.split("\n")[0]}`], source);
  }
  return checkSweepSpec(raw, defaultName, source);
}

/** Reads a spec file; returns it with the folder its relative paths are resolved against. */
export function loadSweepSpec(file: string): { spec: SweepSpec; dir: string; raw: unknown } {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new SweepSpecError([`cannot read it: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`], file);
  }
  const spec = parseSweepSpec(text, path.basename(file).replace(/\.(ya?ml|json)$/i, ""), file);
  const raw = /^\s*[{[]/.test(text) ? JSON.parse(text) : parseYaml(text);
  return { spec, dir: path.dirname(path.resolve(file)), raw };
}
