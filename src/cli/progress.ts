/**
 * Progress of an iterative run on stderr: on a terminal, one line redrawn in place with a bar, the
 * iteration, the losses, the weights, time per iteration and the ETA; otherwise plain lines, about twenty
 * per run, that read well in a log.
 */
import type { IterationRecord } from "../solver/reconstruct.js";
import { formatNumber } from "./format.js";

export interface Progress {
  update(record: IterationRecord, total: number): void;
  done(): void;
}

function seconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export function describe(record: IterationRecord, total: number): string {
  const l = record.losses, w = record.weights;
  const parts = [`loss ${formatNumber(l.total)}`];
  if (l.ptycho !== undefined && l.xrf !== undefined) parts.push(`(ptycho ${formatNumber(l.ptycho)}, xrf ${formatNumber(l.xrf)})`);
  if (w.ptycho !== undefined && w.xrf !== undefined) parts.push(`w ${w.ptycho.toFixed(2)}/${w.xrf.toFixed(2)}`);
  if (record.errors?.object !== undefined) parts.push(`err ${record.errors.object.toFixed(4)}`);
  const perIter = record.time_s / record.iteration;
  parts.push(`${(1000 * perIter).toFixed(1)} ms/it`, `ETA ${seconds(perIter * (total - record.iteration))}`);
  return parts.join("  ");
}

export function createProgress(write: (s: string) => void, isTTY: boolean, label = ""): Progress {
  let last = "";
  const prefix = label ? `${label} ` : "";
  return {
    update(record, total) {
      const it = record.iteration;
      if (isTTY) {
        const width = 24, filled = Math.round((width * it) / total);
        last = `\r${prefix}[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(it).padStart(String(total).length)}/${total}  ${describe(record, total)}`;
        write(`${last}\x1b[K`);
      } else {
        const every = Math.max(1, Math.floor(total / 20));
        if (it === 1 || it % every === 0 || it === total) write(`${prefix}iteration ${it}/${total}  ${describe(record, total)}\n`);
      }
    },
    done() {
      if (isTTY && last) write("\n");
    },
  };
}
