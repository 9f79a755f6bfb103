/**
 * A sweep spec expanded into tasks: the configurations (the grid's cartesian product, then the list's
 * entries; the base alone when there is neither), times the scans (scan-major: the tasks of one scan are
 * adjacent). Every task's config is resolved with the solver's resolveConfig up front, so that a typo fails
 * the whole sweep before anything is uploaded or submitted, naming the tasks and the key.
 */
import { ConfigError, resolveConfig, type SolverConfig } from "../../solver/config.js";
import { MAX_ARRAY_SIZE } from "../submit/jobSpec.js";
import { nestOverrides, SweepSpecError, type Scalar, type SweepSpec } from "./spec.js";

export interface Configuration {
  /** 0-based, in expansion order. */
  index: number;
  /** This configuration's own overrides (grid values or list entry), dotted keys: what the summary shows. */
  params: Record<string, Scalar>;
  /** base + params, resolved. */
  config: SolverConfig;
}

/** A scan after resolution (scans.ts): where it is and how the worker reads it. */
export interface SweepScan {
  /** As written in the spec (or the matched key's URI for a prefix entry). */
  given: string;
  /** A short name for tables. */
  label: string;
  /** Ground truth as written in the spec, if any. */
  truth: string | null;
}

export interface ExpandedTask<S extends SweepScan = SweepScan> {
  index: number;
  /** t000, t001, ... */
  id: string;
  scan: S;
  params: Record<string, Scalar>;
  config: SolverConfig;
}

function cartesian(grid: Record<string, Scalar[]>): Record<string, Scalar>[] {
  let out: Record<string, Scalar>[] = [{}];
  for (const [key, values] of Object.entries(grid)) out = out.flatMap((p) => values.map((v) => ({ ...p, [key]: v })));
  return out;
}

function describe(params: Record<string, Scalar>): string {
  const parts = Object.entries(params).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  return parts.length ? parts.join(", ") : "base only";
}

export function taskId(index: number, count: number): string {
  return `t${String(index).padStart(Math.max(3, String(count - 1).length), "0")}`;
}

/** The configurations of a spec, each resolved; every invalid one is reported (by the tasks that use it). */
export function expandConfigurations(spec: SweepSpec, scanCount = 1): Configuration[] {
  const grid = Object.keys(spec.grid).length ? cartesian(spec.grid) : [];
  const listed = spec.list.map((entry) => Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== null)) as Record<string, Scalar>);
  const all = [...grid, ...listed];
  const params = all.length ? all : [{}];
  const problems: string[] = [];
  const configs: Configuration[] = [];
  const count = params.length * Math.max(1, scanCount);
  params.forEach((p, index) => {
    try {
      const merged = nestOverrides({ ...spec.base, ...p });
      configs.push({ index, params: p, config: resolveConfig(merged) });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      const ids = Array.from({ length: Math.max(1, scanCount) }, (_, s) => taskId(s * params.length + index, count));
      const who = ids.length <= 3 ? ids.join(", ") : `${ids.slice(0, 3).join(", ")} and ${ids.length - 3} more`;
      for (const problem of err.problems) problems.push(`task${ids.length > 1 ? "s" : ""} ${who} (configuration ${index + 1} of ${params.length}: ${describe(p)}): ${problem}`);
    }
  });
  if (problems.length) throw new SweepSpecError(problems);
  return configs;
}

/** Tasks = scans x configurations, scan-major; at most MAX_ARRAY_SIZE (one array job). */
export function expandTasks<S extends SweepScan>(spec: SweepSpec, scans: S[]): ExpandedTask<S>[] {
  if (!scans.length) throw new SweepSpecError(["no scans: every entry under \"scans\" matched nothing"]);
  const configs = expandConfigurations(spec, scans.length);
  const count = scans.length * configs.length;
  if (count > MAX_ARRAY_SIZE) {
    throw new SweepSpecError([`${scans.length} scans x ${configs.length} configurations = ${count} tasks: at most ${MAX_ARRAY_SIZE} fit in one Batch array job (split the sweep)`]);
  }
  const tasks: ExpandedTask<S>[] = [];
  for (const scan of scans) {
    for (const c of configs) {
      const index = tasks.length;
      tasks.push({ index, id: taskId(index, count), scan, params: c.params, config: c.config });
    }
  }
  return tasks;
}

export { describe as describeParams };
