import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cli } from "./run.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ptyxrf-cli-sweep-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("ptyxrf sweep (local profile)", () => {
  it("runs a spec, prints the ranking, and copies the summary with each task's report to the data directory", async () => {
    expect((await cli("simulate", "--preset", "small", "--seed", "3", "--out", path.join(dir, "a"))).code).toBe(0);
    const spec = path.join(dir, "spec.json");
    fs.writeFileSync(spec, JSON.stringify({
      name: "cli", scans: ["a/scan.h5"], truth: { "a/scan.h5": "a/truth.h5" },
      base: { iterations: 4 }, grid: { "noise.ptycho": ["gaussian", "poisson"] },
    }));
    const dataDir = path.join(dir, "local");
    const r = await cli("sweep", spec, "--data-dir", dataDir, "--user", "tester");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/2 of 2 tasks succeeded/);
    expect(r.stdout).toMatch(/best per scan \(object_rel_error, min\)/);
    const [folder] = fs.readdirSync(path.join(dataDir, "sweeps"));
    const local = path.join(dataDir, "sweeps", folder);
    const html = fs.readFileSync(path.join(local, "report.html"), "utf8");
    const links = [...html.matchAll(/href="(tasks\/t\d+\/report\.html)"/g)].map((m) => m[1]);
    expect(new Set(links)).toEqual(new Set(["tasks/t000/report.html", "tasks/t001/report.html"]));
    for (const link of links) expect(fs.readFileSync(path.join(local, link), "utf8")).toMatch(/<html/);
    expect(fs.readFileSync(path.join(local, "sweep.csv"), "utf8").trim().split("\n")).toHaveLength(3);
  }, 120_000);
});
