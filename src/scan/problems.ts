/**
 * Problems the validator reports, and the collector that lists them: at most `maxProblems` per severity
 * (the rest are counted, never lost silently), every field made safe to show (safeText.ts: names from the
 * file may hold control characters or bidi overrides, and messages reach terminals and e-mails).
 */
import { safeText } from "./safeText.js";

export type Severity = "error" | "warning";

export interface Problem {
  /** Stable machine-readable code, e.g. "npos-mismatch". */
  code: string;
  /** Dataset or group path; attributes as `<object>@<attribute>`; "/" for the file itself. */
  path: string;
  expected: string;
  found: string;
  /** One line for people: path, expected, found, and a hint where one helps. */
  message: string;
}

/** Longest field kept (whole messages are built from fields: names inside are cut much shorter). */
const FIELD_MAX = 2000;

export class Collector {
  readonly errors: Problem[] = [];
  readonly warnings: Problem[] = [];
  /** Problems found but not listed (over maxProblems). */
  readonly omitted = { errors: 0, warnings: 0 };
  private readonly codes = new Set<string>();

  constructor(private readonly maxProblems = Infinity) {}

  add(severity: Severity, code: string, path: string, expected: string, found: string, hint?: string): void {
    this.codes.add(code);
    const list = severity === "error" ? this.errors : this.warnings;
    if (list.length >= this.maxProblems) {
      this.omitted[severity === "error" ? "errors" : "warnings"]++;
      return;
    }
    const p = safeText(path, FIELD_MAX), e = safeText(expected, FIELD_MAX), f = safeText(found, FIELD_MAX);
    const message = `${p}: expected ${e}, found ${f}${hint ? ` (${safeText(hint, FIELD_MAX)})` : ""}`;
    list.push({ code, path: p, expected: e, found: f, message });
  }
  error(code: string, path: string, expected: string, found: string, hint?: string): void {
    this.add("error", code, path, expected, found, hint);
  }
  warn(code: string, path: string, expected: string, found: string, hint?: string): void {
    this.add("warning", code, path, expected, found, hint);
  }
  /** True when a problem with one of `codes` was found (listed or not). */
  has(...codes: string[]): boolean {
    return codes.some((c) => this.codes.has(c));
  }
  get errorCount(): number {
    return this.errors.length + this.omitted.errors;
  }
}
