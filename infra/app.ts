/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy -c notifyEmail=you@lab.org ...` (docs/cloud.md).
 * cdk-nag's AWS Solutions checks run on every synth; an unsuppressed finding fails it.
 */
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
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
  buildApp().app.synth();
}
