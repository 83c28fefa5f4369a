/**
 * Reading the local stack's inbox (Mailpit's JSON API: `/api/v1/search`, `/api/v1/message/{ID}`),
 * where Auth's mails and the mails functions send through the email API land.
 */
import { eventually } from "./wait.ts";

/** One mail as Mailpit's message endpoint gives it. */
export interface InboxMail {
  ID: string;
  Subject: string;
  To: { Address: string }[];
  Text: string;
  HTML: string;
}

/** The ids of the mails to `to` (with `subject`, when given), newest first; none is an empty list. */
export async function mailIds(inboxUrl: string, to: string, subject?: string): Promise<string[]> {
  const query = subject ? `to:${to} subject:"${subject}"` : `to:${to}`;
  const res = await fetch(`${inboxUrl}/api/v1/search?query=${encodeURIComponent(query)}`);
  return ((await res.json()) as { messages: { ID: string }[] }).messages.map((m) => m.ID);
}

/** One mail, by id. */
export async function mail(inboxUrl: string, id: string): Promise<InboxMail> {
  return (await (await fetch(`${inboxUrl}/api/v1/message/${id}`)).json()) as InboxMail;
}

/** The newest mail to `to` (with `subject`, when given), once it has arrived. */
export async function mailTo(inboxUrl: string, to: string, subject?: string): Promise<InboxMail> {
  const id = await eventually(
    async () => (await mailIds(inboxUrl, to, subject))[0],
    15_000,
    `a mail to ${to}`,
  );
  return mail(inboxUrl, id);
}

/** The link to Auth's `/verify` in a mail. */
export function verifyLink(m: InboxMail): string {
  const link = /https?:\/\/\S+\/auth\/v1\/verify\?\S+/.exec(m.Text)?.[0];
  if (!link) throw new Error(`no verify link in "${m.Subject}": ${m.Text}`);
  return link;
}
