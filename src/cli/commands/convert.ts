/**
 * `ptyxrf convert`: older and foreign layouts (XRF-Maps / MAPS fitted maps, Eiger master + data files,
 * anything through a mapping file) into the canonical scan layout. Also the --layout / --mapping options
 * that validate, info and reconstruct share to take the same inputs directly.
 */
import fs from "node:fs";
import { adaptInputs, convertScan, LAYOUT_CHOICES, type AdaptOptions } from "../../scan/layouts/adapt.js";
import { choiceOption, intOption, parse, UsageError, type Command, type Io } from "../args.js";

export const LAYOUT_OPTIONS = {
  layout: { type: "string" }, mapping: { type: "string" }, "frame-size": { type: "string" },
} as const;

export const LAYOUT_HELP = `  --layout L          layout of the inputs: auto (default: detected from the datasets present),
                      canonical, maps (XRF-Maps / MAPS fitted maps), eiger (Eiger master file with its
                      linked data files), mapping (everything from --mapping); one for all inputs or one
                      per input, comma-separated
  --mapping FILE      YAML or JSON mapping: where each canonical field lives, units, axis order,
                      constants for missing metadata; overrides what the adapters found (docs/layouts.md)
  --frame-size N      side of the diffraction frames cropped around the beam centre (power of two;
                      default the largest that fits)`;

/** The input files (each must exist) and adapter options of a command that takes scans in any layout. */
export function adaptedInputs(cmd: string, positionals: string[], v: Record<string, string | boolean | undefined>): { inputs: string[]; options: AdaptOptions } {
  if (positionals.length === 0) throw new UsageError("expected exactly one FILE.h5 (or several inputs of other layouts: see --layout)", cmd);
  for (const f of positionals) if (!fs.existsSync(f)) throw new UsageError(`no such file: ${f}`, cmd);
  const mapping = v.mapping as string | undefined;
  if (mapping !== undefined && !fs.existsSync(mapping)) throw new UsageError(`no such mapping file: ${mapping}`, cmd);
  const layout = v.layout as string | undefined;
  if (layout !== undefined && !layout.includes(",")) choiceOption(cmd, "layout", layout, LAYOUT_CHOICES);
  const frameSize = intOption(cmd, "frame-size", v["frame-size"] as string | undefined, 16);
  return {
    inputs: positionals,
    options: { ...(layout !== undefined ? { layout } : {}), ...(mapping !== undefined ? { mapping } : {}), ...(frameSize !== undefined ? { frameSize } : {}) },
  };
}

export function formatNotes(notes: string[]): string {
  return notes.map((n) => `note    ${n}`).join("\n");
}

export const convertCommand: Command = {
  name: "convert",
  summary: "convert scans of other layouts (XRF-Maps/MAPS, Eiger master files, a mapping file) to the scan layout",
  usage: "ptyxrf convert IN... --out SCAN.h5 [--layout auto|canonical|maps|eiger|mapping] [--mapping FILE] [--frame-size N]",
  help: `Reads each input in its layout (detected from the datasets present unless --layout says), merges
what they hold (for example the XRF maps and scan positions of an XRF-Maps file with the diffraction
frames of an Eiger master file) plus what a mapping file supplies, and writes one scan in the combined
ptychography + XRF layout (written as SCAN.h5.partial, renamed when complete). Inputs are opened
read-only and never modified. What each layout provides, the mapping file format and the choices made
(crop, units, channel names): docs/layouts.md.

Options:
  --out SCAN.h5       the canonical scan to write (required; never one of the inputs)
${LAYOUT_HELP}
  --compression C     none (default), gzip or bitshuffle-lz4
  --dry-run           read and check everything, write nothing
  -h, --help          this help

Exit codes: 0 written, 2 invalid input (the file, dataset, expected and found on stderr), 1 internal failure.`,
  async run(argv: string[], io: Io): Promise<number> {
    const { values: v, positionals } = parse("convert", argv, {
      ...LAYOUT_OPTIONS, out: { type: "string" }, compression: { type: "string" }, "dry-run": { type: "boolean" },
    });
    const { inputs, options } = adaptedInputs("convert", positionals, v);
    const compression = choiceOption("convert", "compression", v.compression, ["none", "gzip", "bitshuffle-lz4"] as const);
    if (v["dry-run"]) {
      const adapted = await adaptInputs(inputs, options);
      adapted.close();
      if (adapted.notes.length) io.err(formatNotes(adapted.notes));
      io.out(`${inputs.join(" + ")}: ${adapted.header.npos} positions, ${adapted.header.frameSize} x ${adapted.header.frameSize} frames, elements ${adapted.header.xrf.elements.map((e) => e.symbol).join(", ")} (dry run: nothing written)`);
      return 0;
    }
    if (!v.out) throw new UsageError("--out SCAN.h5 is required", "convert");
    const r = await convertScan(inputs, v.out, { ...options, ...(compression ? { compression } : {}) });
    if (r.notes.length) io.err(formatNotes(r.notes));
    const layouts = inputs.map((f, i) => `${f} (${r.layouts[i] ?? "via mapping"})`).join(" + ");
    io.out(`${v.out}: ${r.npos} positions, ${r.frameSize} x ${r.frameSize} frames, from ${layouts}`);
    return 0;
  },
};
