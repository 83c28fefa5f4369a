/**
 * `invites`: invitations into private rooms, always acting as the caller (RLS and the SQL
 * functions' checks apply). The invitee hears about a new invite in real time on `user:<id>`
 * from the database trigger, not from here.
 *
 * - `POST /invites` `{room_id, invitee_id | invitee_email}` → 201 `{invite}`
 * - `GET /invites?status=pending` → the caller's incoming invites with room and inviter names
 * - `GET /invites?room_id=…[&status=…]` → a room's invites (members only)
 * - `POST /invites/{id}/accept` → `{invite, membership}` (idempotent)
 * - `POST /invites/{id}/decline` → `{invite}`; `POST /invites/{id}/revoke` → `{invite}`
 */
import { z } from "zod";
import { type Caller, requireUser } from "../_shared/auth.ts";
import { asUser, type Tx } from "../_shared/db.ts";
import { ApiError } from "../_shared/errors.ts";
import { createHandler, json, route } from "../_shared/http.ts";
import {
  createInviteRequest,
  type Invite,
  type InviteWithNames,
  id,
  listInvitesQuery,
  type Membership,
} from "../_shared/schemas.ts";

const inviteParams = z.object({ id });

/** Invites with the names a user needs, newest first. `status` is the effective one (a lapsed pending invite reads `expired`). */
async function selectInvites(tx: Tx, where: { roomId?: string; mine?: boolean; status?: string }) {
  const rows = await tx<{ invite: InviteWithNames }[]>`
    select jsonb_build_object(
      'id', i.id, 'room_id', i.room_id, 'inviter_id', i.inviter_id, 'invitee_id', i.invitee_id,
      'invitee_email', i.invitee_email,
      'status', s.status, 'created_at', i.created_at, 'responded_at', i.responded_at, 'expires_at', i.expires_at,
      'room', jsonb_build_object('id', r.id, 'name', r.name),
      'inviter', case when inviter.id is null then null
                      else jsonb_build_object('id', inviter.id, 'display_name', inviter.display_name) end,
      'invitee', case when invitee.id is null then null
                      else jsonb_build_object('id', invitee.id, 'display_name', invitee.display_name) end
    ) as invite
    from roomkit.room_invites i
    cross join lateral (select case when i.status = 'pending' and i.expires_at <= now()
                                    then 'expired' else i.status::text end as status) s
    join roomkit.rooms r on r.id = i.room_id
    left join roomkit.profiles invitee on invitee.id = i.invitee_id
    left join roomkit.profiles inviter on inviter.id = i.inviter_id
    where (${where.roomId ?? null}::uuid is null or i.room_id = ${where.roomId ?? null}::uuid)
      and (not ${where.mine ?? false}::boolean or roomkit_private.is_my_invite(i))
      and (${where.status ?? null}::text is null or s.status = ${where.status ?? null}::text)
    order by i.created_at desc, i.id desc
    limit 500`;
  return rows.map((r) => r.invite);
}

async function inviteById(tx: Tx, inviteId: string): Promise<Invite> {
  const [row] = await tx<
    { invite: Invite }[]
  >`select to_jsonb(i) as invite from roomkit.room_invites i where i.id = ${inviteId}`;
  if (!row) throw new ApiError("invite_not_found", "Invite not found");
  return row.invite;
}

const createInvite = route({
  method: "POST",
  path: "/",
  body: createInviteRequest,
  auth: requireUser,
  async run({ body, caller }) {
    const invite = await asUser(caller, async (tx) => {
      const [row] = await tx<{ invite: Invite }[]>`
        select to_jsonb(i) as invite
        from roomkit.send_invite(${body.room_id}::uuid, ${body.invitee_id ?? null}::uuid, ${body.invitee_email ?? null}::text) i`;
      return row!.invite;
    });
    return json(201, { invite });
  },
});

const listInvites = route({
  method: "GET",
  path: "/",
  query: listInvitesQuery,
  auth: requireUser,
  async run({ query, caller }) {
    const invites = await asUser(caller, async (tx) => {
      if (query.room_id === undefined)
        return selectInvites(tx, { mine: true, status: query.status ?? "pending" });
      const [room] = await tx<{ member: boolean }[]>`
        select roomkit_private.is_room_member(r.id) as member from roomkit.rooms r where r.id = ${query.room_id}`;
      if (!room) throw new ApiError("room_not_found", "Room not found");
      if (!room.member) throw new ApiError("not_member", "Only members can see a room's invites");
      return selectInvites(tx, { roomId: query.room_id, status: query.status });
    });
    return json(200, { invites });
  },
});

/** One invite action through its SQL function (which locks the invite and checks the caller). */
function inviteAction(action: "accept" | "decline" | "revoke") {
  return route({
    method: "POST",
    path: `/:id/${action}`,
    params: inviteParams,
    auth: requireUser,
    async run({ params, caller }: { params: { id: string }; caller: Caller }) {
      const result = await asUser(caller, async (tx) => {
        if (action === "accept") {
          const [row] = await tx<{ membership: Membership }[]>`
            select to_jsonb(m) as membership from roomkit.accept_invite(${params.id}::uuid) m`;
          return { invite: await inviteById(tx, params.id), membership: row!.membership };
        }
        const [row] =
          action === "decline"
            ? await tx<
                { invite: Invite }[]
              >`select to_jsonb(i) as invite from roomkit.decline_invite(${params.id}::uuid) i`
            : await tx<
                { invite: Invite }[]
              >`select to_jsonb(i) as invite from roomkit.revoke_invite(${params.id}::uuid) i`;
        return { invite: row!.invite };
      });
      return json(200, result);
    },
  });
}

export const handler = createHandler("invites", [
  createInvite,
  listInvites,
  inviteAction("accept"),
  inviteAction("decline"),
  inviteAction("revoke"),
]);

if (import.meta.main) Deno.serve(handler);
