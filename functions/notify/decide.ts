/**
 * What `notify` decides about one claimed notification before sending anything: pure, so it reads
 * (and is tested) on its own.
 */
import type { NotificationKind } from "../_shared/contract.ts";

/** One claimed notification, as `roomkit_private.claim_notifications` describes it. */
export interface Claimed {
  id: number;
  kind: NotificationKind;
  attempts: number;
  room: { id: string; name: string; kind: string };
  actor_name: string | null;
  recipient: {
    id: string | null;
    email: string | null;
    has_account: boolean;
    invites: boolean;
    mentions: boolean;
    ai_replies: boolean;
  };
  invite: { id: string; pending: boolean } | null;
  message: { id: string; body: string | null; deleted: boolean } | null;
  in_room: boolean;
  read: boolean;
}

/**
 * Why a claimed notification is not sent, if it is not: the invite was answered, revoked or
 * expired; the message deleted; the recipient left the room or read the message meanwhile, or
 * switched this kind off. A coworking participant is present by definition (the membership ends
 * when they leave or their heartbeat stops), so mentions there are never pushed. An invite to an
 * address without an account has no preferences yet.
 *
 * @example
 * skipReason(claimed) ?? send(claimed);
 */
export function skipReason(n: Claimed): string | undefined {
  if (n.kind === "invite") {
    if (!n.invite?.pending) return "invite_not_pending";
    return n.recipient.has_account && !n.recipient.invites ? "preference" : undefined;
  }
  if (!n.message || n.message.deleted) return "message_deleted";
  if (!n.in_room) return "not_in_room";
  if (n.room.kind === "coworking") return "present";
  if (n.read) return "read";
  const wanted = n.kind === "mention" ? n.recipient.mentions : n.recipient.ai_replies;
  return wanted ? undefined : "preference";
}
