import { safeText } from "../../scan/safeText.js";
import { validateScan, type ValidationReport } from "../../scan/validate.js";
import { withAdaptedScan } from "../../scan/layouts/adapt.js";
import { parse, type Command, type Io } from "../args.js";
import { formatBytes } from "../format.js";
import { adaptedInputs, formatNotes, LAYOUT_HELP, LAYOUT_OPTIONS } from "./convert.js";

export function formatReport(r: ValidationReport): { text: string; problems: string } {
  const omitted = r.omitted ?? { errors: 0, warnings: 0 };
  const problems = [
    ...r.errors.map((p) => `error   [${p.code}] ${p.message}`),
    ...(omitted.errors ? [`error   ... and ${omitted.errors} more error(s), not listed`] : []),
    ...r.warnings.map((p) => `warning [${p.code}] ${p.message}`),
    ...(omitted.warnings ? [`warning ... and ${omitted.warnings} more warning(s), not listed`] : []),
  ].join("\n");
  const errors = r.errors.length + omitted.errors, warnings = r.warnings.length + omitted.warnings;
  const source = safeText(r.source, 4096);
  const pct = r.read.fileBytes ? ((100 * r.read.bytesFetched) / r.read.fileBytes).toFixed(3) : "0";
  const status = r.ok
    ? `${source}: valid${warnings ? ` with ${warnings} warning(s)` : ""}`
    : `${source}: INVALID, ${errors} error(s)${warnings ? `, ${warnings} warning(s)` : ""}`;
  const read = `read ${formatBytes(r.read.bytesFetched)} of ${formatBytes(r.read.fileBytes)} (${pct}%) in ${r.read.requests} request(s); counts checked on ${r.read.framesChecked.length} frame(s)${r.read.skipped ? ` (${r.read.skipped})` : ""}`;
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
