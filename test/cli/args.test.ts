/**
 * Command-line errors a person can act on: negative numbers reach the option's own range check, unknown
 * options name the closest known one, missing values say so; every command's --help ends with examples.
 */
import { describe, expect, it } from "vitest";
import { closestOption, parse, UsageError } from "../../src/cli/args.js";
import { COMMANDS, main } from "../../src/cli/main.js";

const OPTIONS = { iterations: { type: "string" as const }, out: { type: "string" as const }, json: { type: "boolean" as const } };

function usageError(argv: string[]): string {
  try {
    parse("reconstruct", argv, OPTIONS);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`parse accepted ${argv.join(" ")}`);
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const code = await main(argv, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`), isTTY: false });
  return { code, out, err };
}

describe("argument errors", () => {
  it("a negative number is the option's value, refused by the option's range check", async () => {
    expect(parse("x", ["--iterations", "-5", "--out", "-1.5e3"], OPTIONS).values).toMatchObject({ iterations: "-5", out: "-1.5e3" });
    const r = await run(["reconstruct", "package.json", "--out", "o", "--iterations", "-5"]);
    expect(r.code).toBe(2);
    expect(r.err.split("\n")[0]).toBe('ptyxrf reconstruct: --iterations expects an integer >= 1, got "-5"');
  });

  it("an unknown option is named with the closest known one, quotes balanced", () => {
    expect(usageError(["--iteration", "5"])).toBe("unknown option --iteration (did you mean --iterations?)");
    expect(usageError(["--iterashuns=5"])).toBe("unknown option --iterashuns (did you mean --iterations?)");
    expect(usageError(["--colour"])).toBe("unknown option --colour");
    expect(closestOption("jsno", ["json", "out"])).toBe("json");
    expect(closestOption("zzzzzz", ["json", "out"])).toBeUndefined();
  });

  it("a missing value and a value given to a flag say so", () => {
    expect(usageError(["--out"])).toBe("--out needs a value (a value starting with a dash goes as --out=-VALUE)");
    expect(usageError(["--out", "--json"])).toBe("--out needs a value (a value starting with a dash goes as --out=-VALUE)");
    expect(usageError(["--json=yes"])).toBe("--json takes no value");
  });
});

describe("--help", () => {
  it("every command's help ends with examples of that command", async () => {
    for (const c of COMMANDS) {
      const r = await run([c.name, "--help"]);
      expect(r.code).toBe(0);
      const examples = r.out.split("\nExamples:\n")[1];
      expect(examples, c.name).toBeDefined();
      const lines = examples.trim().split("\n").map((l) => l.trim());
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(l.startsWith(`ptyxrf ${c.name}`), `${c.name}: ${l}`).toBe(true);
    }
  });
});
