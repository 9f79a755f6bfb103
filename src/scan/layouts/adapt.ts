/**
 * Entry points of the layout adapters: detect each input's layout, read it as a partial scan, merge the
 * partials (and a mapping file) into the canonical model, and write it with the scan writer (under
 * `.partial`, renamed when complete). Inputs are only ever opened read-only.
 *
 * `withAdaptedScan` lets the validate / info / reconstruct commands take the same inputs: a single
 * canonical file is used as it is (ranged reads, nothing copied); anything else is converted into a
 * temporary canonical file under os.tmpdir(), which is removed afterwards.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { writeScan, type Compression } from "../write.js";
import { isCanonical, readCanonical } from "./canonical.js";
import { isEigerMaster, readEiger } from "./eiger.js";
import { H5Input } from "./h5input.js";
import { isMapsFile, readMaps } from "./maps.js";
import { readMapping } from "./mapping.js";
import { mergePartials, type MergedScan } from "./merge.js";
import { LAYOUT_NAMES, LayoutError, type LayoutName, type PartialScan } from "./partial.js";

export type LayoutChoice = "auto" | LayoutName;
export const LAYOUT_CHOICES: readonly LayoutChoice[] = ["auto", ...LAYOUT_NAMES];

export interface AdaptOptions {
  /** One choice for every input, or one per input ("maps,eiger"). Default auto. */
  layout?: string;
  /** Mapping file (YAML or JSON): fields it names override the adapters'; required for --layout mapping. */
  mapping?: string;
  /** Side of the cropped diffraction frames (Eiger); default the largest power of two around the beam centre. */
  frameSize?: number;
}

export function detectLayout(input: H5Input): LayoutName | null {
  if (isCanonical(input)) return "canonical";
  if (isMapsFile(input)) return "maps";
  if (isEigerMaster(input)) return "eiger";
  return null;
}

/** The layout choice of each input from a --layout value. */
export function layoutChoices(value: string | undefined, count: number): LayoutChoice[] {
  const list = (value ?? "auto").split(",").map((s) => s.trim());
  const bad = list.find((c) => !(LAYOUT_CHOICES as readonly string[]).includes(c));
  if (bad !== undefined) throw new LayoutError("--layout", bad, `one of ${LAYOUT_CHOICES.join(", ")} (or one per input, comma-separated)`, `"${bad}"`);
  if (list.includes("mapping") && list.length > 1) throw new LayoutError("--layout", value!, '"mapping" alone (the mapping file says where everything is)', `"${value}"`);
  if (list.length !== 1 && list.length !== count) throw new LayoutError("--layout", value!, `one layout, or one per input (${count})`, `${list.length}`);
  return list.length === 1 ? Array(count).fill(list[0]) : (list as LayoutChoice[]);
}

export interface AdaptedScan extends MergedScan {
  /** Layout read for each input (null: an input only the mapping file reads from). */
  layouts: (LayoutName | null)[];
  close(): void;
}

/** Reads and merges the inputs; call close() when the frames have been consumed. */
export async function adaptInputs(inputs: string[], options: AdaptOptions = {}): Promise<AdaptedScan> {
  const choices = layoutChoices(options.layout, inputs.length);
  if (choices[0] === "mapping" && !options.mapping) throw new LayoutError("--layout mapping", "--mapping", "a mapping file", "none");
  const opened: H5Input[] = [];
  const parts: PartialScan[] = [];
  const closeAll = () => {
    for (const p of parts) p.close();
    for (const h of opened) h.close();
  };
  try {
    const layouts: (LayoutName | null)[] = [];
    for (let i = 0; i < inputs.length && choices[0] !== "mapping"; i++) {
      const input = await H5Input.open(inputs[i]);
      opened.push(input);
      const layout = choices[i] === "auto" ? detectLayout(input) : (choices[i] as LayoutName);
      layouts.push(layout);
      if (layout === null) {
        if (options.mapping) continue; // a file the mapping reads from
        const top = (input.file.keys?.() ?? []).map((k: string) => `/${k}`).join(", ") || "nothing";
        throw new LayoutError(input.name, "/", "a known layout: /ptychography + /xrf (canonical), /MAPS (XRF-Maps), /entry/data/data_NNNNNN (Eiger master)", top, "describe it with --layout mapping --mapping FILE (docs/layouts.md)");
      }
      parts.push(layout === "maps" ? readMaps(input) : layout === "eiger" ? await readEiger(input, { frameSize: options.frameSize }) : readCanonical(input));
    }
    if (choices[0] === "mapping") layouts.push(...inputs.map(() => null));
    const mapping = options.mapping ? await readMapping(options.mapping, inputs) : undefined;
    if (mapping) parts.push(mapping);
    const merged = mergePartials(mapping ? parts.slice(0, -1) : parts, mapping);
    return { ...merged, layouts, close: closeAll };
  } catch (err) {
    closeAll();
    throw err;
  }
}

export interface ConvertOptions extends AdaptOptions {
  compression?: Compression;
}

/** Converts the inputs into a canonical scan at `out`. Returns the notes of the adapters. */
export async function convertScan(inputs: string[], out: string, options: ConvertOptions = {}): Promise<{ notes: string[]; layouts: (LayoutName | null)[]; npos: number; frameSize: number }> {
  const target = path.resolve(out);
  for (const f of [...inputs, ...(options.mapping ? [options.mapping] : [])]) {
    if (path.resolve(f) === target || (fs.existsSync(f) && fs.existsSync(target) && fs.realpathSync(f) === fs.realpathSync(target))) {
      throw new LayoutError(out, "--out", "a new file (inputs are never overwritten)", `the input ${f}`);
    }
  }
  const adapted = await adaptInputs(inputs, options);
  try {
    await writeScan(out, adapted.header, adapted.frames, { compression: options.compression ?? "none" });
    return { notes: adapted.notes, layouts: adapted.layouts, npos: adapted.header.npos, frameSize: adapted.header.frameSize };
  } finally {
    adapted.close();
  }
}

/** True when the inputs are one file to use as it is: a canonical scan (or not HDF5 at all: the validator says so). */
export async function isDirectScan(inputs: string[], options: AdaptOptions): Promise<boolean> {
  if (inputs.length !== 1 || options.mapping) return false;
  const choice = layoutChoices(options.layout, 1)[0];
  if (choice === "canonical") return true;
  if (choice !== "auto") return false;
  let input: H5Input;
  try {
    input = await H5Input.open(inputs[0]);
  } catch {
    return true;
  }
  try {
    const layout = detectLayout(input);
    return layout === null || layout === "canonical";
  } finally {
    input.close();
  }
}

/**
 * Runs `use` on a canonical scan made from the inputs: the input itself when it is one canonical file,
 * else a temporary conversion (removed afterwards). `label` names the inputs for messages.
 */
export async function withAdaptedScan<T>(
  inputs: string[], options: AdaptOptions, use: (scanPath: string, label: string, notes: string[]) => Promise<T>,
): Promise<T> {
  if (await isDirectScan(inputs, options)) return use(inputs[0], inputs[0], []);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ptyxrf-adapted-"));
  try {
    const scanPath = path.join(dir, "scan.h5");
    const { notes } = await convertScan(inputs, scanPath, options);
    return await use(scanPath, `${inputs.join(" + ")}${options.mapping ? ` (mapping ${options.mapping})` : ""}`, notes);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
