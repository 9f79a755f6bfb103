/**
 * `npm run demo` (ptyxrf local demo): the whole service on a simulated scan, on this machine.
 * Simulate a `small` scan with its ground truth -> start the local stack (or use the one `local up` runs on
 * runs/local) -> submit through S3 -> the upload handler validates and submits -> the worker reconstructs,
 * checkpoints, uploads the results and notifies -> fetch and verify -> print the summary, the timeline and
 * the previews -> stop the stack.
 */
import fs from "node:fs";
import path from "node:path";
import { reader, writer } from "../../scan/h5runtime.js";
import { writeScan, writeTruth } from "../../scan/write.js";
import { simulate } from "../../sim/simulate.js";
import { ServiceClient } from "./client.js";
import { accuracyRows, fmt, followRun, progressLine, table3 } from "./follow.js";
import { followNotifications, type NotificationLine } from "./notifications.js";
import { DEFAULT_DATA_DIR, resolveProfile } from "./profile.js";
import { localPaths, runningStack, startLocalStack, type LocalStack } from "./stack.js";
import { listJobs } from "./runner.js";

export interface DemoIo {
  out: (text: string) => void;
  err: (text: string) => void;
  isTTY: boolean;
}

export interface DemoOptions {
  /** Where the scan and the fetched results go (default runs/demo). */
  out: string;
  /** The stack's data directory (default: <out>/local, fresh each time, unless a stack runs on runs/local). */
  dataDir?: string;
  iterations?: number;
  io: DemoIo;
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const KiB = (b: number) => `${(b / 1024).toFixed(0)} KiB`;

export async function runDemo(o: DemoOptions): Promise<number> {
  const { io } = o;
  const t0 = performance.now();
  const step = (n: number, name: string, text: string, ms?: number) => io.out(`  ${n}. ${name.padEnd(12)} ${text}${ms !== undefined ? `  (${s(ms)})` : ""}`);
  io.out("ptyxrf demo: upload -> validation -> reconstruction -> results -> notification, all on this machine\n");

  // 1. a simulated scan and its ground truth
  let t = performance.now();
  await Promise.all([reader(), writer()]);
  const sim = simulate({ preset: "small", seed: 1 });
  fs.mkdirSync(o.out, { recursive: true });
  const scanPath = path.join(o.out, "scan.h5"), truthPath = path.join(o.out, "truth.h5");
  await writeScan(scanPath, sim.header, sim.frames, { compression: "none" });
  await writeTruth(truthPath, sim.truth);
  const c = sim.config;
  step(1, "simulate", `${path.relative(process.cwd(), scanPath)} (${KiB(fs.statSync(scanPath).size)}): preset small, seed 1, ${c.objectSize} x ${c.objectSize} object, ` +
    `${c.elements.join(" + ")}, ${sim.header.npos} positions; truth ${path.relative(process.cwd(), truthPath)}`, performance.now() - t);

  // 2. the local stack
  t = performance.now();
  let stack: LocalStack | null = null;
  let dataDir: string;
  const shared = !o.dataDir && runningStack(path.resolve(DEFAULT_DATA_DIR));
  if (shared) {
    dataDir = shared.dataDir;
    step(2, "local stack", `using the running stack at ${shared.endpoint} (pid ${shared.pid}, data in ${path.relative(process.cwd(), dataDir)})`);
  } else {
    dataDir = o.dataDir ?? path.join(o.out, "local");
    if (!o.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    stack = await startLocalStack({ dataDir });
    step(2, "local stack", `S3 at ${stack.endpoint}, upload handler, job runner, notifier; data in ${path.relative(process.cwd(), dataDir)}`, performance.now() - t);
  }
  const notes: NotificationLine[] = [];
  const stopNotes = followNotifications(localPaths(dataDir).notifications, (n) => notes.push(n), { intervalMs: 50 });
  const client = new ServiceClient(resolveProfile("local", {}, { dataDir }));
  let code = 1;
  try {
    // 3. submit
    t = performance.now();
    const uploadAt = Date.now();
    const sub = await client.submit({
      file: scanPath, user: "demo", name: "small-seed1", truthFile: truthPath,
      ...(o.iterations ? { config: { iterations: o.iterations } } : {}),
    });
    const runId = await client.runIdOf(sub);
    const prefix = client.resultPrefixFor(sub, runId);
    step(3, "submit", `${sub.scanUri} -> run ${runId}`, performance.now() - t);

    // 4-6. follow the run
    t = performance.now();
    let lastState = "";
    let lastLine = "";
    const end = await followRun(client, prefix, {
      intervalMs: 200, timeoutMs: 300_000,
      onUpdate: (st) => {
        const line = progressLine(st);
        if (io.isTTY && line !== lastLine && st.state === "running") process.stderr.write(`\r     ${line}\x1b[K`);
        lastLine = line;
        if (st.state !== lastState) {
          if (io.isTTY && lastState === "running") process.stderr.write("\r\x1b[K");
          if (st.state !== "running" || !io.isTTY) io.err(`     ${st.state}: ${st.detail}`);
          lastState = st.state;
        }
      },
    });
    if (io.isTTY) process.stderr.write("\r\x1b[K");
    await new Promise((r) => setTimeout(r, 120)); // the last notification lines
    const submitted = notes.find((n) => n.kind === "submitted" && (n.details as { scan?: string }).scan === sub.scanUri && Date.parse(n.time) >= uploadAt - 1000);
    const finished = notes.find((n) => (n.kind === "succeeded" || n.kind === "failed") && (n.details as { resultPrefix?: string }).resultPrefix === end.resultUri);
    const rejected = notes.find((n) => n.kind === "rejected" && (n.details as { scan?: string }).scan === sub.scanUri);
    if (end.state !== "succeeded") {
      step(4, "run", `${end.state}: ${end.detail}`);
      if (rejected) io.out(rejected.text);
      return 1;
    }
    const m = end.metrics!;
    step(4, "validate", submitted ? `valid: ${submitted.subject.replace(/^ptyxrf: /, "")}` : "valid, submitted");
    step(5, "reconstruct", `${m.mode}, ${m.iterations} iterations in ${m.wall_s.toFixed(1)} s (${m.ms_per_iter.toFixed(1)} ms/iteration) on ${m.engine} (${m.device})`);
    step(6, "notify", finished ? `${finished.kind}: ${finished.subject.replace(/^ptyxrf: /, "")}` : "(no notification seen)", performance.now() - t);

    // 7. fetch
    t = performance.now();
    const outDir = path.join(o.out, "results", runId);
    fs.rmSync(outDir, { recursive: true, force: true });
    const got = await client.fetch(prefix, outDir);
    step(7, "fetch", `${path.relative(process.cwd(), outDir)}/: ${got.files.length} files, ${got.verified ? "every one matches manifest.json (sha256)" : `NOT verified: ${got.problems.join("; ")}`}`, performance.now() - t);
    code = got.verified ? 0 : 1;

    // the summary
    const job = listJobs(localPaths(dataDir).jobs).find((j) => j.parameters.resultPrefix === end.resultUri);
    const started = job?.attempts[0]?.startedAt;
    const timeline: [string, number | undefined][] = [
      ["validated and submitted", submitted ? Date.parse(submitted.time) : undefined],
      ["worker started", started],
      ["results complete, notified", finished ? Date.parse(finished.time) : undefined],
    ];
    io.out("\nHow close the joint reconstruction came to the ground truth (relative errors over the illuminated area;");
    io.out("after the first iteration and after the last):\n");
    io.out(table3(["", "iteration 1", "final"], accuracyRows(m)));
    io.out(`\n  weights (GradNorm)  ptycho ${fmt(m.final.weight_ptycho, 3)}, xrf ${fmt(m.final.weight_xrf, 3)} (w_p + w_x = 2)`);
    io.out(`  timeline            ${timeline.filter(([, at]) => at !== undefined).map(([what, at]) => `${what} +${((at! - uploadAt) / 1000).toFixed(1)} s`).join(", ")} (from the upload)`);
    if (got.files.includes("report.html")) {
      io.out(`\nReport (one self-contained page: maps, overlays, correlation analysis, convergence, config, provenance):`);
      io.out(`  ${path.relative(process.cwd(), path.join(outDir, "report.html"))}`);
    }
    io.out("\nPreviews:");
    const describe = (f: string) => f === "phase.png" ? "object phase" : f === "amplitude.png" ? "object amplitude"
      : f.startsWith("element_") ? `${f.slice(8, -4)} areal density` : f.startsWith("overlay_") ? `${f.slice(8, -4)} in colour over the phase` : "";
    const order = (f: string) => (f === "phase.png" ? 0 : f === "amplitude.png" ? 1 : f.startsWith("element_") ? 2 : 3);
    const pngs = got.files.filter((x) => x.endsWith(".png")).sort((a, b) => order(a) - order(b) || a.localeCompare(b)).map((f) => path.relative(process.cwd(), path.join(outDir, f)));
    const w = Math.max(...pngs.map((p) => p.length));
    for (const p of pngs) io.out(`  ${p.padEnd(w)}  ${describe(path.basename(p))}`);
    io.out(`\n  result.h5, metrics.json, manifest.json: ${path.relative(process.cwd(), outDir)}/`);
    io.out(`  notifications:                         ${path.relative(process.cwd(), localPaths(dataDir).notifications)}`);
    if (job) io.out(`  worker log:                            ${path.relative(process.cwd(), job.log)}`);
    io.out(`\ndemo ${code === 0 ? "done" : "FAILED"} in ${s(performance.now() - t0)}${stack ? " (local stack stopped)" : ""}`);
    return code;
  } finally {
    stopNotes();
    client.close();
    await stack?.stop();
  }
}
