import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AI_USER_ID } from "../../functions/_shared/contract.ts";
import { ANON, as, rpc, rpcOk } from "../support/acting.ts";
import { createTestDatabase, type TestDatabase } from "../support/db.ts";
import { coworkingRoom, privateRoom } from "../support/rooms.ts";
import { insertUser, insertUsers, type User } from "../support/users.ts";

interface Invite {
  id: string;
  room_id: string;
  inviter_id: string;
  invitee_id: string;
  status: string;
}
interface Member {
  room_id: string;
  user_id: string;
  role: string;
  joined_at: Date;
  left_at: Date | null;
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

/** A fresh private room owned by a fresh user, plus a fresh user to invite. */
async function roomWithGuest(): Promise<{ owner: User; guest: User; roomId: string }> {
  const [owner, guest] = await insertUsers(db.sql, [{ name: "Owner" }, { name: "Guest" }]);
  return { owner: owner!, guest: guest!, roomId: await privateRoom(db.sql, owner!, { name: "Invites" }) };
}

async function invite(from: User, roomId: string, to: User): Promise<Invite> {
  return rpcOk<Invite>(db.sql, from, "send_invite", { room_id: roomId, invitee_id: to.id });
}

async function addMember(owner: User, roomId: string, role: "member" | "admin" = "member"): Promise<User> {
  const u = await insertUser(db.sql, { name: role });
  const inv = await invite(owner, roomId, u);
  await rpcOk(db.sql, u, "accept_invite", { invite_id: inv.id });
  if (role === "admin")
    await rpcOk(db.sql, owner, "set_member_role", { room_id: roomId, user_id: u.id, role });
  return u;
}

async function statusOf(inviteId: string): Promise<string | undefined> {
  const [row] = await db.sql<
    { status: string }[]
  >`select status from roomkit.room_invites where id = ${inviteId}`;
  return row?.status;
}

async function expire(inviteId: string): Promise<void> {
  await db.sql`update roomkit.room_invites set expires_at = now() - interval '1 second' where id = ${inviteId}`;
}

describe("sending invites", () => {
  it("when a member invites by id, then the invitee gets a pending invite that expires in 7 days", async () => {
    const { owner, guest, roomId } = await roomWithGuest();
    const inv = await invite(owner, roomId, guest);
    expect(inv).toMatchObject({
      room_id: roomId,
      inviter_id: owner.id,
      invitee_id: guest.id,
      status: "pending",
    });
    const [row] = await db.sql<{ days: number }[]>`
      select round(extract(epoch from expires_at - created_at) / 86400)::int as days from roomkit.room_invites where id = ${inv.id}`;
    expect(row?.days).toBe(7);
  });

  it("when a member invites an address in another letter case, then its holder sees the invite and accepting fills in who they are", async () => {
    const { owner, guest, roomId } = await roomWithGuest();
    const inv = await rpcOk<Invite>(db.sql, owner, "send_invite", {
      room_id: roomId,
      invitee_email: `  ${guest.email.toUpperCase()} `,
    });
    expect(inv).toMatchObject({
      invitee_id: null,
      invitee_email: guest.email.toLowerCase(),
      status: "pending",
    });
    const seen = await as(
      db.sql,
      guest,
      (tx) => tx`select id from roomkit.room_invites where id = ${inv.id}`,
    );
    expect(seen).toHaveLength(1);
    await rpcOk(db.sql, guest, "accept_invite", { invite_id: inv.id });
    const [row] = await db.sql`select invitee_id, status from roomkit.room_invites where id = ${inv.id}`;
    expect(row).toEqual({ invitee_id: guest.id, status: "accepted" });
  });

  it("when an address is invited, then the answer has the same shape whether or not anyone has it, and nobody else sees it", async () => {
    const { owner, guest, roomId } = await roomWithGuest();
    const known = await rpc<Invite>(db.sql, owner, "send_invite", {
      room_id: roomId,
      invitee_email: guest.email,
    });
    const unknown = await rpc<Invite>(db.sql, owner, "send_invite", {
      room_id: roomId,
      invitee_email: "nobody-at-all@example.test",
    });
    const shape = (r: typeof known) =>
      r.ok ? Object.entries(r.value[0] ?? {}).map(([k, v]) => [k, v === null ? null : typeof v]) : r.error;
    expect(shape(unknown)).toEqual(shape(known));
    const outsider = await insertUser(db.sql);
    const visible = await as(
      db.sql,
      outsider,
      (tx) => tx`select id from roomkit.room_invites where room_id = ${roomId}`,
    );
    expect(visible).toEqual([]);
  });

  it("when someone signs up later with an invited address, then the invite is waiting for them once the address is confirmed", async () => {
    const { owner, roomId } = await roomWithGuest();
    const email = `later-${crypto.randomUUID().slice(0, 8)}@example.test`;
    const inv = await rpcOk<Invite>(db.sql, owner, "send_invite", { room_id: roomId, invitee_email: email });
    const late = await insertUser(db.sql, { email });
    await db.sql`update auth.users set email_confirmed_at = null where id = ${late.id}`;
    expect(await rpc(db.sql, late, "accept_invite", { invite_id: inv.id })).toMatchObject({
      ok: false,
      error: { hint: "invite_not_found" },
    });
    await db.sql`update auth.users set email_confirmed_at = now() where id = ${late.id}`;
    expect((await rpc(db.sql, late, "accept_invite", { invite_id: inv.id })).ok).toBe(true);
  });

  it("when the same user is invited twice while the first invite is pending, then PT409 invite_exists", async () => {
    const { owner, guest, roomId } = await roomWithGuest();
    await invite(owner, roomId, guest);
    const again = await rpc(db.sql, owner, "send_invite", { room_id: roomId, invitee_id: guest.id });
    expect(again).toMatchObject({ ok: false, error: { code: "PT409", hint: "invite_exists" } });
    const [{ n } = { n: -1 }] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from roomkit.room_invites where room_id = ${roomId} and invitee_id = ${guest.id}`;
    expect(n).toBe(1);
  });

  it("when the invitee id does not exist, then PT404 user_not_found", async () => {
    const { owner, roomId } = await roomWithGuest();
    const r = await rpc(db.sql, owner, "send_invite", { room_id: roomId, invitee_id: crypto.randomUUID() });
    expect(r).toMatchObject({ ok: false, error: { code: "PT404", hint: "user_not_found" } });
  });

  it("when someone invites the AI participant, then PT404 user_not_found", async () => {
    const { owner, roomId } = await roomWithGuest();
    const r = await rpc(db.sql, owner, "send_invite", { room_id: roomId, invitee_id: AI_USER_ID });
    expect(r).toMatchObject({ ok: false, error: { code: "PT404", hint: "user_not_found" } });
  });

  it("when someone invites into a room they are not in, then 42501 not_member and nothing is written", async () => {
    const { guest, roomId } = await roomWithGuest();
    const stranger = await insertUser(db.sql, { name: "Stranger" });
    const r = await rpc(db.sql, stranger, "send_invite", { room_id: roomId, invitee_id: guest.id });
    expect(r).toMatchObject({ ok: false, error: { code: "42501", hint: "not_member" } });
    const [{ n } = { n: -1 }] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from roomkit.room_invites where room_id = ${roomId}`;
    expect(n).toBe(0);
  });

  it("when a former member invites, then 42501 not_member", async () => {
    const { owner, guest, roomId } = await roomWithGuest();
    const former = await addMember(owner, roomId);
    await rpcOk(db.sql, former, "leave_room", { room_id: roomId });
    const r = await rpc(db.sql, former, "send_invite", { room_id: roomId, invitee_id: guest.id });
    expect(r).toMatchObject({ ok: false, error: { code: "42501", hint: "not_member" } });
  });

  it("when someone invites into a room that does not exist or is a coworking room, then PT404 room_not_found", async () => {
    const { owner, guest } = await roomWithGuest();
    const coworking = await coworkingRoom(db.sql);
    for (const roomId of [crypto.randomUUID(), coworking]) {
      const r = await rpc(db.sql, owner, "send_invite", { room_id: roomId, invitee_id: guest.id });
      expect(r).toMatchObject({ ok: false, error: { code: "PT404", hint: "room_not_found" } });
    }
  });

  it("when someone invites an active member, then PT409 already_member", async () => {
    const { owner, roomId } = await roomWithGuest();
    const member = await addMember(owner, roomId);
    const r = await rpc(db.sql, owner, "send_invite", { room_id: roomId, invitee_id: member.id });
    expect(r).toMatchObject({ ok: false, error: { code: "PT409", hint: "already_member" } });
  });

  it("when someone invites themselves or gives both or neither of id and email, then 22023 invalid_input", async () => {
    const { owner, guest, roomId } = await roomWithGuest();
    for (const args of [
      { room_id: roomId, invitee_id: owner.id },
      { room_id: roomId, invitee_id: guest.id, invitee_email: guest.email },
      { room_id: roomId },
    ]) {
      expect(await rpc(db.sql, owner, "send_invite", args)).toMatchObject({
        ok: false,
        error: { code: "22023", hint: "invalid_input" },
      });
    }
  });

  it("when anon calls send_invite, then 42501 (no execute right; PostgREST answers 401)", async () => {
    const { guest, roomId } = await roomWithGuest();
    const r = await rpc(db.sql, ANON, "send_invite", { room_id: roomId, invitee_id: guest.id });
    expect(r).toMatchObject({ ok: false, error: { code: "42501" } });
  });
});

describe("accepting and declining", () => {
  it("when the invitee accepts, then they are a member, the room is visible and one joined message is posted", async () => {
    const { owner, guest, roomId } = await roomWithGuest();
    const inv = await invite(owner, roomId, guest);
    const m = await rpcOk<Member>(db.sql, guest, "accept_invite", { invite_id: inv.id });
    expect(m).toMatchObject({ room_id: roomId, user_id: guest.id, role: "member", left_at: null });
    expect(await statusOf(inv.id)).toBe("accepted");
    const [msg] = await db.sql<{ body: string; n: number }[]>`
      select max(body) as body, count(*)::int as n from roomkit.room_messages
      where room_id = ${roomId} and kind = 'system' and metadata ->> 'event' = 'joined'`;
    expect(msg).toEqual({ body: "Guest joined", n: 1 });
  });

  it("when the invitee accepts twice, then the second call returns the same membership and posts nothing", async () => {
    const { owner, guest, roomId } = await roomWithGuest();
    const inv = await invite(owner, roomId, guest);
    const first = await rpcOk<Member>(db.sql, guest, "accept_invite", { invite_id: inv.id });
    const second = await rpcOk<Member>(db.sql, guest, "accept_invite", { invite_id: inv.id });
    expect(second).toEqual(first);
    const [{ n } = { n: -1 }] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from roomkit.room_messages where room_id = ${roomId} and kind = 'system'`;
    expect(n).toBe(1);
  });

  it("when someone accepts another user's invite, then PT404 invite_not_found and the invite stays pending", async () => {
    const { owner, guest, roomId } = await roomWithGuest();
    const inv = await invite(owner, roomId, guest);
    const thief = await insertUser(db.sql, { name: "Thief" });
    for (const who of [thief, owner]) {
      const r = await rpc(db.sql, who, "accept_invite", { invite_id: inv.id });
      expect(r).toMatchObject({ ok: false, error: { code: "PT404", hint: "invite_not_found" } });
    }
    expect(await statusOf(inv.id)).toBe("pending");
  });

  it("when an unknown invite id is accepted, then PT404 invite_not_found", async () => {
    const guest = await insertUser(db.sql);
    const r = await rpc(db.sql, guest, "accept_invite", { invite_id: crypto.randomUUID() });
    expect(r).toMatchObject({ ok: false, error: { code: "PT404", hint: "invite_not_found" } });
  });

  // The failing call cannot persist status = 'expired' itself: PostgREST rolls the request's transaction
  // back on the error. Expiry is therefore read from expires_at everywhere, and the status column
  // catches up on the next write (see the re-invite test below).
  it("when an expired invite is accepted or declined, then PT409 invite_expired and the room stays hidden", async () => {
    const { owner, guest, roomId } = await roomWithGuest();
    const inv = await invite(owner, roomId, guest);
    await expire(inv.id);
    for (const fn of ["accept_invite", "decline_invite"]) {
      const r = await rpc(db.sql, guest, fn, { invite_id: inv.id });
      expect(r).toMatchObject({ ok: false, error: { code: "PT409", hint: "invite_expired" } });
    }
    const [{ n } = { n: -1 }] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from roomkit.room_members where room_id = ${roomId} and user_id = ${guest.id}`;
    expect(n).toBe(0);
    expect(
      await as(db.sql, guest, (tx) => tx`select id from roomkit.rooms where id = ${roomId}`),
    ).toHaveLength(0);
  });

  it("when an invite expired, then a new invite to the same user works and can be accepted", async () => {
    const { owner, guest, roomId } = await roomWithGuest();
    const old = await invite(owner, roomId, guest);
    await expire(old.id);
    const fresh = await invite(owner, roomId, guest);
    expect(fresh.id).not.toBe(old.id);
    expect(await statusOf(old.id)).toBe("expired");
    await rpcOk(db.sql, guest, "accept_invite", { invite_id: fresh.id });
    expect(await statusOf(fresh.id)).toBe("accepted");
  });

  it("when a revoked invite is accepted, then PT409 invite_revoked", async () => {
    const { owner, guest, roomId } = await roomWithGuest();
    const inv = await invite(owner, roomId, guest);
    await rpcOk(db.sql, owner, "revoke_invite", { invite_id: inv.id });
    const r = await rpc(db.sql, guest, "accept_invite", { invite_id: inv.id });
    expect(r).toMatchObject({ ok: false, error: { code: "PT409", hint: "invite_revoked" } });
  });

  it("when an invite is declined and then accepted, then PT409 invite_declined and no membership", async () => {
    const { owner, guest, roomId } = await roomWithGuest();
    const inv = await invite(owner, roomId, guest);
    const declined = await rpcOk<Invite>(db.sql, guest, "decline_invite", { invite_id: inv.id });
    expect(declined.status).toBe("declined");
    expect(await rpcOk<Invite>(db.sql, guest, "decline_invite", { invite_id: inv.id })).toMatchObject({
      status: "declined",
    });
    const r = await rpc(db.sql, guest, "accept_invite", { invite_id: inv.id });
    expect(r).toMatchObject({ ok: false, error: { code: "PT409", hint: "invite_declined" } });
    const [{ n } = { n: -1 }] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from roomkit.room_members where room_id = ${roomId} and user_id = ${guest.id}`;
    expect(n).toBe(0);
  });

  it("when an invite was declined, then the same user can be invited again", async () => {
    const { owner, guest, roomId } = await roomWithGuest();
    const inv = await invite(owner, roomId, guest);
    await rpcOk(db.sql, guest, "decline_invite", { invite_id: inv.id });
    const again = await invite(owner, roomId, guest);
    expect(again.status).toBe("pending");
  });

  it("when an accepted invite is declined, then PT409 invite_accepted", async () => {
    const { owner, guest, roomId } = await roomWithGuest();
    const inv = await invite(owner, roomId, guest);
    await rpcOk(db.sql, guest, "accept_invite", { invite_id: inv.id });
    const r = await rpc(db.sql, guest, "decline_invite", { invite_id: inv.id });
    expect(r).toMatchObject({ ok: false, error: { code: "PT409", hint: "invite_accepted" } });
  });

  it("when a member who left is invited again, then accepting makes them a plain member again", async () => {
    const { owner, roomId } = await roomWithGuest();
    const admin = await addMember(owner, roomId, "admin");
    await rpcOk(db.sql, admin, "leave_room", { room_id: roomId });
    const inv = await invite(owner, roomId, admin);
    const m = await rpcOk<Member>(db.sql, admin, "accept_invite", { invite_id: inv.id });
    expect(m).toMatchObject({ role: "member", left_at: null });
  });

  it("when an invite was accepted and the member left, then accepting it again is PT409 invite_accepted", async () => {
    const { owner, guest, roomId } = await roomWithGuest();
    const inv = await invite(owner, roomId, guest);
    await rpcOk(db.sql, guest, "accept_invite", { invite_id: inv.id });
    await rpcOk(db.sql, guest, "leave_room", { room_id: roomId });
    const r = await rpc(db.sql, guest, "accept_invite", { invite_id: inv.id });
    expect(r).toMatchObject({ ok: false, error: { code: "PT409", hint: "invite_accepted" } });
  });
});

describe("revoking", () => {
  it.each([["the inviter (a plain member)"], ["an admin"], ["the owner"]])(
    "when %s revokes a pending invite, then it is revoked",
    async (who) => {
      const { owner, guest, roomId } = await roomWithGuest();
      const inviter = await addMember(owner, roomId);
      const inv = await invite(inviter, roomId, guest);
      const revoker = who.startsWith("the inviter")
        ? inviter
        : who === "an admin"
          ? await addMember(owner, roomId, "admin")
          : owner;
      const r = await rpcOk<Invite>(db.sql, revoker, "revoke_invite", { invite_id: inv.id });
      expect(r.status).toBe("revoked");
      expect(await statusOf(inv.id)).toBe("revoked");
    },
  );

  it("when a plain member who did not send it revokes an invite, then 42501 forbidden and it stays pending", async () => {
    const { owner, guest, roomId } = await roomWithGuest();
    const member = await addMember(owner, roomId);
    const inv = await invite(owner, roomId, guest);
    const r = await rpc(db.sql, member, "revoke_invite", { invite_id: inv.id });
    expect(r).toMatchObject({ ok: false, error: { code: "42501", hint: "forbidden" } });
    expect(await statusOf(inv.id)).toBe("pending");
  });

  it("when an outsider or the invitee revokes an invite, then PT404 invite_not_found", async () => {
    const { owner, guest, roomId } = await roomWithGuest();
    const inv = await invite(owner, roomId, guest);
    const outsider = await insertUser(db.sql);
    for (const who of [outsider, guest]) {
      const r = await rpc(db.sql, who, "revoke_invite", { invite_id: inv.id });
      expect(r).toMatchObject({ ok: false, error: { code: "PT404", hint: "invite_not_found" } });
    }
    expect(await statusOf(inv.id)).toBe("pending");
  });

  it("when an accepted invite is revoked, then PT409 invite_accepted and the member stays", async () => {
    const { owner, guest, roomId } = await roomWithGuest();
    const inv = await invite(owner, roomId, guest);
    await rpcOk(db.sql, guest, "accept_invite", { invite_id: inv.id });
    const r = await rpc(db.sql, owner, "revoke_invite", { invite_id: inv.id });
    expect(r).toMatchObject({ ok: false, error: { code: "PT409", hint: "invite_accepted" } });
  });

  it("when a member is removed, then the invites they sent are revoked and cannot bring anyone in", async () => {
    const { owner, guest, roomId } = await roomWithGuest();
    const removed = await addMember(owner, roomId);
    const theirs = await invite(removed, roomId, guest);
    const other = await insertUser(db.sql);
    const owners = await invite(owner, roomId, other);
    await rpcOk(db.sql, owner, "remove_member", { room_id: roomId, user_id: removed.id });
    expect(await statusOf(theirs.id)).toBe("revoked");
    const r = await rpc(db.sql, guest, "accept_invite", { invite_id: theirs.id });
    expect(r).toMatchObject({ ok: false, error: { code: "PT409", hint: "invite_revoked" } });
    const seen = await as(db.sql, guest, (tx) => tx`select id from roomkit.rooms where id = ${roomId}`);
    expect(seen).toHaveLength(0);
    // Invites sent by others stay valid.
    expect(await statusOf(owners.id)).toBe("pending");
  });

  it("when an invite is revoked, then the invitee can no longer see the room", async () => {
    const { owner, guest, roomId } = await roomWithGuest();
    const inv = await invite(owner, roomId, guest);
    const visible = () => as(db.sql, guest, (tx) => tx`select id from roomkit.rooms where id = ${roomId}`);
    expect(await visible()).toHaveLength(1);
    await rpcOk(db.sql, owner, "revoke_invite", { invite_id: inv.id });
    expect(await visible()).toHaveLength(0);
  });
});
