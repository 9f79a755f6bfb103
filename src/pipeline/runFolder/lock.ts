/**
 * An exclusive lock on a run's output folder (README "ptyxrf reconstruct", run folders): the file `DIR.lock`
 * beside the folder (beside, not inside: the folder itself is replaced by a rename when a run ends).
 *
 * Taking it is one atomic filesystem operation: the holder's record ({pid, host, started, nonce}) is written to
 * a private file first and then hard-linked to `DIR.lock`, which fails when the name exists; so the lock, once
 * visible, always holds a complete record (filesystems without hard links: an exclusive create, 'wx').
 *
 * A lock whose holder is gone is stale and taken over, saying so: same host and the pid no longer runs (or now
 * belongs to another process: its start time in /proc differs). A holder on another host cannot be checked and
 * is never taken over. Released by `release()` and, for the exits that skip it (process.exit on a second
 * Ctrl-C, an uncaught exception), by a process 'exit' hook; only a lock with this holder's nonce is removed.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { RunFolderError } from "./errors.js";

export interface LockRecord {
  pid: number;
  host: string;
  /** When the holder took the lock (ISO 8601). */
  started: string;
  /** What holds it ("ptyxrf reconstruct"). */
  command: string;
  nonce: string;
  /** The holder's start time in clock ticks since boot (/proc/<pid>/stat field 22; Linux), to detect pid reuse. */
  procStart?: string;
}

/** The folder is locked by a live run (or one that cannot be checked): the caller fails at once (exit 2). */
export class FolderLockedError extends RunFolderError {
  constructor(readonly folder: string, readonly holder: LockRecord | null, readonly lockFile: string) {
    super(holder
      ? `${folder} is in use by another ${holder.command} (pid ${holder.pid} on ${holder.host === os.hostname() ? "this host" : `host ${holder.host}`}, started ${holder.started}): wait for it to finish or choose another --out` +
        (holder.host === os.hostname() ? "" : `; if no run is going on there, delete ${lockFile}`)
      : `${folder} is locked (${lockFile} exists but does not name its holder): if no run is going on, delete ${lockFile}`);
    this.name = "FolderLockedError";
  }
}

export function lockFileFor(folder: string): string {
  return `${folder}.lock`;
}

function procStart(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** True when the lock's holder certainly no longer runs (same host; pid gone or reused). */
function holderIsGone(r: LockRecord): boolean {
  if (r.host !== os.hostname() || !Number.isInteger(r.pid) || r.pid <= 0) return false;
  try {
    process.kill(r.pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH"; // EPERM: alive, another user's
  }
  if (r.procStart !== undefined) {
    const now = procStart(r.pid);
    if (now !== undefined && now !== r.procStart) return true;
  }
  return false;
}

function readRecord(file: string): LockRecord | null | "absent" {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "absent";
    throw err;
  }
  try {
    const r = JSON.parse(text) as LockRecord;
    return typeof r.pid === "number" && typeof r.host === "string" && typeof r.nonce === "string" ? r : null;
  } catch {
    return null;
  }
}

/** Creates `file` holding `text` only if it does not exist; false when it does. */
function createExclusive(file: string, text: string): boolean {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}`;
  fs.writeFileSync(tmp, text, { flag: "wx" });
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  try {
    fs.writeFileSync(file, text, { flag: "wx" });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}

export class FolderLock {
  private released = false;
  private readonly onExit = () => this.release();

  private constructor(readonly folder: string, readonly file: string, readonly record: LockRecord) {
    process.on("exit", this.onExit);
  }

  /**
   * Takes the lock on `folder` (named as given in messages) or throws FolderLockedError at once. `onNote`
   * hears about a stale lock taken over (whose, and why it is stale).
   */
  static acquire(folder: string, command: string, onNote: (text: string) => void = () => {}): FolderLock {
    const file = lockFileFor(path.resolve(folder));
    const record: LockRecord = {
      pid: process.pid, host: os.hostname(), started: new Date().toISOString(), command,
      nonce: crypto.randomBytes(8).toString("hex"), ...(procStart(process.pid) !== undefined ? { procStart: procStart(process.pid) } : {}),
    };
    const text = `${JSON.stringify(record, null, 2)}\n`;
    let stale: LockRecord | null = null;
    for (let attempt = 0; attempt < 5; attempt++) {
      if (createExclusive(file, text)) {
        if (stale) onNote(`took over a stale lock on ${folder}: its holder (pid ${stale.pid}, started ${stale.started}) is no longer running`);
        return new FolderLock(folder, file, record);
      }
      const holder = readRecord(file);
      if (holder === "absent") continue; // released meanwhile
      if (holder === null || !holderIsGone(holder)) throw new FolderLockedError(folder, holder, file);
      // stale: move it aside under a private name, and check that what moved is the stale record (not a new
      // holder's lock that replaced it meanwhile: then put that back and give way)
      const aside = `${file}.stale.${process.pid}.${crypto.randomBytes(4).toString("hex")}`;
      try {
        fs.renameSync(file, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw err;
      }
      const moved = readRecord(aside);
      if (moved !== "absent" && moved !== null && moved.nonce !== holder.nonce) {
        try {
          fs.linkSync(aside, file);
        } catch { /* a third run took it: it holds the lock */ }
        fs.rmSync(aside, { force: true });
        throw new FolderLockedError(folder, moved, file);
      }
      fs.rmSync(aside, { force: true });
      stale = holder;
    }
    throw new FolderLockedError(folder, null, file);
  }

  /** Removes the lock if it is still this holder's. Idempotent, synchronous (safe in an 'exit' hook). */
  release(): void {
    if (this.released) return;
    this.released = true;
    process.off("exit", this.onExit);
    const now = readRecord(this.file);
    if (now !== "absent" && now !== null && now.nonce === this.record.nonce) fs.rmSync(this.file, { force: true });
  }
}
