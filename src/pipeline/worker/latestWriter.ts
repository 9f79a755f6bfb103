/**
 * Writes where only the newest value matters (progress.json, the run's checkpoint): at most one write in
 * flight, and at most one waiting, the newest; a value pushed while another waits replaces it. A slow or
 * failing store therefore costs one write at a time, never a queue that grows by one entry per update and
 * that the worker must drain before it can exit (docs/cloud.md, "When S3 fails").
 */
export class LatestWriter<T> {
  private waiting: { value: T } | null = null;
  private waiters: (() => void)[] = [];
  private running: Promise<void> | null = null;
  /** Values replaced before they were written. */
  skipped = 0;

  /** `write` may throw: the error goes to `onError`, and the next value is written all the same. */
  constructor(private readonly write: (value: T) => Promise<void>, private readonly onError: (err: unknown) => void) {}

  /** Queues `value` in place of any waiting one; resolves once it, or a newer value, was written (or failed). */
  push(value: T): Promise<void> {
    if (this.waiting) this.skipped += 1;
    this.waiting = { value };
    const done = new Promise<void>((resolve) => this.waiters.push(resolve));
    this.running ??= this.pump();
    return done;
  }

  /** Resolves when nothing is in flight or waiting. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async pump(): Promise<void> {
    try {
      while (this.waiting) {
        const { value } = this.waiting;
        this.waiting = null;
        const waiters = this.waiters;
        this.waiters = [];
        try {
          await this.write(value);
        } catch (err) {
          this.onError(err);
        }
        for (const w of waiters) w();
      }
    } finally {
      this.running = null;
    }
  }
}
