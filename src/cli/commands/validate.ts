import { validateScan, type ValidationReport } from "../../scan/validate.js";
import { withAdaptedScan } from "../../scan/layouts/adapt.js";
import { parse, type Command, type Io } from "../args.js";
import { formatBytes } from "../format.js";
import { adaptedInputs, formatNotes, LAYOUT_HELP, LAYOUT_OPTIONS } from "./convert.js";

export function formatReport(r: ValidationReport): { text: string; problems: string } {
  const problems = [
    ...r.errors.map((p) => `error   [${p.code}] ${p.message}`),
    ...r.warnings.map((p) => `warning [${p.code}] ${p.message}`),
  ].join("\n");
  const pct = r.read.fileBytes ? ((100 * r.read.bytesFetched) / r.read.fileBytes).toFixed(3) : "0";
  const status = r.ok
    ? `${r.source}: valid${r.warnings.length ? ` with ${r.warnings.length} warning(s)` : ""}`
    : `${r.source}: INVALID, ${r.errors.length} error(s)${r.warnings.length ? `, ${r.warnings.length} warning(s)` : ""}`;
  const read = `read ${formatBytes(r.read.bytesFetched)} of ${formatBytes(r.read.fileBytes)} (${pct}%) in ${r.read.requests} request(s); counts checked on ${r.read.framesChecked.length} frame(s)`;
  return { text: `${status}\n${read}`, problems };
}

export const validateCommand: Command = {
  name: "validate",
  summary: "check a scan file against the combined ptychography + XRF layout",
  usage: "ptyxrf validate FILE.h5 [--json]   (or IN... --layout L [--mapping FILE]: other layouts, see convert)",
  help: `Reports every problem found, each naming the dataset or attribute, what was expected and what was
found. Diffraction counts are checked on a sample of frames, so a multi-GB file is validated by reading
a bounded number of bytes. The file is opened read-only and never modified. Inputs in other layouts
(see ptyxrf convert) are converted to a temporary scan, validated, and the temporary file removed.

Options:
  --json      print the report as JSON on stdout
${LAYOUT_HELP}
  -h, --help  this help

Exit codes: 0 valid (warnings allowed), 2 invalid (problems on stderr), 1 internal failure.`,
  async run(argv: string[], io: Io): Promise<number> {
    const { values, positionals } = parse("validate", argv, { json: { type: "boolean" }, ...LAYOUT_OPTIONS });
    const { inputs, options } = adaptedInputs("validate", positionals, values);
    const { report, notes } = await withAdaptedScan(inputs, options, async (scan, label, notes) => ({ report: { ...(await validateScan(scan)), source: label }, notes }));
    if (!values.json && notes.length) io.err(formatNotes(notes));
    if (values.json) {
      io.out(JSON.stringify(report, null, 2));
      return report.ok ? 0 : 2;
    }
    const { text, problems } = formatReport(report);
    if (problems) io.err(problems);
    (report.ok ? io.out : io.err)(text);
    return report.ok ? 0 : 2;
  },
};
