import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { as } from "../support/acting.ts";
import { privateRoom } from "../support/rooms.ts";
import { body, type FunctionsStack, rowCounts, startFunctionsStack } from "./support.ts";

let f: FunctionsStack;
beforeAll(async () => {
  f = await startFunctionsStack();
});
afterAll(() => f?.stop());

// biome-ignore lint/suspicious/noExplicitAny: assertions walk JSON bodies of known shape
type Json = Record<string, any>;

const post = (path: string, token: string, payload?: unknown) =>
  f.call(path, { method: "POST", token, ...(payload === undefined ? {} : { body: payload }) });

describe("invites lifecycle", () => {
  test("when an owner invites two users, one accepts and one declines, then membership and lists follow", async () => {
    const owner = await f.user("Olivia");
    const ada = await f.user("Ada");
    const bob = await f.user("Bob");
    const room = await privateRoom(f.sql, owner, { name: "Book club" });

    const toAda = await post("invites", owner.token, { room_id: room, invitee_id: ada.id });
    expect(toAda.status).toBe(201);
    const adaInvite = (await body<Json>(toAda)).invite;
    expect(adaInvite).toMatchObject({
      room_id: room,
      invitee_id: ada.id,
      inviter_id: owner.id,
      status: "pending",
    });
    const toBob = await post("invites", owner.token, {
      room_id: room,
      invitee_email: bob.email.toUpperCase(),
    });
    expect(toBob.status).toBe(201);
    const bobInvite = (await body<Json>(toBob)).invite;

    const incoming = await body<Json>(await f.call("invites?status=pending", { token: ada.token }));
    expect(incoming.invites).toHaveLength(1);
    expect(incoming.invites[0]).toMatchObject({
      id: adaInvite.id,
      room: { id: room, name: "Book club" },
      inviter: { id: owner.id, display_name: "Olivia" },
    });

    const accepted = await post(`invites/${adaInvite.id}/accept`, ada.token);
    expect(accepted.status).toBe(200);
    const acceptBody = await body<Json>(accepted);
    expect(acceptBody.invite.status).toBe("accepted");
    expect(acceptBody.membership).toMatchObject({
      room_id: room,
      user_id: ada.id,
      role: "member",
      left_at: null,
    });
    const again = await post(`invites/${adaInvite.id}/accept`, ada.token);
    expect(again.status).toBe(200);
    expect((await body<Json>(again)).membership.joined_at).toBe(acceptBody.membership.joined_at);

    const declined = await post(`invites/${bobInvite.id}/decline`, bob.token);
    expect(declined.status).toBe(200);
    expect((await body<Json>(declined)).invite.status).toBe("declined");
    const lateAccept = await post(`invites/${bobInvite.id}/accept`, bob.token);
    expect(lateAccept.status).toBe(409);
    expect((await body<Json>(lateAccept)).error.code).toBe("invite_declined");

    const outgoing = await body<Json>(await f.call(`invites?room_id=${room}`, { token: ada.token }));
    expect(outgoing.invites.map((i: Json) => i.status).sort()).toEqual(["accepted", "declined"]);
    expect((await f.call("invites?status=pending", { token: ada.token }).then(body<Json>)).invites).toEqual(
      [],
    );
  });

  test("when the inviter revokes, then the invitee can no longer accept and the invite shows revoked", async () => {
    const owner = await f.user("Olivia");
    const member = await f.user("Max");
    const ada = await f.user("Ada");
    const room = await privateRoom(f.sql, owner);
    const toMax = await body<Json>(
      await post("invites", owner.token, { room_id: room, invitee_id: member.id }),
    );
    await post(`invites/${toMax.invite.id}/accept`, member.token);
    const toAda = await body<Json>(
      await post("invites", member.token, { room_id: room, invitee_id: ada.id }),
    );
    // The inviter may revoke their own invite even as a plain member.
    const revoked = await post(`invites/${toAda.invite.id}/revoke`, member.token);
    expect(revoked.status).toBe(200);
    expect((await body<Json>(revoked)).invite.status).toBe("revoked");
    const accept = await post(`invites/${toAda.invite.id}/accept`, ada.token);
    expect(accept.status).toBe(409);
    expect((await body<Json>(accept)).error.code).toBe("invite_revoked");
  });

  test("when a member who did not send an invite tries to revoke it, then 403 forbidden", async () => {
    const owner = await f.user("Olivia");
    const max = await f.user("Max");
    const ada = await f.user("Ada");
    const room = await privateRoom(f.sql, owner);
    const toMax = await body<Json>(await post("invites", owner.token, { room_id: room, invitee_id: max.id }));
    await post(`invites/${toMax.invite.id}/accept`, max.token);
    const toAda = await body<Json>(await post("invites", owner.token, { room_id: room, invitee_id: ada.id }));
    const res = await post(`invites/${toAda.invite.id}/revoke`, max.token);
    expect(res.status).toBe(403);
    expect((await body<Json>(res)).error.code).toBe("forbidden");
  });
});

describe("invite errors", () => {
  test("when the body has both, neither, or a bad email, then 400 invalid_input naming the field, nothing written", async () => {
    const owner = await f.user("Olivia");
    const ada = await f.user("Ada");
    const room = await privateRoom(f.sql, owner);
    const scope = { users: [owner.id, ada.id], rooms: [room] };
    const before = await rowCounts(f.sql, scope);
    for (const payload of [
      { room_id: room },
      { room_id: room, invitee_id: ada.id, invitee_email: ada.email },
      { room_id: room, invitee_email: "not-an-email" },
      { room_id: "nope", invitee_id: ada.id },
      "[]",
      "{oops",
    ]) {
      const res = await post("invites", owner.token, payload);
      expect(res.status).toBe(400);
      const { error } = await body<Json>(res);
      expect(error.code).toBe("invalid_input");
    }
    const res = await post("invites", owner.token, { room_id: "nope", invitee_id: ada.id });
    expect((await body<Json>(res)).error.details[0].path).toBe("room_id");
    expect(await rowCounts(f.sql, scope)).toEqual(before);
  });

  test("when an outsider invites, or the invitee is unknown, already a member or already invited, then 403/404/409", async () => {
    const owner = await f.user("Olivia");
    const ada = await f.user("Ada");
    const eve = await f.user("Eve");
    const room = await privateRoom(f.sql, owner);
    const outsider = await post("invites", eve.token, { room_id: room, invitee_id: ada.id });
    expect(outsider.status).toBe(403);
    expect((await body<Json>(outsider)).error.code).toBe("not_member");
    const unknownRoom = await post("invites", owner.token, {
      room_id: crypto.randomUUID(),
      invitee_id: ada.id,
    });
    expect((await body<Json>(unknownRoom)).error.code).toBe("room_not_found");
    // By email the answer never says whether the address has an account.
    const nobody = await post("invites", owner.token, { room_id: room, invitee_email: "nobody@example.com" });
    const somebody = await post("invites", owner.token, { room_id: room, invitee_email: eve.email });
    expect([nobody.status, somebody.status]).toEqual([201, 201]);
    const keys = async (res: Response) =>
      Object.entries((await body<Json>(res)).invite).map(([k, v]) => [k, v === null ? null : typeof v]);
    expect(await keys(nobody)).toEqual(await keys(somebody));
    expect((await post("invites", owner.token, { room_id: room, invitee_id: ada.id })).status).toBe(201);
    const twice = await post("invites", owner.token, { room_id: room, invitee_id: ada.id });
    expect(twice.status).toBe(409);
    expect((await body<Json>(twice)).error.code).toBe("invite_exists");
    const self = await post("invites", owner.token, { room_id: room, invitee_id: owner.id });
    expect(self.status).toBe(400);
    const [invite] = await as(
      f.sql,
      ada,
      (tx) => tx`select id from roomkit.room_invites where invitee_id = ${ada.id}`,
    );
    await post(`invites/${invite!.id}/accept`, ada.token);
    const member = await post("invites", owner.token, { room_id: room, invitee_id: ada.id });
    expect(member.status).toBe(409);
    expect((await body<Json>(member)).error.code).toBe("already_member");
  });

  test("when someone else acts on an invite, or it expired, then 404 invite_not_found or 409 invite_expired", async () => {
    const owner = await f.user("Olivia");
    const ada = await f.user("Ada");
    const eve = await f.user("Eve");
    const room = await privateRoom(f.sql, owner);
    const { invite } = await body<Json>(
      await post("invites", owner.token, { room_id: room, invitee_id: ada.id }),
    );
    const stolen = await post(`invites/${invite.id}/accept`, eve.token);
    expect(stolen.status).toBe(404);
    expect((await body<Json>(stolen)).error.code).toBe("invite_not_found");
    expect((await post(`invites/${crypto.randomUUID()}/decline`, ada.token)).status).toBe(404);
    await f.sql`update roomkit.room_invites set expires_at = now() - interval '1 minute' where id = ${invite.id}`;
    const expired = await post(`invites/${invite.id}/accept`, ada.token);
    expect(expired.status).toBe(409);
    expect((await body<Json>(expired)).error.code).toBe("invite_expired");
  });

  test("when a non-member lists a room's invites, then 403 not_member (invitee) or 404 room_not_found (stranger)", async () => {
    const owner = await f.user("Olivia");
    const ada = await f.user("Ada");
    const eve = await f.user("Eve");
    const room = await privateRoom(f.sql, owner);
    await post("invites", owner.token, { room_id: room, invitee_id: ada.id });
    const invitee = await f.call(`invites?room_id=${room}`, { token: ada.token });
    expect(invitee.status).toBe(403);
    expect((await body<Json>(invitee)).error.code).toBe("not_member");
    const stranger = await f.call(`invites?room_id=${room}`, { token: eve.token });
    expect(stranger.status).toBe(404);
    expect((await body<Json>(stranger)).error.code).toBe("room_not_found");
  });

  test("when the caller has no user token, then 401 not_authenticated from the function; no JWT at all, 401 from the gateway", async () => {
    const anon = await f.call("invites?status=pending");
    expect(anon.status).toBe(401);
    expect((await body<Json>(anon)).error.code).toBe("not_authenticated");
    const none = await f.call("invites?status=pending", { token: null, headers: { apikey: "" } });
    expect(none.status).toBe(401);
    expect(await body(none)).toEqual({ msg: "Error: Missing authorization header" });
  });
});
