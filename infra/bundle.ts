/**
 * Lambda code, bundled at synth time with esbuild on this machine (no Docker): one ESM file per entry point,
 * `package.json` {"type": "module"}, and the two packages that must stay files on disk:
 *   h5wasm          the HDF5 reader (WebAssembly inside; kept external so both of its builds load as shipped)
 *   h5wasm-plugins  the compression filter plugins (.so), found beside its index.mjs at run time.
 * The ingest bundle also carries `s3ReadWorker.js`, the worker thread of the ranged-read bridge, beside
 * `ingest.js` (where src/scan/s3Source.ts looks for it).
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { AssetHashType, DockerImage, type ILocalBundling } from "aws-cdk-lib";
import { Code } from "aws-cdk-lib/aws-lambda";
import { buildSync } from "esbuild";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface BundleSpec {
  /** Output file name (without .js) -> entry module, relative to the repository root. */
  entries: Record<string, string>;
  /** Packages copied as files into node_modules/ (and left out of the bundle). */
  packages: string[];
}

export const BUNDLES = {
  ingest: {
    entries: { ingest: "functions/ingest.ts", s3ReadWorker: "src/scan/s3ReadWorker.ts" },
    packages: ["h5wasm", "h5wasm-plugins"],
  },
  notify: { entries: { notify: "functions/notify.ts" }, packages: [] },
} satisfies Record<string, BundleSpec>;

/** What of each copied package the functions need (the rest is tests, sources, other builds). */
const PACKAGE_FILES: Record<string, string[]> = {
  h5wasm: ["package.json", "LICENSE.txt", "dist/esm", "dist/node"],
  "h5wasm-plugins": ["package.json", "LICENSE", "index.mjs", "plugins"],
};

/** Writes the bundle of `spec` into `outDir` (created if missing). */
export function bundle(spec: BundleSpec, outDir: string): void {
  fs.mkdirSync(outDir, { recursive: true });
  const external = spec.packages.flatMap((p) => [p, `${p}/*`]);
  const result = buildSync({
    absWorkingDir: ROOT,
    entryPoints: Object.fromEntries(Object.entries(spec.entries).map(([out, src]) => [out, path.join(ROOT, src)])),
    outdir: outDir,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    mainFields: ["module", "main"],
    external,
    sourcemap: true,
    sourcesContent: false,
    legalComments: "none",
    logLevel: "silent",
    // CommonJS dependencies inside an ESM bundle call require() for Node built-ins.
    banner: { js: 'import { createRequire as __ptyxrfRequire } from "node:module"; const require = __ptyxrfRequire(import.meta.url);' },
  });
  if (result.errors.length) throw new Error(`bundling failed: ${result.errors.map((e) => e.text).join("; ")}`);
  fs.writeFileSync(path.join(outDir, "package.json"), JSON.stringify({ type: "module", private: true }, null, 2) + "\n");
  for (const pkg of spec.packages) {
    const from = path.join(ROOT, "node_modules", pkg);
    const to = path.join(outDir, "node_modules", pkg);
    for (const item of PACKAGE_FILES[pkg] ?? ["."]) {
      const src = path.join(from, item);
      if (fs.existsSync(src)) fs.cpSync(src, path.join(to, item), { recursive: true });
    }
    if (!fs.existsSync(path.join(to, "package.json"))) throw new Error(`bundling: package ${pkg} not found in node_modules (npm ci?)`);
  }
}

/**
 * Lambda code bundled locally at synth time. The Docker image is never used: local bundling always
 * succeeds or throws. With bundling skipped (context aws:cdk:bundling-stacks = []), nothing is built.
 */
export function lambdaCode(name: keyof typeof BUNDLES): Code {
  const spec: BundleSpec = BUNDLES[name];
  const local: ILocalBundling = {
    tryBundle(outputDir: string): boolean {
      bundle(spec, outputDir);
      return true;
    },
  };
  return Code.fromAsset(path.join(ROOT, "functions"), {
    assetHashType: AssetHashType.OUTPUT,
    // `environment` names the bundle: CDK caches staged assets by source path and (serialisable) bundling
    // options, and the two functions share the source folder.
    bundling: { image: DockerImage.fromRegistry("docker-is-not-used"), local, environment: { PTYXRF_BUNDLE: name } },
  });
}
