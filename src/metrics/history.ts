/**
 * Per-iteration history of a reconstruction (DESIGN.md "Metrics": every loss term, weight, step size and time
 * per iteration), kept in memory, serialised to JSON (metrics.json) and exported as CSV for plotting.
 *
 * Terms are open-ended name -> value records so every solver can log what it has, e.g.
 *   losses:  { ptycho, xrf, tv, total }        weights: { w_p, w_x }        steps: { object, probe, maps }
 *   errors:  { object, Fe, Zn, cpcc }           (optional: only where a truth is known)
 *
 * JSON cannot hold NaN or +-Infinity: they are written as null and read back as NaN. CSV columns are
 * `iteration,time_s`, then `loss.<name>`, `weight.<name>`, `step.<name>`, `error.<name>` for every name seen in
 * any record (in order of first appearance); a value a record lacks is an empty cell; NaN is written as NaN.
 */

export interface HistoryRecord {
  /** Iteration number (0-based or 1-based, as the solver counts; non-decreasing). */
  iteration: number;
  /** Wall time in seconds since the start of the run, at the end of this iteration. */
  time_s: number;
  /** Each loss term by name (e.g. ptycho, xrf, tv, total). */
  losses: Record<string, number>;
  /** Each weight by name (e.g. the GradNorm weights w_p, w_x). */
  weights: Record<string, number>;
  /** Each step size / learning rate by parameter group (e.g. object, probe, maps). */
  steps: Record<string, number>;
  /** Optional errors against the truth (e.g. object, Fe, cpcc). */
  errors?: Record<string, number>;
}

/** JSON form: records with non-finite numbers as null. */
export interface HistoryJson {
  version: 1;
  meta?: Record<string, string | number | boolean>;
  records: Array<Omit<HistoryRecord, "losses" | "weights" | "steps" | "errors"> & {
    losses: Record<string, number | null>;
    weights: Record<string, number | null>;
    steps: Record<string, number | null>;
    errors?: Record<string, number | null>;
  }>;
}

export type HistoryGroup = "losses" | "weights" | "steps" | "errors";
type Group = HistoryGroup;
const GROUPS: Array<[Group, string]> = [["losses", "loss"], ["weights", "weight"], ["steps", "step"], ["errors", "error"]];

const toJsonNumber = (v: number): number | null => (Number.isFinite(v) ? v : null);
const fromJsonNumber = (v: number | null | undefined): number => (typeof v === "number" ? v : NaN);

function mapValues<A, B>(r: Record<string, A>, f: (v: A) => B): Record<string, B> {
  const out: Record<string, B> = {};
  for (const [k, v] of Object.entries(r)) out[k] = f(v);
  return out;
}

function csvCell(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export class History {
  readonly records: HistoryRecord[] = [];
  readonly meta: Record<string, string | number | boolean>;

  constructor(meta: Record<string, string | number | boolean> = {}) {
    this.meta = { ...meta };
  }

  get length(): number {
    return this.records.length;
  }

  /** Appends a copy of the record. Throws on a non-integer or decreasing iteration, or a negative time. */
  append(record: HistoryRecord): void {
    if (!Number.isInteger(record.iteration) || record.iteration < 0) {
      throw new Error(`History: iteration must be an integer >= 0, got ${record.iteration}`);
    }
    const last = this.last();
    if (last && record.iteration < last.iteration) {
      throw new Error(`History: iteration ${record.iteration} after iteration ${last.iteration}`);
    }
    if (!(record.time_s >= 0)) throw new Error(`History: time_s must be >= 0, got ${record.time_s}`);
    this.records.push({
      iteration: record.iteration,
      time_s: record.time_s,
      losses: { ...record.losses },
      weights: { ...record.weights },
      steps: { ...record.steps },
      ...(record.errors ? { errors: { ...record.errors } } : {}),
    });
  }

  last(): HistoryRecord | undefined {
    return this.records[this.records.length - 1];
  }

  /** One series over all records, e.g. column("losses", "xrf"); NaN where a record lacks it. */
  column(group: Group, name: string): Float64Array {
    return Float64Array.from(this.records, (r) => r[group]?.[name] ?? NaN);
  }

  /** Names used in a group, in order of first appearance. */
  names(group: Group): string[] {
    const seen = new Set<string>();
    for (const r of this.records) for (const k of Object.keys(r[group] ?? {})) seen.add(k);
    return [...seen];
  }

  toJSON(): HistoryJson {
    return {
      version: 1,
      ...(Object.keys(this.meta).length ? { meta: { ...this.meta } } : {}),
      records: this.records.map((r) => ({
        iteration: r.iteration,
        time_s: r.time_s,
        losses: mapValues(r.losses, toJsonNumber),
        weights: mapValues(r.weights, toJsonNumber),
        steps: mapValues(r.steps, toJsonNumber),
        ...(r.errors ? { errors: mapValues(r.errors, toJsonNumber) } : {}),
      })),
    };
  }

  /** JSON text (JSON.stringify(history) gives the same, compact). */
  serialize(indent?: number): string {
    return JSON.stringify(this.toJSON(), null, indent);
  }

  static fromJSON(json: HistoryJson | string): History {
    const obj: HistoryJson = typeof json === "string" ? (JSON.parse(json) as HistoryJson) : json;
    if (!obj || obj.version !== 1 || !Array.isArray(obj.records)) {
      throw new Error("History.fromJSON: expected { version: 1, records: [...] }");
    }
    const h = new History(obj.meta ?? {});
    for (const r of obj.records) {
      h.append({
        iteration: r.iteration,
        time_s: r.time_s,
        losses: mapValues(r.losses ?? {}, fromJsonNumber),
        weights: mapValues(r.weights ?? {}, fromJsonNumber),
        steps: mapValues(r.steps ?? {}, fromJsonNumber),
        ...(r.errors ? { errors: mapValues(r.errors, fromJsonNumber) } : {}),
      });
    }
    return h;
  }

  /** CSV text with a header row; one row per record. */
  toCSV(): string {
    const columns: Array<[Group, string, string]> = [];
    for (const [group, prefix] of GROUPS) for (const name of this.names(group)) columns.push([group, name, `${prefix}.${name}`]);
    const lines = [["iteration", "time_s", ...columns.map((c) => c[2])].map(csvCell).join(",")];
    for (const r of this.records) {
      const cells = [String(r.iteration), String(r.time_s)];
      for (const [group, name] of columns) {
        const v = r[group]?.[name];
        cells.push(v === undefined ? "" : String(v));
      }
      lines.push(cells.join(","));
    }
    return lines.join("\n") + "\n";
  }
}
