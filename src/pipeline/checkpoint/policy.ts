/**
 * When to checkpoint: every N iterations or every M minutes, whichever comes first, plus on demand (SIGTERM).
 * The worker reads N and M from the environment (PTYXRF_CHECKPOINT_EVERY, PTYXRF_CHECKPOINT_MINUTES).
 */
export interface CheckpointCadence {
  /** Iterations between checkpoints (0: never by count). */
  everyIterations: number;
  /** Milliseconds between checkpoints (0: never by time). */
  everyMs: number;
}

/** Defaults: a checkpoint costs one upload of the state; every 50 iterations or 5 minutes keeps the loss small. */
export const DEFAULT_CADENCE: CheckpointCadence = { everyIterations: 50, everyMs: 5 * 60_000 };

export class CheckpointPolicy {
  private lastIteration: number;
  private lastAt: number;

  constructor(readonly cadence: CheckpointCadence, startIteration = 0, private readonly now: () => number = Date.now) {
    this.lastIteration = startIteration;
    this.lastAt = now();
  }

  /** True when a checkpoint is due after `iteration` iterations (of `total`; none after the last one). */
  due(iteration: number, total: number): boolean {
    if (iteration >= total) return false;
    const { everyIterations, everyMs } = this.cadence;
    if (everyIterations > 0 && iteration - this.lastIteration >= everyIterations) return true;
    if (everyMs > 0 && this.now() - this.lastAt >= everyMs) return true;
    return false;
  }

  /** Records a checkpoint taken after `iteration` iterations. */
  taken(iteration: number): void {
    this.lastIteration = iteration;
    this.lastAt = this.now();
  }
}

/** Cadence from the environment; invalid values are reported (the worker exits with invalid input). */
export function cadenceFromEnv(env: NodeJS.ProcessEnv): { cadence: CheckpointCadence; problems: string[] } {
  const problems: string[] = [];
  const num = (name: string, fallback: number, scale = 1): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback * scale;
    const v = Number(raw);
    if (!Number.isFinite(v) || v < 0) {
      problems.push(`${name} must be a number >= 0, got "${raw}"`);
      return fallback * scale;
    }
    return v * scale;
  };
  return {
    cadence: {
      everyIterations: Math.round(num("PTYXRF_CHECKPOINT_EVERY", DEFAULT_CADENCE.everyIterations)),
      everyMs: num("PTYXRF_CHECKPOINT_MINUTES", DEFAULT_CADENCE.everyMs / 60_000, 60_000),
    },
    problems,
  };
}
