/**
 * One worked example per command, shown at the end of its --help (main.ts). Each is a command a new user can
 * paste as it is after `npx ptyxrf simulate --preset small --seed 1 --out runs/small` (the first example).
 */
export const EXAMPLES: Record<string, string[]> = {
  simulate: ["ptyxrf simulate --preset small --seed 1 --out runs/small", "ptyxrf simulate --preset paper --seed 1 --out runs/paper --noise-level 0.1"],
  validate: ["ptyxrf validate runs/small/scan.h5", "ptyxrf validate runs/small/scan.h5 --json > problems.json"],
  info: ["ptyxrf info runs/small/scan.h5"],
  reconstruct: [
    "ptyxrf reconstruct runs/small/scan.h5 --out runs/small/joint --truth runs/small/truth.h5",
    "ptyxrf reconstruct runs/small/scan.h5 --out runs/small/ptycho --mode ptycho --iterations 300",
  ],
  compare: ["ptyxrf compare runs/small/scan.h5 --truth runs/small/truth.h5 --iterations 100"],
  convert: ["ptyxrf convert fitted_maps.h5 eiger_master.h5 --out scan.h5", "ptyxrf convert beamline.h5 --layout mapping --mapping mapping.yaml --out scan.h5"],
  submit: ["ptyxrf submit runs/small/scan.h5 --profile local --wait"],
  status: ["ptyxrf status --profile local"],
  fetch: ["ptyxrf fetch RUN_ID --out runs/fetched --profile local"],
  local: ["ptyxrf local demo", "ptyxrf local up --data-dir runs/local"],
  sweep: ["ptyxrf sweep sweep.yaml --profile local --parallel 2 --dry-run"],
  reprocess: ["ptyxrf reprocess s3://my-scans/incoming/alice/ --config config.json --dry-run"],
};

/** The "Examples:" block of a command's --help ("" when it has none). */
export function examplesBlock(command: string): string {
  const list = EXAMPLES[command] ?? [];
  return list.length ? `\n\nExamples:\n${list.map((e) => `  ${e}`).join("\n")}` : "";
}
