/**
 * What each notification says, the same words by push and by mail. Message text is cut short, and
 * the app link is `<ROOMKIT_APP_URL>#/rooms/<id>` (or `#/invites`), the reference app's routes.
 */
import type { NotificationKind, PushPayload } from "../_shared/contract.ts";
import { type Email, escapeHtml } from "../_shared/email.ts";

/** Longest message excerpt in a push or a mail (characters). */
const EXCERPT = 180;

export interface Subject {
  kind: NotificationKind;
  room: { id: string; name: string };
  actorName: string | null;
  messageBody: string | null;
}

function excerpt(text: string | null): string {
  const flat = (text ?? "").replace(/\s+/g, " ").trim();
  return flat.length > EXCERPT ? `${flat.slice(0, EXCERPT - 1)}…` : flat;
}

/**
 * The push payload.
 *
 * @example
 * composePush({ kind: "mention", room, actorName: "Ada", messageBody: "@Bob look" }).title; // "Ada mentioned you in Book club"
 */
export function composePush(s: Subject): PushPayload {
  const actor = s.actorName ?? "Someone";
  const room = s.room.name;
  if (s.kind === "invite") {
    return {
      kind: s.kind,
      title: `${actor} invited you to ${room}`,
      body: "Open Roomkit to accept or decline.",
      url: "#/invites",
      tag: `invite:${s.room.id}`,
      room_id: s.room.id,
    };
  }
  return {
    kind: s.kind,
    title: s.kind === "mention" ? `${actor} mentioned you in ${room}` : `${actor} replied to you in ${room}`,
    body: excerpt(s.messageBody),
    url: `#/rooms/${s.room.id}`,
    tag: `room:${s.room.id}`,
    room_id: s.room.id,
  };
}

/**
 * The mail to someone who has an account (new addresses get Auth's invite mail instead).
 *
 * @example
 * composeEmail(subject, "ada@example.com", "https://app.example.com/");
 */
export function composeEmail(s: Subject, to: string, appUrl: string | undefined): Email {
  const push = composePush(s);
  const link = appUrl ? `${appUrl}${push.url}` : undefined;
  const text = [push.body, link ? `Open: ${link}` : "Open Roomkit to see it."].join("\n\n");
  const html = `<p>${escapeHtml(push.body)}</p>${
    link ? `<p><a href="${escapeHtml(link)}">Open ${escapeHtml(s.room.name)}</a></p>` : ""
  }`;
  return { to, subject: push.title, html, text };
}
