/**
 * `ptyxrf local up`: the local stack in the foreground (Ctrl-C stops it; running jobs checkpoint and resume
 * at the next start). `ptyxrf local demo`: the README's demo (npm run demo).
 * Also the profile options shared by submit, status and fetch.
 */
import os from "node:os";
import path from "node:path";
// The pipeline modules load the AWS SDK: imported when a command runs, so other commands start fast.
import type { ServiceClient } from "../../pipeline/local/client.js";
import { DEFAULT_DATA_DIR, LOCAL_DEFAULT_PORT } from "../../pipeline/local/layout.js";
import { formatNotification } from "../../pipeline/local/notifications.js";
import { NoLocalStackError, PROFILES, resolveProfile, type ProfileName } from "../../pipeline/local/profile.js";
import type { LocalStack } from "../../pipeline/local/stack.js";
import { choiceOption, intOption, parse, UsageError, type Command, type Io } from "../args.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

export const PROFILE_OPTIONS = {
  profile: { type: "string" },
  "data-dir": { type: "string" },
  user: { type: "string" },
  "scans-bucket": { type: "string" },
  "results-bucket": { type: "string" },
} as const;

export const PROFILE_HELP = `  --profile P         local (default), localstack or aws (docs/local.md)
  --data-dir DIR      the local stack's data directory (default runs/local; localstack: runs/localstack)
  --user U            your folder: incoming/U/, results/U/ (default: $PTYXRF_USER or your login name)
  --scans-bucket B, --results-bucket B
                      the buckets (aws profile; or PTYXRF_SCANS_BUCKET, PTYXRF_RESULTS_BUCKET)`;

type ProfileValues = { profile?: string; "data-dir"?: string; user?: string; "scans-bucket"?: string; "results-bucket"?: string };

const USER_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** --user, else $PTYXRF_USER, else the login name made a valid folder name, else "local". */
export function userOf(v: ProfileValues, env: NodeJS.ProcessEnv = process.env): string {
  if (v.user) return v.user;
  let login: string | undefined;
  try {
    login = os.userInfo().username;
  } catch {
    login = undefined;
  }
  for (const c of [env.PTYXRF_USER, login]) {
    const clean = (c ?? "").replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 64);
    if (USER_RE.test(clean)) return clean;
  }
  return "local";
}

/**
 * A client for the chosen profile. With `embedded`, a local profile without a running stack starts one in
 * this process (returned, for the caller to stop).
 */
export async function openClient(command: string, v: ProfileValues, io: Io, embedded = false): Promise<{ client: ServiceClient; stack: LocalStack | null; profile: ProfileName }> {
  const profile = choiceOption(command, "profile", v.profile, PROFILES) ?? "local";
  const options = {
    ...(v["data-dir"] ? { dataDir: v["data-dir"] } : {}),
    ...(v["scans-bucket"] ? { scansBucket: v["scans-bucket"] } : {}),
    ...(v["results-bucket"] ? { resultsBucket: v["results-bucket"] } : {}),
  };
  const { ServiceClient } = await import("../../pipeline/local/client.js");
  try {
    return { client: new ServiceClient(resolveProfile(profile, process.env, options)), stack: null, profile };
  } catch (err) {
    if (!(err instanceof NoLocalStackError) || !embedded) throw err;
    io.err(`no local stack running on ${err.dataDir}: starting one in this process (it stops when this command ends)`);
    const { startLocalStack } = await import("../../pipeline/local/stack.js");
    const stack = await startLocalStack({ dataDir: err.dataDir });
    return { client: new ServiceClient(resolveProfile(profile, process.env, options)), stack, profile };
  }
}

export const localCommand: Command = {
  name: "local",
  summary: "the local stack: the whole cloud pipeline on this machine (local up), and the demo (local demo)",
  usage: "ptyxrf local up [--data-dir DIR] [--port P] [--concurrency N] [--profile local|localstack]  |  ptyxrf local demo [--out DIR]",
  help: `local up
  Starts, in the foreground, an S3-compatible server on 127.0.0.1 (s3rver; port ${LOCAL_DEFAULT_PORT} by default), the
  upload handler on its upload events (validation by ranged reads, idempotency records, submission), a job
  runner that runs the worker (dist/container/worker.js) in child processes with Batch's environment, and
  a notifier that prints every notification and appends it to DATA/notifications.jsonl. Everything lives
  in DATA (default runs/local): s3/ (the buckets), uploads/, jobs/ (records and worker logs), scratch/.
  Ctrl-C stops it; running workers write a final checkpoint and resume at the next start, and uploads it
  had not handled yet are handled then (every start rescans incoming/ for uploads without a record). If
  the S3 server dies, local up says so and exits with 1.

  Submit from another terminal: npx ptyxrf submit SCAN.h5 --wait
  Or with any S3 client: AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER aws --endpoint-url
  http://127.0.0.1:${LOCAL_DEFAULT_PORT} s3 cp SCAN.h5 s3://ptyxrf-scans/incoming/$USER/

  With --profile localstack: the same on LocalStack (localstack/compose.yaml): creates the buckets, queues,
  table and topic there, handles uploads from its SQS queue, and runs jobs on LocalStack's Batch when it
  offers Batch, else with the local job runner (docs/local.md).

local demo
  Simulates a small scan with its ground truth, starts a local stack (or uses the running one), submits
  the scan, follows the run, fetches the results, prints the summary and the previews' paths, and stops the
  stack. This is \`npm run demo\`.

Options:
  --data-dir DIR      data directory (default runs/local; the demo: runs/demo/local unless a stack runs on runs/local)
  --port P            local up: the S3 port (default ${LOCAL_DEFAULT_PORT}; 0: any free port)
  --concurrency N     jobs at once (default 1: each worker uses every core)
  --profile P         local up: local (default) or localstack
  --out DIR           local demo: where the scan and the fetched results go (default runs/demo)
  -h, --help          this help`,
  async run(argv: string[], io: Io): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub === "up") return up(rest, io);
    if (sub === "demo") return demo(rest, io);
    throw new UsageError(`expected "up" or "demo", got ${sub ? `"${sub}"` : "nothing"}`, "local");
  },
};

function waitForStop(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
      resolve(s);
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
  });
}

async function up(argv: string[], io: Io): Promise<number> {
  const { values: v } = parse("local", argv, { "data-dir": { type: "string" }, port: { type: "string" }, concurrency: { type: "string" }, profile: { type: "string" } }, false);
  const profile = choiceOption("local", "profile", v.profile, ["local", "localstack"] as const) ?? "local";
  const concurrency = intOption("local", "concurrency", v.concurrency, 1) ?? 1;
  if (profile === "localstack") {
    const { runLocalStackBridge } = await import("../../pipeline/local/localstack.js");
    return runLocalStackBridge({ env: process.env, concurrency, ...(v["data-dir"] ? { dataDir: v["data-dir"] } : {}), io, untilStopped: waitForStop });
  }
  const dataDir = path.resolve(v["data-dir"] ?? process.env.PTYXRF_LOCAL_DIR ?? DEFAULT_DATA_DIR);
  const port = intOption("local", "port", v.port, 0) ?? LOCAL_DEFAULT_PORT;
  const { startLocalStack } = await import("../../pipeline/local/stack.js");
  const stack = await startLocalStack({
    dataDir, port, concurrency,
    onNotification: (n) => io.out(`\n${formatNotification(n)}\n`),
    onJobStatus: (r) => io.out(`job ${r.jobId.slice(0, 8)} ${r.jobName}: ${r.status}${r.statusReason && r.status !== "RUNNING" ? ` (${r.statusReason})` : ""}`),
    onIngest: (o) => {
      if (o.status === "ignored") io.out(`ignored ${o.key}: ${o.reason}`);
      else if (o.status === "duplicate") io.out(`duplicate delivery of upload ${o.uploadId.slice(0, 16)}: nothing to do`);
    },
  });
  const recovered = stack.rescanned.delivered.length;
  if (recovered) io.out(`rescan: ${recovered} upload${recovered === 1 ? "" : "s"} not yet handled (queued when the stack last stopped) delivered to the upload handler`);
  io.out(`ptyxrf local stack running (pid ${process.pid})
  S3 endpoint   ${stack.endpoint}   (credentials S3RVER / S3RVER, region us-east-1)
  buckets       s3://${stack.scansBucket}/incoming/<user>/   ->   s3://${stack.resultsBucket}/results/<user>/
  data          ${dataDir}
                s3/ (objects), uploads/, jobs/ (records, worker logs), notifications.jsonl, stack.log
  submit        npx ptyxrf submit SCAN.h5 --wait          (from another terminal)
  Ctrl-C stops the stack (running jobs checkpoint and resume at the next start).
`);
  // Signal handlers do not keep a process alive: without this, a dead S3 server would end it silently.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  try {
    const end = await Promise.race([waitForStop().then((signal) => ({ signal })), stack.failed.then((exit) => ({ exit }))]);
    if ("exit" in end) {
      const { pid, code, signal } = end.exit;
      io.err(`ptyxrf local up: the local S3 server (pid ${pid}) died (${signal ? `killed by ${signal}` : `exit code ${code}`}): ${stack.endpoint} is gone, so the stack stops.
  Jobs that were running resume from their checkpoints, and uploads not yet handled are picked up, at the next \`ptyxrf local up\`.`);
      // Workers cannot checkpoint without S3: a short grace, then they are stopped (their jobs stay queued).
      await stack.stop({ workerGraceMs: 5_000 });
      io.err("stopped");
      return 1;
    }
    io.out(`\n${end.signal}: stopping (running workers checkpoint first)...`);
    await stack.stop();
    io.out("stopped");
    return 0;
  } finally {
    clearInterval(keepAlive);
  }
}

async function demo(argv: string[], io: Io): Promise<number> {
  const { values: v } = parse("local", argv, { "data-dir": { type: "string" }, out: { type: "string" }, iterations: { type: "string" } }, false);
  const iterations = intOption("local", "iterations", v.iterations, 1);
  const { runDemo } = await import("../../pipeline/local/demo.js");
  return runDemo({
    out: path.resolve(v.out ?? path.join("runs", "demo")),
    ...(v["data-dir"] ? { dataDir: path.resolve(v["data-dir"]) } : {}),
    ...(iterations ? { iterations } : {}),
    io,
  });
}
