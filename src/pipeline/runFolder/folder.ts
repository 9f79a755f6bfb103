/**
 * A local run's output folder DIR, never mixed, never overwritten by surprise (README "ptyxrf reconstruct",
 * "Run folders"):
 *
 *   DIR.lock      the exclusive lock of the run writing DIR (lock.ts); a second run fails at once
 *   DIR.partial/  the run being built: outputs, and `_checkpoint/solver.ckpt` (checkpoint/format.ts) while it
 *                 runs; kept after Ctrl-C (to --resume), removed after a failure that left no checkpoint
 *   DIR/          appears only complete, manifest.json included: DIR.partial is renamed to DIR (a new folder), or
 *                 its files are moved into an empty DIR with manifest.json last
 *
 * DIR holding a complete run (manifest.json) or an incomplete one is replaced only with --force, and only when
 * it holds nothing but ptyxrf run outputs (a scan, notes or any other file inside: refused, even with --force).
 * The replacement is two renames (DIR -> DIR.replaced, DIR.partial -> DIR) and a removal, done synchronously
 * (a Ctrl-C cannot fall between them); after a crash or kill -9 in between, the next run into DIR (under the
 * lock) finishes the swap before anything else: at any moment DIR is the old complete run or the new one,
 * or, only between the two renames, absent with both runs intact beside it.
 */
import fs from "node:fs";
import path from "node:path";
import { NonFiniteError } from "../../solver/finite.js";
import { CHECKPOINT_DIR, CHECKPOINT_NAME } from "../checkpoint/store.js";
import { CHECKPOINT_MAGIC } from "../checkpoint/format.js";
import { MANIFEST } from "../outputs.js";
import { RunFolderError } from "./errors.js";
import { FolderLock } from "./lock.js";

export { RunFolderError };

export const STAGING_SUFFIX = ".partial";
export const REPLACED_SUFFIX = ".replaced";

/** Names a run writes into its folder (outputs.ts, report/previews.ts), and their `.partial` while written. */
const RUN_FILE = /^(result\.h5|metrics\.json|manifest\.json|report\.html|phase\.png|amplitude\.png|(element|overlay)_[A-Za-z0-9_-]+\.png|_checkpoint|progress\.json|error\.json)(\.partial)?$/;

export interface RunFolderOptions {
  /** Replace a folder holding a (complete or incomplete) run; discard an interrupted run's checkpoint. */
  force?: boolean;
  /** Continue the interrupted run whose checkpoint is in DIR.partial. */
  resume?: boolean;
  /** Notes for the user (stale lock taken over, leftovers removed, an interrupted swap finished). */
  onNote?: (text: string) => void;
}

type State =
  | { kind: "absent" }
  | { kind: "empty" }
  | { kind: "complete"; created: string | null }
  | { kind: "incomplete" };

function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

function list(p: string, max = 8): string {
  const names = fs.readdirSync(p);
  return names.slice(0, max).join(", ") + (names.length > max ? `, ... (${names.length} in all)` : "");
}

/** What a checkpoint file says about itself (its header only: the payload is checked when it is loaded). */
export function checkpointSummary(file: string): { iteration: number; iterations: number; created: string } | null {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch {
    return null;
  }
  try {
    const head = Buffer.alloc(12);
    if (fs.readSync(fd, head, 0, 12, 0) < 12 || head.toString("latin1", 0, 8) !== CHECKPOINT_MAGIC) return null;
    const len = head.readUInt32LE(8);
    if (len > 64 << 20) return null;
    const json = Buffer.alloc(len);
    if (fs.readSync(fd, json, 0, len, 12) < len) return null;
    const h = JSON.parse(json.toString("utf8")) as { created: string; meta: { iteration: number; iterations: number } };
    return { iteration: h.meta.iteration, iterations: h.meta.iterations, created: h.created };
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

export class RunFolder {
  /** Where the run is built (DIR.partial). */
  readonly staging: string;
  /** The checkpoint of the run being built. */
  readonly checkpointFile: string;
  private readonly abs: string;
  private readonly replaced: string;

  private constructor(readonly dir: string, private readonly lock: FolderLock, private readonly note: (t: string) => void) {
    this.abs = path.resolve(dir);
    // beside DIR whatever the spelling of --out ("runs/a/", "."): never inside it
    const shown = path.relative(process.cwd(), this.abs);
    this.staging = `${shown && !shown.startsWith("..") ? shown : this.abs}${STAGING_SUFFIX}`;
    this.replaced = `${this.abs}${REPLACED_SUFFIX}`;
    this.checkpointFile = path.join(this.staging, CHECKPOINT_DIR, CHECKPOINT_NAME);
  }

  /**
   * Locks DIR (FolderLockedError at once when another run holds it), finishes a swap a crash interrupted, and
   * checks that DIR may be written as asked (RunFolderError otherwise). Nothing of a previous run is changed
   * unless `force`, except leftovers with nothing to keep (an interrupted attempt without a checkpoint).
   */
  static open(dir: string, command: string, o: RunFolderOptions = {}): RunFolder {
    const note = o.onNote ?? (() => {});
    const abs = path.resolve(dir);
    if (path.dirname(abs) === abs) throw new RunFolderError(`--out ${dir}: a filesystem root cannot be a run folder`);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    const lock = FolderLock.acquire(dir, command, note);
    const f = new RunFolder(dir, lock, note);
    try {
      f.recover();
      f.check(o);
      return f;
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  private state(): State {
    let st: fs.Stats;
    try {
      st = fs.statSync(this.abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kind: "absent" };
      throw err;
    }
    if (!st.isDirectory()) throw new RunFolderError(`--out ${this.dir} exists and is not a folder`);
    const names = fs.readdirSync(this.abs);
    if (names.length === 0) return { kind: "empty" };
    const foreign = names.filter((n) => !RUN_FILE.test(n));
    if (foreign.length) {
      throw new RunFolderError(
        `${this.dir} holds files that are not ptyxrf run outputs (${foreign.slice(0, 8).join(", ")}${foreign.length > 8 ? `, ... ${foreign.length} in all` : ""}): ` +
          "ptyxrf writes a run only into a new or empty folder, or with --force over a folder of its own run outputs; choose another --out",
      );
    }
    if (!names.includes(MANIFEST)) return { kind: "incomplete" };
    let created: string | null = null;
    try {
      created = (JSON.parse(fs.readFileSync(path.join(this.abs, MANIFEST), "utf8")) as { created?: string }).created ?? null;
    } catch { /* a manifest that does not parse still marks the folder as a finished run's */ }
    return { kind: "complete", created };
  }

  private check(o: RunFolderOptions): void {
    const s = this.state();
    const ckpt = exists(this.checkpointFile) ? checkpointSummary(this.checkpointFile) ?? { iteration: NaN, iterations: NaN, created: "?" } : null;
    if (o.resume && !ckpt) {
      throw new RunFolderError(`nothing to resume: ${this.checkpointFile} does not exist${s.kind === "complete" ? ` (${this.dir} holds a complete run)` : ""}; run without --resume to start afresh`);
    }
    if (s.kind === "complete" && !o.force) {
      throw new RunFolderError(`${this.dir} holds a complete run (${MANIFEST}${s.created ? `, created ${s.created}` : ""}): ptyxrf does not overwrite it; add --force to replace it, or choose another --out`);
    }
    if (s.kind === "incomplete" && !o.force) {
      throw new RunFolderError(`${this.dir} holds an incomplete run (no ${MANIFEST}: ${list(this.abs)}): add --force to replace it, or choose another --out`);
    }
    if (o.resume) return;
    if (!exists(this.staging)) return;
    if (ckpt && !o.force) {
      throw new RunFolderError(
        `${this.staging} holds the checkpoint of an interrupted run (iteration ${ckpt.iteration} of ${ckpt.iterations}, saved ${ckpt.created}): ` +
          "add --resume to continue it, or --force to discard it and start afresh",
      );
    }
    fs.rmSync(this.staging, { recursive: true, force: true });
    this.note(ckpt
      ? `discarded the interrupted run in ${this.staging} (checkpoint at iteration ${ckpt.iteration} of ${ckpt.iterations}): --force`
      : `removed ${this.staging}: an earlier attempt that ended without a checkpoint`);
  }

  /** A crash (kill -9, power loss) between the steps of commit(): finish what it started. */
  private recover(): void {
    const stagingComplete = exists(path.join(this.staging, MANIFEST));
    if (exists(this.replaced)) {
      if (!exists(this.abs)) {
        if (stagingComplete) {
          fs.renameSync(this.staging, this.abs);
          this.note(`finished replacing ${this.dir}: the last run ended between swapping its new folder in and removing the old one`);
        } else {
          fs.renameSync(this.replaced, this.abs);
          this.note(`restored ${this.dir} from ${this.dir}${REPLACED_SUFFIX}: the last run ended while replacing it`);
          return;
        }
      }
      fs.rmSync(this.replaced, { recursive: true, force: true });
      return;
    }
    if (stagingComplete) {
      this.commit();
      this.note(`finished committing the complete run in ${this.staging} to ${this.dir}: the last run ended while moving it in`);
    }
  }

  /** Creates DIR.partial for a new run (resuming: keeps its checkpoint, drops anything else). */
  startStaging(resuming: boolean): void {
    if (resuming) {
      for (const name of fs.readdirSync(this.staging)) {
        if (name !== CHECKPOINT_DIR.replace(/\/$/, "")) fs.rmSync(path.join(this.staging, name), { recursive: true, force: true });
      }
    } else {
      fs.rmSync(this.staging, { recursive: true, force: true });
      fs.mkdirSync(this.staging, { recursive: true });
    }
  }

  /**
   * Puts the complete run of DIR.partial in place as DIR (its checkpoint removed first): a rename when DIR does
   * not exist; its files moved into DIR, manifest.json last, when DIR is empty (or holds only files of this run:
   * a move a crash interrupted); else (--force) DIR -> DIR.replaced, DIR.partial -> DIR, DIR.replaced removed.
   */
  commit(): void {
    try {
      this.state(); // files that are not run outputs appeared in DIR meanwhile: never deleted, the new run waits
    } catch (err) {
      if (err instanceof RunFolderError) throw new RunFolderError(`${err.message}. The new run is complete in ${this.staging}`);
      throw err;
    }
    fs.rmSync(path.join(this.staging, CHECKPOINT_DIR), { recursive: true, force: true });
    if (!exists(this.abs)) {
      fs.renameSync(this.staging, this.abs);
      return;
    }
    const ours = new Set(fs.readdirSync(this.staging));
    const there = fs.readdirSync(this.abs);
    if (!there.includes(MANIFEST) && there.every((n) => ours.has(n))) {
      for (const name of ours) if (name !== MANIFEST) fs.renameSync(path.join(this.staging, name), path.join(this.abs, name));
      fs.renameSync(path.join(this.staging, MANIFEST), path.join(this.abs, MANIFEST));
      fs.rmdirSync(this.staging);
      return;
    }
    fs.rmSync(this.replaced, { recursive: true, force: true });
    fs.renameSync(this.abs, this.replaced);
    fs.renameSync(this.staging, this.abs);
    fs.rmSync(this.replaced, { recursive: true, force: true });
  }

  /**
   * After a failure: DIR.partial is removed unless it holds a checkpoint (then --resume may continue it) or a
   * complete run (that commit() could not put in place). A run that diverged (NonFiniteError) would diverge
   * again from its checkpoint, so its checkpoint goes too.
   */
  abandon(err?: unknown): void {
    if (exists(path.join(this.staging, MANIFEST))) return;
    if (err instanceof NonFiniteError || !exists(this.checkpointFile)) fs.rmSync(this.staging, { recursive: true, force: true });
  }

  release(): void {
    this.lock.release();
  }
}
