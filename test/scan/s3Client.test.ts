/**
 * An S3 server that accepts connections and then never answers fails the request in bounded time (the SDK's
 * socket idle timeout, s3Client.ts), so retries and the worker's S3 deadline can act, instead of hanging a
 * worker (and its GPU) forever.
 */
import net from "node:net";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeS3Client } from "../../src/scan/s3Client.js";

let server: net.Server;
let port = 0;
const sockets = new Set<net.Socket>();
beforeAll(async () => {
  server = net.createServer((s) => { sockets.add(s); s.on("data", () => undefined); }); // reads, never answers
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as net.AddressInfo).port;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
});

describe("an S3 endpoint that never answers", () => {
  it("fails each attempt after the idle timeout and the request after maxAttempts", async () => {
    const client = makeS3Client({
      region: "us-east-1", endpoint: `http://127.0.0.1:${port}`, credentials: { accessKeyId: "a", secretAccessKey: "b" },
      maxAttempts: 2, idleTimeoutMs: 300,
    });
    const t0 = performance.now();
    await expect(client.send(new GetObjectCommand({ Bucket: "b", Key: "k" }))).rejects.toThrow();
    const ms = performance.now() - t0;
    client.destroy();
    expect(ms).toBeGreaterThanOrEqual(500); // two attempts of 300 ms each (less the retry's jitter)
    expect(ms).toBeLessThan(5_000);
    expect(sockets.size).toBeGreaterThanOrEqual(1);
  });
});
