import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AI_USER_ID, type InviteEvent } from "../../src/client/index.ts";
import type { TestStack } from "../support/stack.ts";
import { startE2EStack } from "../support/stack.ts";
import { must, signUpAll } from "../support/users.ts";
import { eventually, record } from "../support/wait.ts";

/**
 * The private room story, three people with their own supabase-js clients through the Roomkit
 * client library against the local stack: invites live, chat in real time, presence, typing,
 * scrolling back, leaving, and an outsider locked out.
 */

let stack: TestStack;
beforeAll(async () => {
  stack = await startE2EStack();
});
afterAll(async () => {
  await stack?.stop();
});

describe("private room story", () => {
  it("when Alice creates a room and invites Bob and Carol, then Bob accepts live, Carol declines, and they chat, see each other, scroll back and leave", async () => {
    const [alice, bob, carol, mallory] = await signUpAll(stack, "Alice", "Bob", "Carol", "Mallory");

    // Alice creates the room; the AI participant is in it (default mode: mention).
    const room = must(
      await alice.roomkit.rooms.create({ name: "  Book club  ", description: "Monthly picks" }),
    );
    expect(room).toMatchObject({ name: "Book club", kind: "private", ai_mode: "mention" });
    const details = must(await alice.roomkit.rooms.get(room.id));
    expect(details.members.map((m) => [m.user_id, m.role])).toEqual([
      [alice.id, "owner"],
      [AI_USER_ID, "member"],
    ]);
    expect(details.members[1]?.profile?.is_ai).toBe(true);

    // Bob listens for invites before Alice sends them.
    const bobInvites: InviteEvent[] = [];
    const bobSub = must(await bob.roomkit.invites.onInvite((e) => bobInvites.push(e)));
    const toBob = must(await alice.roomkit.invites.send(room.id, { invitee_id: bob.id }));
    const toCarol = must(await alice.roomkit.invites.send(room.id, { invitee_email: carol.email }));
    const again = await alice.roomkit.invites.send(room.id, { invitee_id: bob.id });
    expect(again.error?.code).toBe("invite_exists");

    await eventually(() => bobInvites.some((e) => e.type === "insert" && e.invite.id === toBob.id));
    const pendingForCarol = must(await carol.roomkit.invites.listPending());
    expect(pendingForCarol.map((i) => [i.id, i.room.name, i.inviter?.display_name])).toEqual([
      [toCarol.id, "Book club", "Alice"],
    ]);

    // Alice opens the room before Bob joins, so she sees him arrive.
    const aliceSession = must(await alice.roomkit.openRoom(room.id));
    const aliceSaw = record(aliceSession);

    const accepted = must(await bob.roomkit.invites.accept(toBob.id));
    expect(accepted.membership).toMatchObject({ room_id: room.id, user_id: bob.id, role: "member" });
    expect(must(await carol.roomkit.invites.decline(toCarol.id)).status).toBe("declined");
    // A private room she is not in is invisible to her (RLS), so there is nothing to open.
    expect((await carol.roomkit.openRoom(room.id)).error?.code).toBe("room_not_found");
    await bobSub.unsubscribe();

    await eventually(() => aliceSaw.member_joined.some((m) => m.user_id === bob.id));
    await eventually(() => aliceSaw.message.some((m) => m.kind === "system" && m.body === "Bob joined"));
    await eventually(() =>
      aliceSaw.invite_updated.some((i) => i.id === toCarol.id && i.status === "declined"),
    );

    // Bob opens the room: both see each other online.
    const bobSession = must(await bob.roomkit.openRoom(room.id));
    const bobSaw = record(bobSession);
    await eventually(() =>
      aliceSession.onlineUsers.some((u) => u.user_id === bob.id && u.display_name === "Bob"),
    );
    await eventually(() => bobSession.onlineUsers.some((u) => u.user_id === alice.id));

    // Typing reaches the other side and clears when the message arrives.
    aliceSession.typing();
    await eventually(() => bobSession.typingUsers.includes(alice.id));
    const hello = must(await aliceSession.send("Hi Bob! Welcome."));
    await eventually(() => bobSaw.message.some((m) => m.id === hello.id));
    expect(bobSession.typingUsers).not.toContain(alice.id);

    const reply = must(await bobSession.send("Thanks Alice"));
    await eventually(() => aliceSaw.message.some((m) => m.id === reply.id));
    must(await aliceSession.react(reply.id, "👍"));
    await eventually(() => bobSaw.reaction_added.some((r) => r.message_id === reply.id && r.emoji === "👍"));

    // 120 more messages; Bob scrolls back page by page through all of them, newest first.
    const sent: string[] = [hello.id, reply.id];
    for (let i = 0; i < 120; i++) sent.push(must(await alice.roomkit.messages.send(room.id, `msg ${i}`)).id);
    await eventually(() => bobSaw.message.filter((m) => m.body?.startsWith("msg ")).length === 120);

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = must(
        await bob.roomkit.messages.list(room.id, { limit: 25, ...(cursor ? { before: cursor } : {}) }),
      );
      seen.push(...page.messages.map((m) => m.id));
      cursor = page.next_cursor ?? undefined;
      pages++;
    } while (cursor);
    const chat = seen.filter((id) => sent.includes(id));
    expect(chat).toEqual([...sent].reverse());
    expect(new Set(seen).size).toBe(seen.length);
    expect(pages).toBeGreaterThanOrEqual(5);
    // Bob's live session holds the same messages in the same order.
    const live = bobSession.messages.map((m) => m.id).filter((id) => sent.includes(id));
    expect(live).toEqual(sent);

    // Unread counts: Bob has read nothing yet, then marks the room read.
    const before = must(await bob.roomkit.rooms.list()).find((r) => r.id === room.id);
    expect(before?.unread_count).toBeGreaterThanOrEqual(121);
    must(await bobSession.markRead());
    expect(must(await bob.roomkit.rooms.list()).find((r) => r.id === room.id)?.unread_count).toBe(0);

    // Bob leaves: his session ends with `left`, Alice sees him go, and he receives nothing more.
    must(await bobSession.leave());
    expect(bobSaw.closed).toEqual([{ reason: "left" }]);
    await eventually(() => aliceSaw.member_left.some((m) => m.user_id === bob.id));
    await eventually(() => !aliceSession.onlineUsers.some((u) => u.user_id === bob.id));
    const afterLeave = must(await aliceSession.send("Bob is gone"));
    const bobMessagesBefore = bobSaw.message.length;
    // Sentinel: the message reached the room (Alice) before Bob's absence of it is checked.
    await eventually(() => aliceSaw.message.some((m) => m.id === afterLeave.id));
    expect(bobSaw.message.length).toBe(bobMessagesBefore);
    expect((await bob.roomkit.messages.list(room.id)).data?.messages ?? []).toEqual([]);
    // The private room is invisible to him now (RLS), so there is nothing to open.
    expect((await bob.roomkit.openRoom(room.id)).error?.code).toBe("room_not_found");
    expect(aliceSaw.message.some((m) => m.id === afterLeave.id)).toBe(true);

    // Mallory was never invited: no history, no channel, no room.
    expect(must(await mallory.roomkit.messages.list(room.id)).messages).toEqual([]);
    const refused = await mallory.roomkit.openRoom(room.id);
    expect(refused.error?.code).toBe("room_not_found");
    expect((await mallory.roomkit.rooms.get(room.id)).error?.code).toBe("room_not_found");
    expect((await mallory.roomkit.messages.send(room.id, "let me in")).error?.code).toBe("not_member");

    await aliceSession.close();
    expect(aliceSaw.closed).toEqual([{ reason: "closed" }]);
  });

  it("when the owner removes a member, then the member's session ends with `removed`; when the room is deleted, then everyone's ends with `room_deleted`", async () => {
    const [owner, member, other] = await signUpAll(stack, "Olive", "Max", "Nia");
    const room = must(await owner.roomkit.rooms.create({ name: "Short-lived", ai_mode: "off" }));
    expect(must(await owner.roomkit.rooms.get(room.id)).members.map((m) => m.user_id)).toEqual([owner.id]);
    for (const p of [member, other]) {
      const invite = must(await owner.roomkit.invites.send(room.id, { invitee_id: p.id }));
      must(await p.roomkit.invites.accept(invite.id));
    }
    const maxSession = must(await member.roomkit.openRoom(room.id));
    const niaSession = must(await other.roomkit.openRoom(room.id));
    const maxSaw = record(maxSession);
    const niaSaw = record(niaSession);

    must(await owner.roomkit.rooms.removeMember(room.id, member.id));
    await eventually(() => maxSaw.closed.length === 1);
    expect(maxSaw.closed[0]?.reason).toBe("removed");

    must(await owner.roomkit.rooms.update(room.id, { name: "Renamed" }));
    await eventually(() => niaSaw.room_updated.some((r) => r.name === "Renamed"));
    expect((await other.roomkit.rooms.update(room.id, { name: "Mine now" })).error?.code).toBe("forbidden");

    must(await owner.roomkit.rooms.delete(room.id));
    await eventually(() => niaSaw.closed.length === 1);
    expect(niaSaw.closed[0]?.reason).toBe("room_deleted");
  });

  it("when a member forges database events (a message from someone else, my leaving, the room's deletion, an AI reply), then my session shows none of them and stays open", async () => {
    const [alice, bob, mallory] = await signUpAll(stack, "Alice", "Bob", "Mallory");
    const room = must(await alice.roomkit.rooms.create({ name: "Trust", ai_mode: "off" }));
    for (const p of [bob, mallory]) {
      const invite = must(await alice.roomkit.invites.send(room.id, { invitee_id: p.id }));
      must(await p.roomkit.invites.accept(invite.id));
    }
    const bobSession = must(await bob.roomkit.openRoom(room.id));
    const bobSaw = record(bobSession);
    const now = new Date().toISOString();
    const fakeMessage = {
      id: crypto.randomUUID(),
      room_id: room.id,
      sender_id: alice.id,
      kind: "text",
      body: "Bob, send me your password",
      metadata: null,
      created_at: now,
      updated_at: now,
      deleted_at: null,
    };
    const bobRow = { room_id: room.id, user_id: bob.id, role: "member", joined_at: now, mic_enabled: false };
    const forgeries: [string, Record<string, unknown>][] = [
      ["message.insert", { operation: "INSERT", record: fakeMessage, old_record: null }],
      [
        "member.update",
        {
          operation: "UPDATE",
          record: { ...bobRow, left_at: now },
          old_record: { ...bobRow, left_at: null },
        },
      ],
      ["room.delete", { operation: "DELETE", record: null, old_record: { id: room.id } }],
      ["ai.typing", { reply_id: "fake" }],
      ["ai.delta", { reply_id: "fake", seq: 0, text: "I am the AI" }],
    ];

    // On room:<id> the server drops them (members may not send there): no ack.
    const events = mallory.supabase.channel(`room:${room.id}:1`, {
      config: { private: true, broadcast: { ack: true } },
    });
    await new Promise<void>((resolve) => events.subscribe((s) => s === "SUBSCRIBED" && resolve()));
    for (const [event, payload] of forgeries) {
      expect(await events.send({ type: "broadcast", event, payload }, { timeout: 300 })).toBe("timed out");
    }
    // On room:<id>:live they are delivered, and the session ignores them; the typing signal sent
    // after them on the same channel shows they have all arrived.
    const live = mallory.supabase.channel(`room:${room.id}:1:live`, {
      config: { private: true, broadcast: { ack: true } },
    });
    await new Promise<void>((resolve) => live.subscribe((s) => s === "SUBSCRIBED" && resolve()));
    for (const [event, payload] of forgeries) {
      expect(await live.send({ type: "broadcast", event, payload })).toBe("ok");
    }
    expect(
      await live.send({ type: "broadcast", event: "typing", payload: { user_id: mallory.id, typing: true } }),
    ).toBe("ok");
    await eventually(() => bobSession.typingUsers.includes(mallory.id));
    await new Promise((r) => setTimeout(r, 1600)); // longer than the wait for a "left"/"removed" system message

    expect(bobSaw.message.some((m) => m.id === fakeMessage.id)).toBe(false);
    expect(bobSession.messages.some((m) => m.id === fakeMessage.id)).toBe(false);
    expect(bobSaw.member_left).toEqual([]);
    expect(bobSaw.ai_reply).toEqual([]);
    expect(bobSaw.closed).toEqual([]);
    expect(bobSession.closeReason).toBeUndefined();

    // The real thing still arrives.
    const real = must(await alice.roomkit.messages.send(room.id, "the real one"));
    await eventually(() => bobSaw.message.some((m) => m.id === real.id));
    await mallory.supabase.removeAllChannels();
    await bobSession.close();
  });
});
