/** Structured log lines (one JSON object per line: CloudWatch Logs Insights can query every field). */
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}

export const consoleLogger: Logger = {
  log(level, message, fields = {}) {
    const line = JSON.stringify({ level, message, ...fields });
    if (level === "error" || level === "warn") console.error(line);
    else console.log(line);
  },
};

/** Keeps the lines (tests). */
export class MemoryLogger implements Logger {
  readonly lines: { level: LogLevel; message: string; fields: Record<string, unknown> }[] = [];
  log(level: LogLevel, message: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level, message, fields });
  }
  messages(level?: LogLevel): string[] {
    return this.lines.filter((l) => !level || l.level === level).map((l) => l.message);
  }
}

export function errorFields(err: unknown): Record<string, unknown> {
  const e = err as { name?: string; message?: string; stack?: string };
  return { error: e?.name ?? "Error", errorMessage: e?.message ?? String(err) };
}
