/**
 * The idempotency stores share one contract (claim once; busy while leased; recover an expired lease once;
 * terminal states are final; release only a processing claim). Memory and file stores run as they are; the
 * DynamoDB store runs against a small in-memory table behind aws-sdk-client-mock that evaluates the
 * conditional writes it sends, so its conditions are checked too.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, describe, expect, it } from "vitest";
import { DynamoIdempotencyStore, RECORD_TTL_DAYS } from "../../../src/pipeline/storage/dynamoIdempotency.js";
import { FileIdempotencyStore, MemoryIdempotencyStore, type IdempotencyStore, type NewUploadRecord } from "../../../src/pipeline/storage/idempotency.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ptyxrf-idem-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const LEASE = 60_000;
let n = 0;
const rec = (): NewUploadRecord => ({ id: `u${++n}abc`, bucket: "b", key: `incoming/a/s${n}.h5`, etag: "e", configHash: "c", user: "a", resultPrefix: "results/a/s/" });

function conditionFailed(): never {
  throw new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: {} });
}

/** A DynamoDB table in memory, evaluating exactly the condition expressions DynamoIdempotencyStore uses. */
function fakeDynamo() {
  const table = new Map<string, Record<string, unknown>>();
  const mock = mockClient(DynamoDBDocumentClient);
  const conditions: string[] = [];
  mock.on(GetCommand).callsFake((i) => ({ Item: table.has(i.Key.pk) ? structuredClone(table.get(i.Key.pk)) : undefined }));
  mock.on(PutCommand).callsFake((i) => {
    conditions.push(i.ConditionExpression);
    expect(i.ConditionExpression).toBe("attribute_not_exists(pk)");
    if (table.has(i.Item.pk)) conditionFailed();
    table.set(i.Item.pk, structuredClone(i.Item));
    return {};
  });
  mock.on(UpdateCommand).callsFake((i) => {
    conditions.push(i.ConditionExpression);
    const item = table.get(i.Key.pk);
    const v = i.ExpressionAttributeValues;
    if (i.ConditionExpression === "attribute_exists(pk)") {
      if (!item) conditionFailed();
    } else {
      expect(i.ConditionExpression).toBe("#s = :processing AND leaseUntil = :old");
      if (!item || item.status !== v[":processing"] || item.leaseUntil !== v[":old"]) conditionFailed();
    }
    const next = { ...item };
    for (const part of (i.UpdateExpression as string).replace(/^SET /, "").split(", ")) {
      const [lhs, rhs] = part.split(" = ");
      const name = i.ExpressionAttributeNames?.[lhs] ?? lhs;
      next[name] = v[rhs];
    }
    table.set(i.Key.pk, next);
    return { Attributes: structuredClone(next) };
  });
  mock.on(DeleteCommand).callsFake((i) => {
    conditions.push(i.ConditionExpression);
    const item = table.get(i.Key.pk);
    if (!item || item.status !== "processing") conditionFailed();
    table.delete(i.Key.pk);
    return {};
  });
  return { table, mock, conditions };
}

const dynamo = fakeDynamo();
afterAll(() => dynamo.mock.restore());

const stores: [string, () => IdempotencyStore][] = [
  ["memory", () => new MemoryIdempotencyStore()],
  ["file", () => new FileIdempotencyStore(fs.mkdtempSync(path.join(dir, "f-")))],
  ["dynamodb", () => new DynamoIdempotencyStore(new DynamoDBClient({ region: "us-east-1" }), "uploads")],
];

describe.each(stores)("%s idempotency store", (_name, make) => {
  it("claims once; a second claim while leased is busy; a terminal record is done", async () => {
    const s = make();
    const r = rec();
    const a = await s.claim(r, 1000, LEASE);
    expect(a).toMatchObject({ outcome: "claimed", recovered: false, record: { status: "processing", leaseUntil: 1000 + LEASE, claims: 1, notified: false } });
    expect((await s.claim(r, 2000, LEASE)).outcome).toBe("busy");
    await s.update(r.id, { status: "submitted", jobId: "j1", jobName: "n1" }, 3000);
    const done = await s.claim(r, 4000 + LEASE * 10, LEASE);
    expect(done).toMatchObject({ outcome: "done", record: { status: "submitted", jobId: "j1", notified: false } });
    const got = await s.get(r.id);
    expect(got).toMatchObject({ ...r, status: "submitted", jobId: "j1", updatedAt: 3000, createdAt: 1000 });
  });

  it("an expired lease is recovered exactly once", async () => {
    const s = make();
    const r = rec();
    await s.claim(r, 0, LEASE);
    const later = LEASE + 1;
    const [x, y] = await Promise.all([s.claim(r, later, LEASE), s.claim(r, later, LEASE)]);
    const outcomes = [x.outcome, y.outcome].sort();
    expect(outcomes).toEqual(["busy", "claimed"]);
    const won = x.outcome === "claimed" ? x : y;
    expect(won).toMatchObject({ recovered: true, record: { claims: 2, leaseUntil: later + LEASE } });
  });

  it("release drops only a processing claim", async () => {
    const s = make();
    const r = rec();
    await s.claim(r, 0, LEASE);
    await s.release(r.id, 1);
    expect(await s.get(r.id)).toBeNull();
    expect((await s.claim(r, 2, LEASE)).outcome).toBe("claimed");
    await s.update(r.id, { status: "rejected", notified: true }, 3);
    await s.release(r.id, 4);
    expect(await s.get(r.id)).toMatchObject({ status: "rejected", notified: true });
  });

  it("update of a missing record fails", async () => {
    await expect(make().update("nope123", { notified: true }, 1)).rejects.toThrow();
  });
});

it("DynamoDB items carry a TTL and the key as pk", async () => {
  const s = new DynamoIdempotencyStore(new DynamoDBClient({ region: "us-east-1" }), "uploads");
  const r = rec();
  await s.claim(r, 86_400_000, LEASE);
  const item = dynamo.table.get(r.id)!;
  expect(item.pk).toBe(r.id);
  expect(item.expiresAt).toBe(86_400 + RECORD_TTL_DAYS * 86_400);
  expect(item).not.toHaveProperty("id");
});
