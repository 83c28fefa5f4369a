import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AI_USER_ID } from "../../src/client/index.ts";
import { type FakeLlm, startFakeLlm, streamOf, uniqueName } from "../support/fakes.ts";
import { EXTERNAL_STACK, localOnly, startE2EStack, type TestStack } from "../support/stack.ts";
import { must, signUpAll } from "../support/users.ts";
import { eventually, record } from "../support/wait.ts";

/**
 * The AI story through the Roomkit client. The LLM provider is a FAKE at its HTTP edge
 * (test/support/fakes.ts, an OpenAI-compatible streaming endpoint on loopback); everything
 * else is real: the stack's AI dispatcher, the ai-reply function in Deno, Postgres, Realtime.
 */

let stack: TestStack;
let llm: FakeLlm;
beforeAll(async () => {
  llm = await startFakeLlm();
  stack = await startE2EStack(
    localOnly({ functionsEnv: { AI_BASE_URL: llm.url, AI_API_KEY: "test", AI_MODEL: "fake" } }),
  );
});
afterAll(async () => {
  await stack?.stop();
  await llm?.close();
});

describe("AI story", () => {
  // Needs the functions pointed at the fake AI provider (functionsEnv AI_*): local stack only.
  it.skipIf(EXTERNAL_STACK)(
    "when a member writes @ai in a mention-mode room, then everyone watches one reply stream in and it is replaced by one persisted AI message",
    async () => {
      const [alice, bob] = await signUpAll(stack, "Alice", "Bob");
      const name = uniqueName("Reading room");
      const room = must(await alice.roomkit.rooms.create({ name, ai_mode: "mention" }));
      const invite = must(await alice.roomkit.invites.send(room.id, { invitee_id: bob.id }));
      must(await bob.roomkit.invites.accept(invite.id));
      const parts = ["Try ", "*Piranesi*", " by Susanna ", "Clarke."];
      const asked = llm.script(name, () => streamOf(parts, { delayMs: 30 }));

      const bobSession = must(await bob.roomkit.openRoom(room.id));
      const bobSaw = record(bobSession);
      const aliceSession = must(await alice.roomkit.openRoom(room.id));
      const aliceSaw = record(aliceSession);

      // Not addressed to the AI: no reply.
      must(await aliceSession.send("Anyone read anything good lately?"));
      const question = must(await aliceSession.send("@ai what should we read next?"));

      const aiMessage = await eventually(() => bobSaw.message.find((m) => m.kind === "ai"), 15_000);
      expect(aiMessage).toMatchObject({ sender_id: AI_USER_ID, body: parts.join("") });
      expect((aiMessage.metadata as { reply_to?: string }).reply_to).toBe(question.id);

      // The reply grew on screen before it was stored, and ended done, naming the stored message.
      const updates = bobSaw.ai_reply;
      expect(updates[0]?.status).toBe("typing");
      const streamed = updates.filter((u) => u.status === "streaming").map((u) => u.text);
      expect(streamed.length).toBeGreaterThan(0);
      for (let i = 1; i < streamed.length; i++) expect(streamed[i]!.startsWith(streamed[i - 1]!)).toBe(true);
      await eventually(() => bobSaw.ai_reply.some((u) => u.status === "done"));
      expect(bobSaw.ai_reply.at(-1)).toMatchObject({
        status: "done",
        message_id: aiMessage.id,
        text: parts.join(""),
      });
      expect(bobSession.aiReplies).toEqual([]);

      // Exactly one AI message, for both, after the question, and the provider was asked once.
      await eventually(() => aliceSaw.message.some((m) => m.id === aiMessage.id));
      for (const session of [aliceSession, bobSession]) {
        const ai = session.messages.filter((m) => m.kind === "ai");
        expect(ai.map((m) => m.id)).toEqual([aiMessage.id]);
        const ids = session.messages.map((m) => m.id);
        expect(ids.indexOf(aiMessage.id)).toBeGreaterThan(ids.indexOf(question.id));
      }
      expect(asked.requests).toHaveLength(1);

      // The room lists the AI as a member while its mode is on; switching it off removes it.
      expect(must(await alice.roomkit.rooms.get(room.id)).members.some((m) => m.user_id === AI_USER_ID)).toBe(
        true,
      );
      must(await alice.roomkit.rooms.setAiMode(room.id, "off"));
      await eventually(() => bobSaw.room_updated.some((r) => r.ai_mode === "off"));
      expect(must(await alice.roomkit.rooms.get(room.id)).members.some((m) => m.user_id === AI_USER_ID)).toBe(
        false,
      );

      await Promise.all([aliceSession.close(), bobSession.close()]);
    },
  );
});
