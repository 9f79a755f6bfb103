/** Environment variables of the Lambda functions (set by the CDK stack, read by awsDeps.ts). No imports: infra uses it too. */
export const ENV = {
  scansBucket: "PTYXRF_SCANS_BUCKET",
  resultsBucket: "PTYXRF_RESULTS_BUCKET",
  incomingPrefix: "PTYXRF_INCOMING_PREFIX",
  resultsPrefix: "PTYXRF_RESULTS_PREFIX",
  jobQueue: "PTYXRF_JOB_QUEUE",
  jobDefinition: "PTYXRF_JOB_DEFINITION",
  topicArn: "PTYXRF_TOPIC_ARN",
  uploadsTable: "PTYXRF_UPLOADS_TABLE",
  leaseSeconds: "PTYXRF_LEASE_SECONDS",
  /** The worker job's memory and scratch volume: the validator's capacity limits (src/scan/limits.ts workerLimits). */
  workerMemoryMiB: "PTYXRF_WORKER_MEMORY_MIB",
  workerDiskGiB: "PTYXRF_WORKER_DISK_GIB",
  /** Local S3-compatible endpoint (tests, local profile). */
  s3Endpoint: "PTYXRF_S3_ENDPOINT",
  /** WHEN_REQUIRED against s3rver. */
  s3Checksums: "PTYXRF_S3_CHECKSUMS",
} as const;
