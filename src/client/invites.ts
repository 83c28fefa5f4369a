import { DB_EVENTS, userTopic } from "../../functions/_shared/contract.ts";
import {
  acceptInviteResponse,
  createInviteResponse,
  inviteResponse,
  listInvitesQuery,
} from "../../functions/_shared/schemas.ts";
import { joinChannel, recordOf, type Subscription, subscriptionOf } from "./realtime.ts";
import {
  createInviteRequest,
  type Invite,
  type InviteStatus,
  type InviteTarget,
  type InviteWithNames,
  id,
  inviteTarget,
  listInvitesResponse,
  type Membership,
} from "./schemas.ts";
import { currentUserId, type Db, invoke, type Result, validate } from "./transport.ts";

/**
 * What `onInvite` reports: a new invite to me, or a change to one (accepted elsewhere, revoked, expired).
 *
 * @example
 * await roomkit.invites.onInvite(({ type, invite }) => {
 *   if (type === "insert") notify(invite.room_id);
 * });
 */
export interface InviteEvent {
  type: "insert" | "update";
  invite: Invite;
}

/**
 * Invitations into private rooms, through the `invites` edge function, and live notifications on
 * the caller's own `user:<id>` topic.
 *
 * @example
 * await roomkit.invites.send(roomId, { invitee_email: "bob@example.com" });
 * const { data: pending } = await roomkit.invites.listPending();
 */
export class InvitesClient {
  /** @internal */
  constructor(private readonly db: Db) {}

  /**
   * Invites a user by id or email into a private room the caller is in.
   * Errors: `user_not_found`, `already_member`, `invite_exists`, `not_member`.
   *
   * @example
   * const { data: invite, error } = await roomkit.invites.send(roomId, { invitee_id: bobId });
   */
  async send(roomId: string, target: InviteTarget): Promise<Result<Invite>> {
    const validTarget = validate(inviteTarget, target);
    if (validTarget.error) return validTarget;
    const body = validate(createInviteRequest, { room_id: roomId, ...validTarget.data });
    if (body.error) return body;
    const result = await invoke(
      this.db,
      "invites",
      { method: "POST", body: body.data },
      createInviteResponse,
    );
    return result.error ? result : { data: result.data.invite, error: null };
  }

  /**
   * My incoming invites with the room's and inviter's names (default: pending ones).
   *
   * @example
   * const { data } = await roomkit.invites.listPending();
   * data?.forEach((i) => console.log(`${i.inviter?.display_name} invites you to ${i.room.name}`));
   */
  async listPending(): Promise<Result<InviteWithNames[]>> {
    return this.list({ status: "pending" });
  }

  /**
   * Invites by status, mine (incoming) or, with `room_id`, a room's (members only).
   *
   * @example
   * const { data } = await roomkit.invites.list({ room_id: roomId, status: "pending" });
   */
  async list(filter: { status?: InviteStatus; room_id?: string } = {}): Promise<Result<InviteWithNames[]>> {
    const valid = validate(listInvitesQuery, filter);
    if (valid.error) return valid;
    const params = new URLSearchParams();
    if (valid.data.status) params.set("status", valid.data.status);
    if (valid.data.room_id) params.set("room_id", valid.data.room_id);
    const qs = params.toString();
    const result = await invoke(
      this.db,
      `invites${qs ? `?${qs}` : ""}`,
      { method: "GET" },
      listInvitesResponse,
    );
    return result.error ? result : { data: result.data.invites, error: null };
  }

  /**
   * Accepts an invite addressed to me; I become a member. Idempotent.
   * Errors: `invite_not_found`, `invite_expired`, `invite_revoked`, `invite_declined`.
   *
   * @example
   * const { data } = await roomkit.invites.accept(inviteId);
   * data?.membership.room_id;
   */
  async accept(inviteId: string): Promise<Result<{ invite: Invite; membership: Membership }>> {
    const valid = validate(id, inviteId);
    if (valid.error) return valid;
    return invoke(this.db, `invites/${inviteId}/accept`, { method: "POST" }, acceptInviteResponse);
  }

  /**
   * Declines an invite addressed to me.
   *
   * @example
   * await roomkit.invites.decline(inviteId);
   */
  async decline(inviteId: string): Promise<Result<Invite>> {
    const result = await this.act(inviteId, "decline");
    return result.error ? result : { data: result.data.invite, error: null };
  }

  /**
   * Revokes a pending invite (its inviter, or a room owner/admin).
   *
   * @example
   * await roomkit.invites.revoke(inviteId);
   */
  async revoke(inviteId: string): Promise<Result<Invite>> {
    const result = await this.act(inviteId, "revoke");
    return result.error ? result : { data: result.data.invite, error: null };
  }

  /**
   * Calls `callback` for every invite sent to me from now on, and for changes to my invites.
   * Resolves once listening (so an invite sent after it resolves is never missed); after a
   * reconnect, pending invites are re-read and the ones not yet reported are reported.
   *
   * @example
   * const { data: sub } = await roomkit.invites.onInvite(({ type, invite }) => {
   *   if (type === "insert") showInviteToast(invite);
   * });
   * // later
   * await sub?.unsubscribe();
   */
  async onInvite(callback: (event: InviteEvent) => void): Promise<Result<Subscription>> {
    if (typeof callback !== "function")
      throw new TypeError("onInvite(callback): callback must be a function");
    const me = await currentUserId(this.db);
    if (me.error) return me;
    const seen = new Set<string>();
    const report = (type: InviteEvent["type"], invite: Invite | undefined) => {
      if (!invite) return;
      if (type === "insert") {
        if (seen.has(invite.id)) return;
        seen.add(invite.id);
      }
      callback({ type, invite });
    };
    const joined = await joinChannel(
      this.db,
      userTopic(me.data),
      { config: { private: true } },
      (channel) => {
        channel.on("broadcast", { event: DB_EVENTS.inviteInsert }, (m) =>
          report("insert", recordOf(m.payload)),
        );
        channel.on("broadcast", { event: DB_EVENTS.inviteUpdate }, (m) =>
          report("update", recordOf(m.payload)),
        );
      },
      {
        onStatus: (status) => {
          if (status !== "SUBSCRIBED") return;
          // Broadcasts sent while disconnected are gone: catch up from the invites themselves.
          void this.listPending().then(({ data }) => {
            for (const invite of data ?? []) report("insert", stripNames(invite));
          });
        },
      },
    );
    if (joined.error) return joined;
    return { data: subscriptionOf(this.db, joined.data), error: null };
  }

  private async act(inviteId: string, verb: "decline" | "revoke"): Promise<Result<{ invite: Invite }>> {
    const valid = validate(id, inviteId);
    if (valid.error) return valid;
    return invoke(this.db, `invites/${inviteId}/${verb}`, { method: "POST" }, inviteResponse);
  }
}

function stripNames(invite: InviteWithNames): Invite {
  const { room: _room, inviter: _inviter, invitee: _invitee, ...row } = invite;
  return row;
}
