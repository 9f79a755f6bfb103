/**
 * The CDK app: `npx cdk synth -c workerImageTag=v0.1.0` / `npx cdk deploy -c workerImageTag=... -c
 * notifyEmail=you@lab.org ...` (docs/cloud.md). cdk-nag's AWS Solutions checks run on every synth; an
 * unsuppressed finding fails it. Invalid or missing context (infra/settings.ts) fails it with every problem
 * listed, and exit code 1.
 */
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { SettingsError } from "./settings.js";
import { PtyxrfStack } from "./stack.js";

export function buildApp(app: App = new App()): { app: App; stack: PtyxrfStack } {
  const name = (app.node.tryGetContext("stackName") as string | undefined) ?? "Ptyxrf";
  const stack = new PtyxrfStack(app, name, {
    // Set by the CLI when credentials are available (deploy); absent offline, where the stack stays
    // environment-agnostic and synthesises without any lookup.
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    description: "ptyxrf: joint ptychography + XRF reconstruction service (upload -> validate -> Batch GPU -> notify)",
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stack };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    // no synth at exit (the CLI's default) of a stack whose construction failed
    buildApp(new App({ autoSynth: false })).app.synth();
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    process.stderr.write(`ptyxrf: invalid context (-c name=value; docs/cloud.md lists them):\n${err.problems.map((p) => `  - ${p}\n`).join("")}`);
    process.exitCode = 1;
  }
}
