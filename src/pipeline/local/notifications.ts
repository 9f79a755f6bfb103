/**
 * The local notifier: every notification appended as one JSON line to a file the user can read (and `tail
 * -f`), optionally echoed as text. The local stack, its workers (PTYXRF_NOTIFY_FILE) and the CLI share the
 * file; appends of one line are atomic enough for a few writers on one machine (O_APPEND, one write each).
 */
import fs from "node:fs";
import path from "node:path";
import type { Notification, Notifier } from "../notify/notifier.js";

export interface NotificationLine extends Notification {
  time: string;
  /** Which process published it (stack, worker <job id>). */
  from: string;
}

export class JsonLinesNotifier implements Notifier {
  private count = 0;

  constructor(readonly file: string, readonly from: string, private readonly echo?: (line: NotificationLine) => void) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  }

  async publish(n: Notification): Promise<string> {
    const line: NotificationLine = { time: new Date().toISOString(), from: this.from, ...n };
    fs.appendFileSync(this.file, `${JSON.stringify(line)}\n`);
    this.echo?.(line);
    this.count += 1;
    return `${this.from}-${process.pid}-${this.count}`;
  }
}

/** Every notification in the file (a torn last line, still being written, is skipped). */
export function readNotifications(file: string): NotificationLine[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const out: NotificationLine[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as NotificationLine);
    } catch {
      /* partial line */
    }
  }
  return out;
}

/**
 * Follows the file from its current end (or from `fromByte`), calling `onLine` for each new complete line;
 * polls every `intervalMs`. Returns a stop function.
 */
export function followNotifications(file: string, onLine: (line: NotificationLine) => void, o: { fromByte?: number; intervalMs?: number } = {}): () => void {
  let offset = o.fromByte ?? (fs.existsSync(file) ? fs.statSync(file).size : 0);
  let rest = "";
  const poll = () => {
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch {
      return;
    }
    if (size < offset) offset = 0; // truncated / replaced
    if (size === offset) return;
    const fd = fs.openSync(file, "r");
    try {
      const buf = Buffer.alloc(size - offset);
      fs.readSync(fd, buf, 0, buf.length, offset);
      offset = size;
      const text = rest + buf.toString("utf8");
      const lines = text.split("\n");
      rest = lines.pop() ?? "";
      for (const l of lines) {
        if (!l.trim()) continue;
        try {
          onLine(JSON.parse(l) as NotificationLine);
        } catch {
          /* not JSON: skip */
        }
      }
    } finally {
      fs.closeSync(fd);
    }
  };
  const timer = setInterval(poll, o.intervalMs ?? 200);
  timer.unref();
  return () => {
    clearInterval(timer);
    poll();
  };
}

/** A notification as a few lines of text for a terminal. */
export function formatNotification(n: Notification): string {
  const head = `[${n.kind}] ${n.subject}`;
  return `${head}\n${n.text.split("\n").map((l) => (l ? `    ${l}` : "")).join("\n")}`;
}
