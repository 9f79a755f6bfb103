/** The SNS notifier from the Lambda's environment (kept apart from awsDeps.ts so the notifier bundle stays small). */
import { SNSClient } from "@aws-sdk/client-sns";
import { ENV } from "../ingest/env.js";
import { SnsNotifier } from "./notifier.js";

export function awsNotifierFromEnv(env: NodeJS.ProcessEnv = process.env, sns?: SNSClient): SnsNotifier {
  const topic = env[ENV.topicArn];
  if (!topic) throw new Error(`missing environment variable ${ENV.topicArn}`);
  return new SnsNotifier(sns ?? new SNSClient({}), topic);
}
