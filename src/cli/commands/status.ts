/** `ptyxrf status [RUN]`: one run in detail, or the recent runs as a table. */
import { parse, UsageError, type Command, type Io } from "../args.js";
import { table } from "../format.js";
import { describeEnd } from "./submit.js";
import { openClient, PROFILE_HELP, PROFILE_OPTIONS, userOf } from "./local.js";
import { progressLine } from "../../pipeline/local/follow.js";

export const statusCommand: Command = {
  name: "status",
  summary: "the state of a run (or of the recent runs): validating, queued, running, succeeded, rejected, failed",
  usage: "ptyxrf status [RUN] [--profile local|localstack|aws] [--json]",
  help: `RUN is a run id (as submit prints it) or the run's folder s3://<results bucket>/results/<user>/<name>/<run id>/.
Without RUN: the recent runs (local profiles: every upload the stack has seen; aws: your results folder).
The state comes from the run's folder (manifest.json: succeeded; rejection.json: rejected; error.json:
invalid input; progress.json: running, with the iteration and the last checkpoint) and, with the local
profiles, from the stack's upload and job records (attempts, exit codes, worker log).

Options:
  --json              machine-readable
${PROFILE_HELP}
  -h, --help          this help

Exit codes: 0 (the run was found), 2 unknown run or bad arguments, 1 failure.`,
  async run(argv: string[], io: Io): Promise<number> {
    const { values: v, positionals } = parse("status", argv, { ...PROFILE_OPTIONS, json: { type: "boolean" }, all: { type: "boolean" } });
    if (positionals.length > 1) throw new UsageError("expected at most one RUN", "status");
    const { client, profile } = await openClient("status", v, io);
    // on AWS a collaborator may list only results/<user>/
    const user = v.user ?? (profile === "aws" ? userOf(v) : undefined);
    try {
      if (positionals.length === 0) {
        const runs = await client.list(user);
        if (v.json) {
          io.out(JSON.stringify(runs));
          return 0;
        }
        if (!runs.length) {
          io.out(`no runs yet (${client.profile.description})`);
          return 0;
        }
        io.out(table(["run", "state", "scan", "detail"], runs.map((r) => [r.runId, r.state, (r.scan ?? "").replace(/^s3:\/\/[^/]+\//, ""), r.detail])));
        return 0;
      }
      const s = await client.status(positionals[0], user);
      if (!s) {
        io.err(`ptyxrf status: no run ${positionals[0]} (${client.profile.description})`);
        return 2;
      }
      if (v.json) {
        io.out(JSON.stringify(s));
        return 0;
      }
      io.out(`run ${s.runId}: ${s.state}`);
      io.out(`  results      ${s.resultUri}`);
      if (s.scan) io.out(`  scan         ${s.scan}`);
      if (s.job) {
        const attempts = s.job.attempts.map((a) => `#${a.attempt} ${a.exitCode ?? a.signal ?? "running"}${a.stoppedByRunner ? " (stack stopped)" : ""}`).join(", ");
        io.out(`  job          ${s.job.jobId} ${s.job.status}${attempts ? `; attempts: ${attempts}` : ""}`);
        io.out(`  worker log   ${s.job.log}`);
      }
      io.out(s.terminal ? describeEnd(s, false) : `  progress     ${progressLine(s)}`);
      return 0;
    } finally {
      client.close();
    }
  },
};
