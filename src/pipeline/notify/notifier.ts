/**
 * Notifications to users. Every message names its user (derived from the upload key `incoming/<user>/...`)
 * as the SNS message attribute `user`, so a subscription can filter on it (`{"user": ["alice"]}`), and
 * its kind as `event`. Email subscribers get plain text; SQS, Lambda and HTTPS subscribers get JSON
 * (SNS MessageStructure "json").
 */
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";

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

export class SnsNotifier implements Notifier {
  constructor(readonly client: SNSClient, readonly topicArn: string) {}

  async publish(n: Notification): Promise<string | undefined> {
    const json = JSON.stringify({ user: n.user, event: n.kind, subject: n.subject, ...n.details });
    const r = await this.client.send(new PublishCommand({
      TopicArn: this.topicArn,
      Subject: snsSubject(n.subject),
      MessageStructure: "json",
      Message: JSON.stringify({ default: n.text, email: n.text, "email-json": json, sqs: json, lambda: json, http: json, https: json }),
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
