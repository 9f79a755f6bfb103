/**
 * Just enough of DynamoDB (JSON 1.0), Batch (REST JSON) and SNS (query) on 127.0.0.1 for the bundled
 * Lambda to run end to end in a child process (pointed here with AWS_ENDPOINT_URL_<SERVICE>). Records what
 * it was asked. DynamoDB evaluates the idempotency store's conditions; items stay in DynamoDB JSON.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

type AttrValue = Record<string, unknown>;
type Item = Record<string, AttrValue>;

export interface FakeAws {
  endpoint: string;
  submits: { jobName: string; jobQueue: string; jobDefinition: string; parameters: Record<string, string> }[];
  publishes: Record<string, string>[];
  items: Map<string, Item>;
  close(): Promise<void>;
}

function conditionFailed(res: http.ServerResponse): void {
  res.writeHead(400, { "content-type": "application/x-amz-json-1.0" });
  res.end(JSON.stringify({ __type: "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", message: "The conditional request failed" }));
}

export async function startFakeAws(): Promise<FakeAws> {
  const submits: FakeAws["submits"] = [];
  const publishes: FakeAws["publishes"] = [];
  const items = new Map<string, Item>();
  let jobs = 0;

  const dynamo = (target: string, body: Record<string, any>, res: http.ServerResponse) => {
    const json = (o: unknown) => {
      res.writeHead(200, { "content-type": "application/x-amz-json-1.0" });
      res.end(JSON.stringify(o));
    };
    const pk = (body.Key ?? body.Item)?.pk?.S as string;
    const item = items.get(pk);
    const values = body.ExpressionAttributeValues ?? {};
    switch (target) {
      case "GetItem":
        return json(item ? { Item: item } : {});
      case "PutItem":
        if (body.ConditionExpression === "attribute_not_exists(pk)" && item) return conditionFailed(res);
        items.set(pk, body.Item);
        return json({});
      case "UpdateItem": {
        const cond = body.ConditionExpression as string;
        if (cond === "attribute_exists(pk)" && !item) return conditionFailed(res);
        if (cond?.startsWith("#s = :processing") && (item?.status?.S !== "processing" || item?.leaseUntil?.N !== values[":old"]?.N)) return conditionFailed(res);
        const next: Item = { ...item };
        for (const part of (body.UpdateExpression as string).replace(/^SET /, "").split(", ")) {
          const [lhs, rhs] = part.split(" = ");
          next[body.ExpressionAttributeNames?.[lhs] ?? lhs] = values[rhs];
        }
        items.set(pk, next);
        return json({ Attributes: next });
      }
      case "DeleteItem":
        if (item?.status?.S !== "processing") return conditionFailed(res);
        items.delete(pk);
        return json({});
      default:
        res.writeHead(400);
        res.end(JSON.stringify({ __type: "UnknownOperationException" }));
    }
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const target = String(req.headers["x-amz-target"] ?? "");
      if (target.startsWith("DynamoDB_20120810.")) return dynamo(target.split(".")[1], JSON.parse(raw), res);
      if (req.url === "/v1/submitjob") {
        const b = JSON.parse(raw);
        submits.push(b);
        jobs += 1;
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ jobId: `fake-job-${jobs}`, jobName: b.jobName, jobArn: `arn:aws:batch:us-east-1:123456789012:job/fake-job-${jobs}` }));
      }
      if (req.url === "/v1/listjobs") {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ jobSummaryList: [] }));
      }
      const form = Object.fromEntries(new URLSearchParams(raw));
      if (form.Action === "Publish") {
        publishes.push(form);
        res.writeHead(200, { "content-type": "text/xml" });
        return res.end(`<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>fake-msg-${publishes.length}</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>`);
      }
      res.writeHead(404);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    submits, publishes, items,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
