/**
 * Facts about the installed package: its root, its version, and where its compiled modules are (worker
 * threads and child processes must run compiled JS, also when the caller runs from TypeScript sources).
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | null = null;

export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, "package.json");
    if (fs.existsSync(candidate) && JSON.parse(fs.readFileSync(candidate, "utf8")).name === "ptyxrf") return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error("ptyxrf: cannot find its package.json");
    dir = up;
  }
}

export function version(): string {
  cached ??= JSON.parse(fs.readFileSync(path.join(packageRoot(), "package.json"), "utf8")).version as string;
  return cached;
}

/** A compiled module of this package, by its path under src/ (e.g. "pipeline/local/s3Child.js"). */
export function compiledModule(relFromSrc: string): string {
  const script = path.join(packageRoot(), "dist", "src", relFromSrc);
  if (!fs.existsSync(script)) throw new Error(`${script} not found: run npm run build`);
  return script;
}
