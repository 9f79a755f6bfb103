/**
 * From a spec to a task list in S3: resolve the scans, expand and validate the tasks (nothing written: what
 * `--dry-run` prints), then stage: upload local inputs, write tasks.json into the sweep's folder.
 */
import { s3UriOf, type S3Transfer } from "../worker/transfer.js";
import { expandTasks, type ExpandedTask } from "./expand.js";
import { resolveScans, stageScans, type ResolvedScan } from "./scans.js";
import type { SweepSpec } from "./spec.js";
import { newSweepId, sweepFolder, writeTaskList, type SweepTask, type TaskList } from "./tasks.js";

export interface SweepPlan {
  spec: SweepSpec;
  /** The spec as written (kept in tasks.json and the summary). */
  raw: unknown;
  specDir: string;
  tasks: ExpandedTask<ResolvedScan>[];
}

export async function planSweep(spec: SweepSpec, raw: unknown, specDir: string, transfer: S3Transfer | null): Promise<SweepPlan> {
  const scans = await resolveScans(spec, specDir, transfer);
  return { spec, raw, specDir, tasks: expandTasks(spec, scans) };
}

export interface StageOptions {
  transfer: S3Transfer;
  resultsBucket: string;
  user: string;
  profile: string;
  now?: Date;
  sweepId?: string;
}

/** Uploads the sweep's local inputs and its task list; returns the list and the URI of tasks.json. */
export async function stageSweep(plan: SweepPlan, o: StageOptions): Promise<{ list: TaskList; tasksUri: string }> {
  const now = o.now ?? new Date();
  const sweepId = o.sweepId ?? newSweepId(now);
  const prefix = s3UriOf({ bucket: o.resultsBucket, key: sweepFolder(o.user, plan.spec.name, sweepId) });
  const distinct = [...new Set(plan.tasks.map((t) => t.scan))];
  const staged = new Map((await stageScans(o.transfer, prefix, distinct, plan.specDir)).map((s, i) => [distinct[i], s]));
  const tasks: SweepTask[] = plan.tasks.map((t) => {
    const s = staged.get(t.scan)!;
    return {
      index: t.index, id: t.id, scan: t.scan.given, scanLabel: t.scan.label, scanUri: s.scanUri, scanVersion: s.scanVersion, truthUri: s.truthUri,
      params: t.params, config: t.config, out: `${prefix}tasks/${t.id}/`, user: o.user, bytes: s.bytes,
    };
  });
  const list: TaskList = {
    kind: "ptyxrf-task-list", version: 1, purpose: "sweep", name: plan.spec.name, sweepId, createdAt: now.toISOString(), user: o.user,
    profile: o.profile, prefix, rankBy: plan.spec.rankBy, spec: plan.raw, tasks,
  };
  const tasksUri = await writeTaskList(o.transfer, list);
  return { list, tasksUri };
}
