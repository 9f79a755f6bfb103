import os from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // vitest's default leaves one core free, which on a 2-core machine is one test file at a time; most files here
    // wait on child processes (CLIs, s3rver, workers), so one file per core halves the suite's time (3.6 -> 2.5 min)
    maxWorkers: Math.max(2, os.availableParallelism()),
    globalSetup: ["test/globalSetup.ts"],
    // The AWS SDK warns once per process that its releases after January 2027 need Node 22; the project supports
    // Node 20 and 22 (the Lambda and the container run 22), so the tests, and the CLIs they spawn, stay quiet.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
