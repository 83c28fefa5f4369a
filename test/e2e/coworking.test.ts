import { TokenVerifier } from "livekit-server-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRoomkitClient, type LobbyCount } from "../../src/client/index.ts";
import { EXTERNAL_STACK, LIVEKIT, startE2EStack, type TestStack } from "../support/stack.ts";
import { must, type Person, signUpAll } from "../support/users.ts";
import { eventually, record } from "../support/wait.ts";

/**
 * The coworking story through the Roomkit client: the seeded lobby with live counts, joining up
 * to capacity, system messages, mic and speaking, emoji messages, reactions and bursts, and voice
 * credentials. No LiveKit server runs: the tokens are checked with livekit-server-sdk's
 * TokenVerifier and the credentials the test gave the functions.
 */

let stack: TestStack;
beforeAll(async () => {
  stack = await startE2EStack();
});
afterAll(async () => {
  await stack?.stop();
});

const SEEDED = [
  ["Coffee Break", 12],
  ["Creative Studio", 15],
  ["Focus Zone", 10],
  ["Sprint Room", 8],
  ["Study Hall", 20],
] as const;

describe("coworking story", () => {
  // Verifies voice tokens with the LiveKit credentials the test gives the functions (functionsEnv),
  // and expects the seeded lobby of a fresh database: local stack only.
  it.skipIf(EXTERNAL_STACK)(
    "when people join Sprint Room until it is full, then the lobby counts live, the next join gets room_full, and everyone in the room sees joins, leaves, mics, speaking, emoji and reactions",
    async () => {
      // A visitor who has not signed in sees the lobby too.
      const visitor = createVisitor();
      const lobby = must(await visitor.coworking.list());
      expect(lobby.map((r) => [r.name, r.capacity, r.participant_count])).toEqual(
        SEEDED.map(([name, capacity]) => [name, capacity, 0]),
      );
      const sprint = lobby.find((r) => r.name === "Sprint Room")!;

      const counts: LobbyCount[] = [];
      const lobbySub = must(await visitor.coworking.watchLobby((c) => counts.push(c)));

      const people = await signUpAll(stack, "Ann", "Ben", "Cat", "Dan", "Eve", "Fay", "Gus", "Hal", "Ivy");
      const [ann, ben, ...rest] = people;
      const latecomer = rest.pop()!;

      // Ann joins first and opens the room: she will see everyone else arrive.
      const annJoin = must(await ann.roomkit.coworking.join(sprint.id));
      expect(annJoin.participant).toMatchObject({ room_id: sprint.id, user_id: ann.id, mic_enabled: false });
      await verifyVoice(annJoin.voice.token, ann, sprint.id);
      const annSession = must(await ann.roomkit.openRoom(sprint.id));
      const annSaw = record(annSession);

      must(await ben.roomkit.coworking.join(sprint.id));
      const benSession = must(await ben.roomkit.openRoom(sprint.id));
      const benSaw = record(benSession);
      const joins = await Promise.all(rest.map((p) => p.roomkit.coworking.join(sprint.id)));
      expect(joins.map((j) => j.error)).toEqual(rest.map(() => null));

      const refused = await latecomer.roomkit.coworking.join(sprint.id);
      expect(refused.error?.code).toBe("room_full");
      expect(refused.data).toBeNull();

      await eventually(() => counts.some((c) => c.room_id === sprint.id && c.participant_count === 8));
      expect(must(await visitor.coworking.list()).find((r) => r.id === sprint.id)?.participant_count).toBe(8);
      const joinedNames = ["Ben", ...rest.map((p) => p.name)].map((n) => `${n} joined`);
      await eventually(() =>
        joinedNames.every((t) => annSaw.message.some((m) => m.kind === "system" && m.body === t)),
      );
      await eventually(() => rest.every((p) => annSaw.member_joined.some((m) => m.user_id === p.id)));

      // Ben turns his mic on and speaks; Ann sees both, then the speaking indicator clears.
      await eventually(() => annSession.onlineUsers.some((u) => u.user_id === ben.id));
      const mic = must(await benSession.setMic(true));
      expect(mic.mic_enabled).toBe(true);
      await eventually(() => annSaw.member_updated.some((m) => m.user_id === ben.id && m.mic_enabled));
      await eventually(() => annSession.onlineUsers.find((u) => u.user_id === ben.id)?.mic_enabled === true);
      benSession.setSpeaking(true);
      await eventually(() => annSession.speakingUsers.includes(ben.id));
      benSession.setSpeaking(false);
      await eventually(() => annSaw.speaking.at(-1)?.length === 0);

      // Emoji message (stored), a reaction to it, and a fleeting burst.
      const party = must(await benSession.sendEmoji("🎉"));
      await eventually(() =>
        annSaw.message.some((m) => m.id === party.id && m.kind === "emoji" && m.body === "🎉"),
      );
      must(await annSession.react(party.id, "🔥"));
      await eventually(() =>
        benSaw.reaction_added.some((r) => r.message_id === party.id && r.user_id === ann.id),
      );
      must(await annSession.unreact(party.id, "🔥"));
      await eventually(() =>
        benSaw.reaction_removed.some((r) => r.message_id === party.id && r.emoji === "🔥"),
      );
      expect(annSession.sendBurst("👏").error).toBeNull();
      await eventually(() => benSaw.emoji_burst.some((b) => b.user_id === ann.id && b.emoji === "👏"));

      // Ben leaves: everyone sees it, the seat frees up, and the latecomer gets in.
      must(await benSession.leave());
      expect(benSaw.closed).toEqual([{ reason: "left" }]);
      await eventually(() => annSaw.message.some((m) => m.kind === "system" && m.body === "Ben left"));
      await eventually(() => annSaw.member_left.some((m) => m.user_id === ben.id));
      await eventually(() => counts.some((c) => c.room_id === sprint.id && c.participant_count === 7));
      const late = must(await latecomer.roomkit.coworking.join(sprint.id));
      await verifyVoice(late.voice.token, latecomer, sprint.id);
      await eventually(() => annSaw.message.some((m) => m.body === "Ivy joined"));

      // Fresh voice credentials for someone in the room; none for someone who is not.
      const fresh = must(await ann.roomkit.coworking.voiceToken(sprint.id));
      await verifyVoice(fresh.token, ann, sprint.id);
      expect((await ben.roomkit.coworking.voiceToken(sprint.id)).error?.code).toBe("not_member");

      await lobbySub.unsubscribe();
      await annSession.close();
    },
  );

  it("when a signed-out visitor tries to join, then it is refused with not_authenticated", async () => {
    const visitor = createVisitor();
    const [room] = must(await visitor.coworking.list());
    expect((await visitor.coworking.join(room!.id)).error?.code).toBe("not_authenticated");
  });
});

/** A Roomkit client over a supabase-js client that never signed in. */
function createVisitor() {
  return createRoomkitClient(stack.client());
}

async function verifyVoice(token: string, person: Person, roomId: string): Promise<void> {
  const claims = await new TokenVerifier(LIVEKIT.LIVEKIT_API_KEY, LIVEKIT.LIVEKIT_API_SECRET).verify(token);
  expect(claims.sub).toBe(person.id);
  expect(claims.video?.roomJoin).toBe(true);
  expect(claims.video?.room).toBe(`roomkit-${roomId}`);
  expect(claims.video?.canPublishSources).toEqual(["microphone"]);
  await expect(
    new TokenVerifier(LIVEKIT.LIVEKIT_API_KEY, "some-other-secret-xxxxxxxxxxxxxxxx").verify(token),
  ).rejects.toThrow();
}
