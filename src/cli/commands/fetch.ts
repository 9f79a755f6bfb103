/** `ptyxrf fetch RUN --out DIR`: downloads a run's folder and checks it against its manifest. */
import path from "node:path";
import { parse, UsageError, type Command, type Io } from "../args.js";
import { formatBytes } from "../format.js";
import { openClient, PROFILE_HELP, PROFILE_OPTIONS, userOf } from "./local.js";
import { describeEnd, exitCodeOf } from "./submit.js";

export const fetchCommand: Command = {
  name: "fetch",
  summary: "download a run's results (result.h5, metrics.json, previews, manifest) and verify them",
  usage: "ptyxrf fetch RUN --out DIR [--profile local|localstack|aws]",
  help: `Downloads every file of the run's folder (not its checkpoint) into DIR and checks each one's size and
sha256 against manifest.json. A folder without a manifest is an incomplete run: what is there is
downloaded, and the exit code says so. A rejected upload's folder holds rejection.json.

Options:
  --out DIR           where to put the files (required)
${PROFILE_HELP}
  -h, --help          this help

Exit codes: 0 complete and verified, 2 the upload was rejected (or the input found invalid) or unknown run,
1 incomplete, failed or not matching its manifest.`,
  async run(argv: string[], io: Io): Promise<number> {
    const { values: v, positionals } = parse("fetch", argv, { ...PROFILE_OPTIONS, out: { type: "string" } });
    if (positionals.length !== 1) throw new UsageError("expected exactly one RUN", "fetch");
    if (!v.out) throw new UsageError("--out DIR is required", "fetch");
    const { client, profile } = await openClient("fetch", v, io);
    try {
      const prefix = await client.locate(positionals[0], v.user ?? (profile === "aws" ? userOf(v) : undefined));
      if (!prefix) {
        io.err(`ptyxrf fetch: no run ${positionals[0]} (${client.profile.description})`);
        return 2;
      }
      const status = await client.statusAt(prefix);
      const out = path.resolve(v.out);
      const r = await client.fetch(prefix, out, (name, bytes) => io.err(`  ${name.padEnd(20)} ${formatBytes(bytes).padStart(10)}`));
      io.out(`run ${status.runId}: ${status.state}; ${r.files.length} file(s) in ${out}`);
      if (r.complete) {
        io.out(r.verified ? "  every file matches manifest.json (size and sha256)" : `  NOT matching manifest.json:\n${r.problems.map((p) => `    ${p}`).join("\n")}`);
        return r.verified ? 0 : 1;
      }
      io.out(describeEnd(status));
      if (status.state !== "rejected") io.out("  no manifest.json: an incomplete run");
      return status.state === "succeeded" ? 1 : Math.max(1, exitCodeOf(status));
    } finally {
      client.close();
    }
  },
};
