/** ptyxrf's version, read from the package.json above this module (works from src/ and from dist/). */
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
