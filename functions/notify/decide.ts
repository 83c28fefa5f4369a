/**
 * What `notify` decides about one claimed notification before sending anything: pure, so it reads
 * (and is tested) on its own.
 */
import type { NotificationKind } from "../_shared/contract.ts";

/** One claimed notification, as `roomkit_private.claim_notifications` describes it. */
export interface Claimed {
  id: number;
  lease_id: string;
  kind: NotificationKind;
  attempts: number;
  room: { id: string; name: string; kind: string };
  actor_name: string | null;
  recipient: {
    /** The user, or the one who holds the invited address, confirmed. */
    id: string | null;
    /** Their confirmed email, if any. */
    email: string | null;
    /** The invited address (invites by email). */
    address: string | null;
    /** What the address is to Auth when no user holds it confirmed. */
    address_state: "none" | "invited" | "unconfirmed" | null;
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
 * How a notification goes out: skipped (with the reason), or by push to the user's browsers and by
 * one kind of mail: `member` (a notification through the email API to a confirmed address),
 * `auth_invite` (Auth's invite mail, which signs a new person up), `plain` (a notification through
 * the email API with no sign-in link, to an address someone signed up with but never confirmed:
 * an Auth invite there would confirm an account whose password someone else chose).
 */
export type Plan = { skip: string } | { push: boolean; mail: "member" | "auth_invite" | "plain" | null };

/**
 * Decides. Skipped: an invite answered, revoked or expired before sending; a deleted message; a
 * recipient who left the room or read the message meanwhile, or switched this kind off (checked
 * again here: it may have changed since the notification was queued); mentions in coworking rooms,
 * whose participants are there by definition.
 *
 * @example
 * const plan = planDelivery(claimed);
 * if ("skip" in plan) return;
 */
export function planDelivery(n: Claimed): Plan {
  const r = n.recipient;
  if (n.kind === "invite") {
    if (!n.invite?.pending) return { skip: "invite_not_pending" };
    if (r.id) return r.invites ? { push: true, mail: r.email ? "member" : null } : { skip: "preference" };
    if (!r.address) return { skip: "no_recipient" };
    if (r.address_state === "unconfirmed") return { push: false, mail: "plain" };
    return { push: false, mail: "auth_invite" };
  }
  if (!n.message || n.message.deleted) return { skip: "message_deleted" };
  if (!n.in_room) return { skip: "not_in_room" };
  if (n.room.kind === "coworking") return { skip: "present" };
  if (n.read) return { skip: "read" };
  const wanted = n.kind === "mention" ? r.mentions : r.ai_replies;
  return wanted ? { push: true, mail: r.email ? "member" : null } : { skip: "preference" };
}
