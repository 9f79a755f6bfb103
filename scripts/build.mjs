#!/usr/bin/env node
// Compiles src/, bench/ and container/ to dist/ (tsconfig.build.json, incremental), and only when something
// changed: when no source file, folder or tsconfig is newer than dist/.tsbuildinfo the build is up to date and
// nothing runs (a second `npm run demo` starts at once). `--force` compiles regardless.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const stamp = path.join(root, "dist", ".tsbuildinfo");

/** Newest modification time (ms) of the folder tree's files and folders (a deleted file changes its folder's). */
function newest(p) {
  let st;
  try {
    st = fs.statSync(p);
  } catch {
    return 0;
  }
  let t = st.mtimeMs;
  if (st.isDirectory()) for (const name of fs.readdirSync(p)) t = Math.max(t, newest(path.join(p, name)));
  return t;
}

function upToDate() {
  if (!fs.existsSync(stamp) || !fs.existsSync(path.join(root, "dist/src/cli/main.js"))) return false;
  const inputs = ["src", "bench", "container", "tsconfig.json", "tsconfig.build.json", "package-lock.json"];
  const built = fs.statSync(stamp).mtimeMs;
  return inputs.every((p) => newest(path.join(root, p)) <= built);
}

if (process.argv.includes("--force") || !upToDate()) {
  execFileSync(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
  // tsc leaves the build info untouched when nothing it emits changed; the stamp marks this check as done
  const now = new Date();
  fs.utimesSync(stamp, now, now);
}
