/**
 * The AI participant's streamed replies on `room:<id>` (functions/ai-reply): `ai.typing`
 * {reply_id}, `ai.delta` {reply_id, seq, text}, `ai.done` {reply_id, message_id}, `ai.error`
 * {reply_id, …}. Deltas are broadcasts, so they may arrive out of order or twice (a rejoin);
 * the text is rebuilt from `seq` order, each seq counted once.
 */

/** Broadcast event names the AI participant uses. */
export const AI_EVENTS = {
  typing: "ai.typing",
  delta: "ai.delta",
  done: "ai.done",
  error: "ai.error",
} as const;

/** One AI reply as it grows. */
export interface AiReply {
  reply_id: string;
  /** `typing` before the first delta; `streaming` while deltas arrive; then `done` or `error`. */
  status: "typing" | "streaming" | "done" | "error";
  /** The text so far (contiguous deltas from seq 0, or from the lowest seq seen). */
  text: string;
  /** The persisted `ai` message that replaces this reply, once `ai.done` named it. */
  message_id: string | null;
  /** Error message from `ai.error`. */
  error: string | null;
}

interface ReplyState extends AiReply {
  chunks: Map<number, string>;
}

/**
 * Accumulates AI broadcasts into replies.
 *
 * @example
 * const replies = new AiReplies();
 * const reply = replies.handle("ai.delta", { reply_id: "r1", seq: 0, text: "Hel" });
 * reply?.text; // "Hel"
 */
export class AiReplies {
  private readonly replies = new Map<string, ReplyState>();

  /** Applies one AI broadcast; returns the reply it changed, or undefined for malformed payloads. */
  handle(event: string, payload: unknown): AiReply | undefined {
    if (typeof payload !== "object" || payload === null) return undefined;
    const p = payload as Record<string, unknown>;
    const replyId = typeof p.reply_id === "string" ? p.reply_id : undefined;
    if (!replyId) return undefined;
    const state = this.state(replyId);
    switch (event) {
      case AI_EVENTS.typing:
        break;
      case AI_EVENTS.delta: {
        if (typeof p.seq !== "number" || typeof p.text !== "string") return undefined;
        if (state.status === "done" || state.status === "error") return undefined;
        state.chunks.set(p.seq, p.text);
        state.status = "streaming";
        state.text = assemble(state.chunks);
        break;
      }
      case AI_EVENTS.done:
        state.status = "done";
        state.message_id = typeof p.message_id === "string" ? p.message_id : null;
        break;
      case AI_EVENTS.error:
        state.status = "error";
        state.error =
          typeof p.message === "string"
            ? p.message
            : typeof p.error === "string"
              ? p.error
              : "AI reply failed";
        break;
      default:
        return undefined;
    }
    return snapshot(state);
  }

  /** The reply whose persisted message is `messageId`, if `ai.done` named it. */
  byMessageId(messageId: string): AiReply | undefined {
    for (const state of this.replies.values()) if (state.message_id === messageId) return snapshot(state);
    return undefined;
  }

  /** Forgets a reply (its persisted message has replaced it). */
  delete(replyId: string): void {
    this.replies.delete(replyId);
  }

  /** Replies still growing (typing or streaming). */
  get active(): AiReply[] {
    return [...this.replies.values()]
      .filter((r) => r.status === "typing" || r.status === "streaming")
      .map(snapshot);
  }

  private state(replyId: string): ReplyState {
    let state = this.replies.get(replyId);
    if (!state) {
      state = {
        reply_id: replyId,
        status: "typing",
        text: "",
        message_id: null,
        error: null,
        chunks: new Map(),
      };
      this.replies.set(replyId, state);
    }
    return state;
  }
}

/** Concatenates chunks in seq order, stopping at the first gap (a late delta fills it). */
function assemble(chunks: Map<number, string>): string {
  const seqs = [...chunks.keys()].sort((a, b) => a - b);
  let text = "";
  let expected = seqs[0];
  for (const seq of seqs) {
    if (seq !== expected) break;
    text += chunks.get(seq);
    expected = seq + 1;
  }
  return text;
}

function snapshot(state: ReplyState): AiReply {
  const { chunks: _chunks, ...reply } = state;
  return reply;
}
