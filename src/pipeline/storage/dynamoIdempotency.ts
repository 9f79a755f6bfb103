/**
 * Idempotency records in DynamoDB (partition key `pk` = the record id, TTL attribute `expiresAt`). Every
 * transition is a conditional write, so concurrent deliveries of one upload cannot both claim it.
 */
import { ConditionalCheckFailedException, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { decide, type ClaimResult, type IdempotencyStore, type NewUploadRecord, type RecordPatch, type UploadRecord } from "./idempotency.js";

/** Records outlive any redelivery (SQS keeps messages 14 days at most); then DynamoDB's TTL removes them. */
export const RECORD_TTL_DAYS = 400;

function isConditionFailure(err: unknown): boolean {
  return err instanceof ConditionalCheckFailedException || (err as { name?: string }).name === "ConditionalCheckFailedException";
}

export class DynamoIdempotencyStore implements IdempotencyStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(client: DynamoDBClient, readonly table: string) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  private item(r: UploadRecord): Record<string, unknown> {
    const { id, ...rest } = r;
    return { pk: id, ...rest, expiresAt: Math.floor(r.createdAt / 1000) + RECORD_TTL_DAYS * 86_400 };
  }

  private record(item: Record<string, unknown>): UploadRecord {
    const { pk, expiresAt: _ttl, ...rest } = item;
    return { id: pk as string, ...(rest as Omit<UploadRecord, "id">) };
  }

  async get(id: string): Promise<UploadRecord | null> {
    const r = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: id }, ConsistentRead: true }));
    return r.Item ? this.record(r.Item) : null;
  }

  async claim(r: NewUploadRecord, now: number, leaseMs: number): Promise<ClaimResult> {
    const record: UploadRecord = { ...r, status: "processing", leaseUntil: now + leaseMs, claims: 1, notified: false, createdAt: now, updatedAt: now };
    try {
      await this.doc.send(new PutCommand({ TableName: this.table, Item: this.item(record), ConditionExpression: "attribute_not_exists(pk)" }));
      return { outcome: "claimed", record, recovered: false };
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
    const existing = await this.get(r.id);
    if (!existing) throw new Error(`idempotency: record ${r.id} vanished during a claim (retry)`);
    const d = decide(existing, now, leaseMs);
    if (d.outcome !== "claimed") return d;
    try {
      // Take over only the lease we saw expire: two recoverers cannot both win.
      await this.doc.send(new UpdateCommand({
        TableName: this.table,
        Key: { pk: r.id },
        UpdateExpression: "SET leaseUntil = :lease, claims = :claims, updatedAt = :now",
        ConditionExpression: "#s = :processing AND leaseUntil = :old",
        ExpressionAttributeNames: { "#s": "status" },
        ExpressionAttributeValues: { ":lease": d.record.leaseUntil, ":claims": d.record.claims, ":now": now, ":processing": "processing", ":old": existing.leaseUntil },
      }));
      return d;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const now2 = await this.get(r.id);
      return now2 && now2.status !== "processing" ? { outcome: "done", record: now2 } : { outcome: "busy", record: now2 ?? existing };
    }
  }

  async update(id: string, patch: RecordPatch, now: number): Promise<UploadRecord> {
    const fields = Object.entries({ ...patch, updatedAt: now }).filter(([, v]) => v !== undefined);
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets = fields.map(([k, v], i) => {
      names[`#f${i}`] = k;
      values[`:v${i}`] = v;
      return `#f${i} = :v${i}`;
    });
    const r = await this.doc.send(new UpdateCommand({
      TableName: this.table,
      Key: { pk: id },
      UpdateExpression: `SET ${sets.join(", ")}`,
      ConditionExpression: "attribute_exists(pk)",
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValues: "ALL_NEW",
    }));
    return this.record(r.Attributes ?? {});
  }

  async release(id: string): Promise<void> {
    try {
      await this.doc.send(new DeleteCommand({
        TableName: this.table,
        Key: { pk: id },
        ConditionExpression: "#s = :processing",
        ExpressionAttributeNames: { "#s": "status" },
        ExpressionAttributeValues: { ":processing": "processing" },
      }));
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }
}
