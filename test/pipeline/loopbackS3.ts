/** An S3-compatible server (s3rver) on 127.0.0.1 in a temporary folder, with a client and a retrying transfer. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { S3Server } from "../../src/pipeline/local/s3server.js";
import { S3Transfer } from "../../src/pipeline/worker/transfer.js";
import { makeS3Client } from "../../src/scan/s3Client.js";

export interface LoopbackS3 {
  /** The temporary folder (the server's files under s3/); removed by close(). */
  dir: string;
  server: S3Server;
  s3: S3Client;
  /** Retries twice, 10 ms apart: tests fail fast. */
  transfer: S3Transfer;
  close(): Promise<void>;
}

export async function startLoopbackS3(name: string, buckets: string[]): Promise<LoopbackS3> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ptyxrf-${name}-`));
  const server = new S3Server({ directory: path.join(dir, "s3"), buckets });
  await server.start();
  const s3 = makeS3Client(server.settings);
  return {
    dir, server, s3,
    transfer: new S3Transfer(s3, { retry: { attempts: 2, baseMs: 10 } }),
    async close() {
      s3.destroy();
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
