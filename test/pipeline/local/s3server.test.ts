/**
 * The local S3 server (s3Child.ts behind S3Server) on 127.0.0.1, as the local stack uses it: keys that are
 * paths out of their place (".." and "." segments, empty segments, backslashes, control characters) are
 * refused with 400 before s3rver touches a file, in the request path and in x-amz-copy-source, whether sent
 * by the SDK or raw; keys with "+", "%", spaces and unicode are stored exactly and their events carry them
 * URL-encoded as S3 does, so that the one decoder (ingest/events.ts) gets them back exactly; an event and a
 * listing of the same object carry the same sequencer (the start-up rescan's dedup key); a server killed
 * under its owner is reported.
 */
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { CopyObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { S3EventRecord } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeS3Key, encodeS3Key, uploadFromRecord } from "../../../src/pipeline/ingest/events.js";
import { refusedRequest } from "../../../src/pipeline/local/keyFilter.js";
import { S3Server, type ServerExit } from "../../../src/pipeline/local/s3server.js";
import { makeS3Client } from "../../../src/scan/s3Client.js";

const SCANS = "ptyxrf-scans";
let dir: string;
let server: S3Server;
let s3: S3Client;
const events: S3EventRecord[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ptyxrf-s3server-"));
  server = new S3Server({ directory: path.join(dir, "s3"), buckets: [SCANS, "ptyxrf-results"] });
  await server.start();
  server.onEvent((r) => events.push(r));
  s3 = makeS3Client({ ...server.settings, maxAttempts: 1 });
});

afterAll(async () => {
  s3?.destroy();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Every file under the server's directory (relative paths). */
function filesUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(root, p));
    }
  };
  walk(root);
  return out.sort();
}

/** A raw HTTP request (no SDK, no URL normalisation): status and body. */
function raw(method: string, rawPath: string, headers: Record<string, string> = {}, body = ""): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: server.port, method, path: rawPath, headers: { "content-length": String(Buffer.byteLength(body)), ...headers } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function waitForEvent(key: string, timeoutMs = 5000): Promise<S3EventRecord> {
  const t0 = Date.now();
  for (;;) {
    const hit = events.find((e) => decodeS3Key(e.s3.object.key) === key);
    if (hit) return hit;
    if (Date.now() - t0 > timeoutMs) throw new Error(`no event for ${key}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("keys that are paths out of their place are refused at the server's front", () => {
  it("the filter's rule: . and .. segments, empty segments, backslashes, control characters, bad bucket names; everything else passes", () => {
    expect(refusedRequest("/ptyxrf-scans/incoming/alice/../bob/evil.h5", undefined)).toMatch(/the key "incoming\/alice\/\.\.\/bob\/evil\.h5" has a "\.\." path segment/);
    expect(refusedRequest("/ptyxrf-scans/incoming/alice/%2E%2E/bob/evil.h5", undefined)).toMatch(/"\.\." path segment/);
    expect(refusedRequest("/ptyxrf-scans/incoming/alice%2F..%2Fbob%2Fevil.h5", undefined)).toMatch(/"\.\." path segment/);
    expect(refusedRequest("/ptyxrf-scans/incoming/alice/./x.h5", undefined)).toMatch(/"\." path segment/);
    expect(refusedRequest("/ptyxrf-scans/incoming//x.h5", undefined)).toMatch(/empty path segment/);
    expect(refusedRequest("/ptyxrf-scans//etc/passwd", undefined)).toMatch(/leading "\/"/);
    expect(refusedRequest("/ptyxrf-scans/incoming/alice/a%5C..%5Cb.h5", undefined)).toMatch(/backslash/);
    expect(refusedRequest("/ptyxrf-scans/incoming/alice/a%00b.h5", undefined)).toMatch(/control character \(U\+0000\)/);
    expect(refusedRequest("/ptyxrf-scans/incoming/alice/a%E2%80%AEb.h5", undefined)).toMatch(/control character \(U\+202E\)/);
    expect(refusedRequest("/ptyxrf-scans/incoming/alice/%E0%A4%A.h5", undefined)).toMatch(/not valid percent-encoded UTF-8/);
    expect(refusedRequest("/..", undefined)).toMatch(/bucket name "\.\." is not a valid bucket name/);
    expect(refusedRequest("/%2E%2E/x", undefined)).toMatch(/not a valid bucket name/);
    expect(refusedRequest("/ptyxrf-scans/incoming/bob/x.h5", "/ptyxrf-scans/incoming/alice/../../../../etc/passwd")).toMatch(/^x-amz-copy-source: .*"\.\." path segment/);
    for (const ok of ["/", "/ptyxrf-scans", "/ptyxrf-scans/", "/ptyxrf-scans/incoming/alice/", "/ptyxrf-scans/incoming/alice/a+b%20c%25%C3%A9..x.h5", "/ptyxrf-scans/incoming/alice/.hidden/..x/x..h5"]) {
      expect(refusedRequest(ok, undefined)).toBeNull();
    }
  });

  it("incoming/alice/../bob/evil.h5 through the SDK: 400 InvalidArgument, bob's upload and every file untouched", async () => {
    await s3.send(new PutObjectCommand({ Bucket: SCANS, Key: "incoming/bob/evil.h5", Body: "bob's scan" }));
    const before = filesUnder(dir);
    const err = await s3.send(new PutObjectCommand({ Bucket: SCANS, Key: "incoming/alice/../bob/evil.h5", Body: "alice's scan" })).then(() => null, (e: unknown) => e as { name: string; message: string; $metadata: { httpStatusCode: number } });
    expect(err).not.toBeNull();
    expect(err!.$metadata.httpStatusCode).toBe(400);
    expect(err!.name).toBe("InvalidArgument");
    expect(err!.message).toMatch(/the key "incoming\/alice\/\.\.\/bob\/evil\.h5" has a "\.\." path segment/);
    const bob = await s3.send(new GetObjectCommand({ Bucket: SCANS, Key: "incoming/bob/evil.h5" }));
    expect(await bob.Body!.transformToString()).toBe("bob's scan");
    expect(filesUnder(dir)).toEqual(before);
    // and a read cannot leave the bucket either
    const read = await s3.send(new GetObjectCommand({ Bucket: SCANS, Key: "incoming/../../ptyxrf-results/x" })).then(() => null, (e: unknown) => e as { $metadata: { httpStatusCode: number } });
    expect(read!.$metadata.httpStatusCode).toBe(400);
  });

  it("raw requests (no client-side normalisation): literal and percent-encoded .., a copy whose source climbs out: 400, no file written anywhere", async () => {
    const before = filesUnder(dir);
    const outside = path.join(dir, "bob-evil.h5");
    for (const p of [
      `/${SCANS}/incoming/alice/../bob/evil.h5`, `/${SCANS}/incoming/alice/%2e%2e/bob/evil.h5`, `/${SCANS}/incoming/alice%2F..%2Fbob%2Fevil.h5`,
      `/${SCANS}/incoming/alice/../../../bob-evil.h5`, `/%2e%2e/bob-evil.h5`, `/${SCANS}/incoming/alice/a%00.h5`, `/${SCANS}/incoming//x.h5`,
    ]) {
      const r = await raw("PUT", p, {}, "x");
      expect(r.status, p).toBe(400);
      expect(r.body, p).toMatch(/<Code>InvalidArgument<\/Code>/);
    }
    const copy = await raw("PUT", `/${SCANS}/incoming/alice/copy.h5`, { "x-amz-copy-source": `/${SCANS}/incoming/alice/../../../../etc/hostname` });
    expect(copy.status).toBe(400);
    expect(copy.body).toMatch(/x-amz-copy-source/);
    const get = await raw("GET", `/${SCANS}/incoming/../../../etc/hostname`);
    expect(get.status).toBe(400);
    expect(filesUnder(dir)).toEqual(before);
    expect(fs.existsSync(outside)).toBe(false);
  });

  it("a copy within the bucket still works (the filter does not get in the way of valid requests)", async () => {
    await s3.send(new CopyObjectCommand({ Bucket: SCANS, Key: "incoming/bob/copy.h5", CopySource: `${SCANS}/incoming/bob/evil.h5` }));
    const r = await s3.send(new GetObjectCommand({ Bucket: SCANS, Key: "incoming/bob/copy.h5" }));
    expect(await r.Body!.transformToString()).toBe("bob's scan");
  });
});

describe("keys with +, %, spaces and unicode", () => {
  const keys = [
    "incoming/alice/a+b.h5", "incoming/alice/100% done.h5", "incoming/alice/my scan (v2).h5", "incoming/alice/a%2Bb.h5",
    "incoming/alice/résumé ß 日本 🧪.h5", "incoming/alice/+ + +.h5", "incoming/alice/%41%.h5",
  ];

  it("encodeS3Key/decodeS3Key: S3's form encoding, decoded exactly once, the identity for every key", () => {
    expect(encodeS3Key("incoming/alice/my scan+1.h5")).toBe("incoming/alice/my+scan%2B1.h5");
    expect(encodeS3Key("incoming/alice/100%.h5")).toBe("incoming/alice/100%25.h5");
    expect(encodeS3Key("incoming/alice/é.h5")).toBe("incoming/alice/%C3%A9.h5");
    for (const k of keys) expect(decodeS3Key(encodeS3Key(k))).toBe(k);
  });

  it("stored under the exact key; the event names it URL-encoded as S3 does; the decoder gets the exact key back", async () => {
    for (const key of keys) {
      await s3.send(new PutObjectCommand({ Bucket: SCANS, Key: key, Body: `bytes of ${key}` }));
      const got = await s3.send(new GetObjectCommand({ Bucket: SCANS, Key: key }));
      expect(await got.Body!.transformToString()).toBe(`bytes of ${key}`);
      const ev = await waitForEvent(key);
      expect(ev.s3.object.key).toBe(encodeS3Key(key));
      expect(uploadFromRecord(ev).key).toBe(key);
    }
    // "a+b" and "a b" are different objects, and neither is mistaken for the other
    expect(events.some((e) => uploadFromRecord(e).key === "incoming/alice/a b.h5")).toBe(false);
  });

  it("a listing gives each object the sequencer of its upload event (the rescan's and the event's idempotency keys agree)", async () => {
    const page = await server.list(SCANS, "incoming/alice/", "", 1000);
    const listed = new Map(page.objects.map((o) => [o.key, o]));
    for (const key of keys) {
      const ev = await waitForEvent(key);
      const o = listed.get(key)!;
      expect(o).toBeDefined();
      expect(o.sequencer).toMatch(/^[0-9A-F]{16,}$/);
      expect(o.sequencer).toBe(ev.s3.object.sequencer);
      expect(o.etag).toBe(ev.s3.object.eTag);
    }
    // pages: at most maxKeys, continuing after `last`
    const first = await server.list(SCANS, "incoming/alice/", "", 2);
    expect(first.objects).toHaveLength(2);
    expect(first.truncated).toBe(true);
    const second = await server.list(SCANS, "incoming/alice/", first.last!, 1000);
    expect([...first.objects, ...second.objects].map((o) => o.key)).toEqual(page.objects.map((o) => o.key));
  });
});

describe("a server that dies under its owner", () => {
  it("is reported once, with its pid and signal; a stop() is not", async () => {
    const other = new S3Server({ directory: path.join(dir, "s3-2"), buckets: [SCANS] });
    await other.start();
    const exits: ServerExit[] = [];
    other.onUnexpectedExit((e) => exits.push(e));
    const pid = other.pid!;
    process.kill(pid, "SIGKILL");
    const t0 = Date.now();
    while (!exits.length && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    expect(exits).toEqual([{ pid, code: null, signal: "SIGKILL" }]);
    expect(other.running).toBe(false);
    await other.start();
    await other.stop();
    expect(exits).toHaveLength(1);
  });
});
