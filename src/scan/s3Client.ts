/** The one place an S3 client is configured from `S3ClientSettings` (ranged-read worker, ingest storage). */
import { S3Client } from "@aws-sdk/client-s3";
import type { S3ClientSettings } from "./s3Source.js";

export function makeS3Client(settings: S3ClientSettings = {}): S3Client {
  return new S3Client({
    ...(settings.region ? { region: settings.region } : {}),
    ...(settings.endpoint ? { endpoint: settings.endpoint, forcePathStyle: settings.forcePathStyle ?? true } : {}),
    ...(settings.forcePathStyle !== undefined && !settings.endpoint ? { forcePathStyle: settings.forcePathStyle } : {}),
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
    ...(settings.checksums
      ? { requestChecksumCalculation: settings.checksums, responseChecksumValidation: settings.checksums }
      : {}),
    maxAttempts: settings.maxAttempts ?? 4,
    // A store that accepts connections and then never answers must fail the request (and so be retried, then
    // count towards the worker's S3 deadline), never hang it: connect within 10 s, no socket idle for 60 s.
    requestHandler: { connectionTimeout: settings.connectTimeoutMs ?? 10_000, socketTimeout: settings.idleTimeoutMs ?? 60_000 },
  });
}

/** Settings from the environment: AWS_REGION (always set in Lambda), PTYXRF_S3_ENDPOINT / PTYXRF_S3_CHECKSUMS for local servers. */
export function s3SettingsFromEnv(env: NodeJS.ProcessEnv = process.env): S3ClientSettings {
  const checksums = env.PTYXRF_S3_CHECKSUMS;
  return {
    ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
    ...(env.PTYXRF_S3_ENDPOINT ? { endpoint: env.PTYXRF_S3_ENDPOINT, forcePathStyle: true } : {}),
    ...(checksums === "WHEN_REQUIRED" || checksums === "WHEN_SUPPORTED" ? { checksums } : {}),
  };
}
