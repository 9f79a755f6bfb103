/**
 * Notifications to users. Every message names its user (derived from the upload key `incoming/<user>/...`)
 * as the SNS message attribute `user`, so a subscription can filter on it (`{"user": ["alice"]}`), and
 * its kind as `event`. Email subscribers get plain text; SQS, Lambda and HTTPS subscribers get JSON
 * (SNS MessageStructure "json"). Control and bidirectional characters from keys and names are escaped, and
 * every message fits SNS's 256 KiB (snsMessage).
 */
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import { clip, safeJson, safeLines } from "../../scan/safeText.js";

export type NotificationKind = "rejected" | "submitted" | "succeeded" | "failed";

export interface Notification {
  user: string;
  kind: NotificationKind;
  /** One line (SNS: at most 100 characters, shortened here). */
  subject: string;
  /** Plain text for people. */
  text: string;
  /** Machine-readable details. */
  details: Record<string, unknown>;
}

export interface Notifier {
  /** Returns the message id where the transport has one. */
  publish(n: Notification): Promise<string | undefined>;
}

/** SNS subjects: ASCII printable, no line breaks, at most 100 characters. */
export function snsSubject(subject: string): string {
  const clean = subject.replace(/[\r\n\t]+/g, " ").replace(/[^\x20-\x7e]/g, "?").trim();
  return clean.length <= 100 ? clean : `${clean.slice(0, 97)}...`;
}

/** A user name safe as an SNS attribute value and in messages (anything odd becomes "_unknown"). */
export function attributeUser(user: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(user) ? user : "_unknown";
}

/** SNS's limit on a published message, attributes and subject included (256 KiB). */
export const SNS_MAX_BYTES = 256 * 1024;
/** What the message body may take: the limit less room for the subject, attributes and request. */
const MESSAGE_BUDGET = SNS_MAX_BYTES - 4096;

/** Shortens a string value of the details to `max` characters, and a list to its first `items` entries. */
function compact(value: unknown, max: number, items: number): unknown {
  if (typeof value === "string") return clip(value, max);
  if (Array.isArray(value)) {
    const kept = value.slice(0, items).map((v) => compact(v, max, items));
    return value.length > items ? [...kept, `... and ${value.length - items} more (see the linked report)`] : kept;
  }
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, compact(v, max, items)]));
  return value;
}

/**
 * The SNS message (MessageStructure "json": the text for e-mail, JSON for the other protocols), escaped
 * (safeText.ts) and within SNS's 256 KiB whatever the notification holds: too large, its details are
 * compacted, then its text shortened with a note. A publish that SNS would refuse means a user who hears
 * nothing.
 */
export function snsMessage(n: Notification): { message: string; shortened: boolean } {
  const build = (text: string, details: Record<string, unknown>) => {
    const json = safeJson({ user: n.user, event: n.kind, subject: n.subject, ...details });
    const body = safeLines(text);
    return JSON.stringify({ default: body, email: body, "email-json": json, sqs: json, lambda: json, http: json, https: json });
  };
  const fits = (m: string) => Buffer.byteLength(m, "utf8") <= MESSAGE_BUDGET;
  let message = build(n.text, n.details);
  if (fits(message)) return { message, shortened: false };
  let details = { ...(compact(n.details, 500, 20) as Record<string, unknown>), shortened: true };
  message = build(n.text, details);
  if (fits(message)) return { message, shortened: true };
  details = { ...(compact(n.details, 200, 5) as Record<string, unknown>), shortened: true };
  for (let keep = n.text.length; keep > 0; keep = Math.floor(keep / 2)) {
    message = build(`${n.text.slice(0, keep)}\n\n... (message shortened to fit a notification: the full details are in the linked report)`, details);
    if (fits(message)) return { message, shortened: true };
  }
  return { message: build("(message too large to send: see the run's folder)", { shortened: true }), shortened: true };
}

export class SnsNotifier implements Notifier {
  constructor(readonly client: SNSClient, readonly topicArn: string) {}

  async publish(n: Notification): Promise<string | undefined> {
    const r = await this.client.send(new PublishCommand({
      TopicArn: this.topicArn,
      Subject: snsSubject(n.subject),
      MessageStructure: "json",
      Message: snsMessage(n).message,
      MessageAttributes: {
        user: { DataType: "String", StringValue: attributeUser(n.user) },
        event: { DataType: "String", StringValue: n.kind },
      },
    }));
    return r.MessageId;
  }
}

/** Keeps what was published (tests, local runs). */
export class MemoryNotifier implements Notifier {
  readonly sent: Notification[] = [];
  async publish(n: Notification): Promise<string> {
    this.sent.push(n);
    return `local-${this.sent.length}`;
  }
}
