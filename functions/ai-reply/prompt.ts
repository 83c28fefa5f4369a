/**
 * Turns a claimed job's room context into chat-completion messages: one system prompt naming the
 * room and its participants, then the recent history with each human line prefixed by its author
 * (several people share one `user` role) and the AI's own earlier replies as `assistant`.
 */
import type { ChatMessage } from "../_shared/ai.ts";
import type { ClaimedJob } from "./queue.ts";

/** The AI participant's display name in prompts (its profile says "Roomkit AI"). */
export const AI_NAME = "Roomkit AI";

/**
 * Builds the prompt for one reply.
 *
 * @example
 * const messages = buildPrompt(job); // [{ role: "system", … }, { role: "user", content: "Ada: @ai hi" }]
 */
export function buildPrompt(job: ClaimedJob): ChatMessage[] {
  const humans = job.participants.filter((p) => !p.is_ai).map((p) => p.display_name);
  const lines = [
    `You are ${AI_NAME}, an assistant taking part in the private chat room "${job.room.name}".`,
    job.room.description ? `Room description: ${job.room.description}` : undefined,
    `People in the room: ${humans.length > 0 ? humans.join(", ") : "nobody else right now"}.`,
    'Human messages appear as "Name: text". Answer the latest message addressed to you, in the language it uses.',
    "Be concise and friendly, write plain text, and do not prefix your reply with your name.",
  ];
  const messages: ChatMessage[] = [{ role: "system", content: lines.filter(Boolean).join("\n") }];
  for (const m of job.messages) {
    if (!m.body) continue;
    if (m.kind === "ai") messages.push({ role: "assistant", content: m.body });
    else if (m.kind === "text" || m.kind === "emoji")
      messages.push({ role: "user", content: `${m.sender_name ?? "Someone"}: ${m.body}` });
    // System lines ("Ada joined") are skipped: they add tokens, not meaning.
  }
  return messages;
}
