import { ScanReader } from "../../scan/read.js";
import { summarizeScan, type ScanSummary } from "../../scan/summary.js";
import { validateScan } from "../../scan/validate.js";
import { withAdaptedScan } from "../../scan/layouts/adapt.js";
import { parse, type Command, type Io } from "../args.js";
import { formatBytes, formatLength, formatNumber, keyValues, table } from "../format.js";
import { adaptedInputs, formatNotes, LAYOUT_HELP, LAYOUT_OPTIONS } from "./convert.js";
import { formatReport } from "./validate.js";

export function formatSummary(s: ScanSummary): string {
  const rows: [string, string][] = [
    ["file", `${s.file} (${formatBytes(s.fileBytes)})`],
    ["positions", `${s.npos} (${s.pattern}${s.raster ? ` ${s.raster[0]} x ${s.raster[1]}` : ""}), median step ${formatLength(s.step_m)}`],
    ["scan extent", `${formatLength(s.extent_m.y)} (y) x ${formatLength(s.extent_m.x)} (x)`],
    ["diffraction", `${s.npos} x ${s.frameSize} x ${s.frameSize} ${s.dtype}${s.filters.length ? `, ${s.filters.join(" + ")}` : ", uncompressed"}`],
    ["counts", `mean ${formatNumber(s.counts.meanTotal)} photons per frame, brightest pixel ${formatNumber(s.counts.maxPixel)} (${s.counts.framesSampled} frames sampled)`],
    ["energy", `${formatNumber(s.energy_keV)} keV (wavelength ${formatLength(s.wavelength_m)})`],
    ["detector", `${formatLength(s.detector_distance_m)} away, ${formatLength(s.detector_pixel_size_m)} pixels`],
    ["object pixel", `${formatLength(s.objectPixel_m)} (object about ${s.objectPixels.y} x ${s.objectPixels.x} pixels)`],
  ];
  if (s.probeGuess) rows.push(["probe guess", `${s.probeGuess.modes} mode(s) of ${s.probeGuess.n} x ${s.probeGuess.n}`]);
  if (s.spectraChannels) rows.push(["XRF spectra", `${s.spectraChannels} channels`]);
  for (const k of ["sample", "beamline", "source"]) if (s.metadata[k]) rows.push([k, String(s.metadata[k])]);
  const el = table(
    ["element", "min", "mean", "max", "sensitivity", "beta", "delta"],
    s.elements.map((e) => [e.symbol, formatNumber(e.min), formatNumber(e.mean), formatNumber(e.max),
      e.sensitivity !== undefined ? formatNumber(e.sensitivity) : "-", e.beta !== undefined ? formatNumber(e.beta) : "-", e.delta !== undefined ? formatNumber(e.delta) : "-"]),
  );
  return `${keyValues(rows)}\n\nXRF maps (${s.elements.length} element${s.elements.length === 1 ? "" : "s"}):\n${el.split("\n").map((l) => `  ${l}`).join("\n")}`;
}

export const infoCommand: Command = {
  name: "info",
  summary: "print a readable summary of a scan",
  usage: "ptyxrf info FILE.h5 [--json]   (or IN... --layout L [--mapping FILE]: other layouts, see convert)",
  help: `Validates the scan, then summarises it: positions and scan extent, detector frames and counts,
beam energy and geometry, the object pixel size they imply, and the XRF element maps. Inputs in other
layouts (see ptyxrf convert) are summarised as the scan they convert to (a temporary file, removed).

Options:
  --json      print the summary as JSON
${LAYOUT_HELP}
  -h, --help  this help

Exit codes: 0 ok, 2 invalid scan (the validator's problems on stderr), 1 internal failure.`,
  async run(argv: string[], io: Io): Promise<number> {
    const { values, positionals } = parse("info", argv, { json: { type: "boolean" }, ...LAYOUT_OPTIONS });
    const { inputs, options } = adaptedInputs("info", positionals, values);
    return withAdaptedScan(inputs, options, async (file, label, notes) => {
      if (!values.json && notes.length) io.err(formatNotes(notes));
      const report = { ...(await validateScan(file)), source: label };
      if (!report.ok) {
        const { text, problems } = formatReport(report);
        io.err(`${problems}\n${text}`);
        return 2;
      }
      const r = await ScanReader.open(file);
      try {
        const s = { ...summarizeScan(r), file: label };
        io.out(values.json ? JSON.stringify({ ...s, warnings: report.warnings, ...(notes.length ? { conversion: notes } : {}) }, null, 2) : formatSummary(s));
        if (!values.json && report.warnings.length) io.err(formatReport(report).problems);
        return 0;
      } finally {
        r.close();
      }
    });
  },
};
