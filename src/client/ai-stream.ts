/**
 * The AI participant's streamed replies on `room:<id>` (functions/ai-reply): `ai.typing`
 * {reply_id}, `ai.delta` {reply_id, seq, text}, `ai.done` {reply_id, message_id}, `ai.error`
 * {reply_id, …}. Deltas are broadcasts, so they may arrive out of order or twice (a rejoin);
 * the text is rebuilt from `seq` order, each seq counted once.
 */
import { AI_EVENTS } from "../../functions/_shared/contract.ts";

const AI_EVENT_NAMES = new Set<string>(Object.values(AI_EVENTS));

/**
 * One AI reply as it grows.
 *
 * @example
 * session.on("ai_reply", (reply) => showDraft(reply.reply_id, reply.text, reply.status));
 */
export interface AiReply {
  reply_id: string;
  /** `typing` before the first delta; `streaming` while deltas arrive; then `done` or `error`. */
  status: "typing" | "streaming" | "done" | "error";
  /** The text so far (contiguous deltas from the lowest seq seen); the stored body once done. */
  text: string;
  /** The persisted `ai` message that replaces this reply, once known. */
  message_id: string | null;
  /** Error message from `ai.error`. */
  error: string | null;
  /** After `ai.error`: whether the server will try again (a new `ai.typing` restarts the reply). */
  retrying: boolean;
}

interface ReplyState extends AiReply {
  chunks: Map<number, string>;
  attempt: number | undefined;
}

/** Finished replies are remembered (to ignore late duplicates) up to this many. */
const MAX_REMEMBERED = 50;

/** The stored AI message, as far as matching it to a reply needs. */
interface AiMessageLike {
  id: string;
  body: string | null;
}

/**
 * Accumulates AI broadcasts into replies. The stored message and `ai.done` race (the message's
 * own broadcast comes from the database, `ai.done` from the function), so either may finish a
 * reply; the other is then ignored.
 *
 * @example
 * const replies = new AiReplies();
 * const reply = replies.handle(AI_EVENTS.delta, { reply_id: "r1", seq: 0, text: "Hel" });
 * reply?.text; // "Hel"
 */
export class AiReplies {
  private readonly replies = new Map<string, ReplyState>();

  /**
   * Applies one broadcast; returns the reply it changed, or undefined when nothing changed (also
   * for an event that is not one of {@link AI_EVENTS}).
   */
  handle(event: string, payload: unknown): AiReply | undefined {
    if (!AI_EVENT_NAMES.has(event) || typeof payload !== "object" || payload === null) return undefined;
    const p = payload as Record<string, unknown>;
    const replyId = typeof p.reply_id === "string" ? p.reply_id : undefined;
    if (!replyId) return undefined;
    let state = this.replies.get(replyId);
    if (state?.status === "done") return undefined;
    if (event === AI_EVENTS.typing) {
      const attempt = typeof p.attempt === "number" ? p.attempt : undefined;
      // A retry after ai.error starts the reply over.
      if (!state || state.status === "error" || (attempt !== undefined && attempt !== state.attempt)) {
        state = this.start(replyId, attempt);
        return snapshot(state);
      }
      return undefined;
    }
    state ??= this.start(replyId, undefined);
    switch (event) {
      case AI_EVENTS.delta: {
        if (typeof p.seq !== "number" || typeof p.text !== "string" || state.status === "error")
          return undefined;
        if (state.chunks.has(p.seq)) return undefined;
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
        state.retrying = p.retrying === true;
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

  /**
   * The stored AI message arrived: finishes the reply it belongs to (named by `ai.done`, else the
   * reply whose text it continues; the server writes one reply per room at a time). Returns the
   * finished reply, or undefined when it was already finished or never seen.
   */
  complete(message: AiMessageLike): AiReply | undefined {
    const states = [...this.replies.values()];
    const named = states.find((r) => r.message_id === message.id);
    if (named) return undefined;
    const body = message.body ?? "";
    const active = states.filter((r) => r.status === "typing" || r.status === "streaming");
    const match =
      active.filter((r) => body.startsWith(r.text)).sort((a, b) => b.text.length - a.text.length)[0] ??
      (active.length === 1 ? active[0] : undefined);
    if (!match) return undefined;
    match.status = "done";
    match.message_id = message.id;
    match.text = body;
    return snapshot(match);
  }

  /** Replies still growing (typing or streaming). */
  get active(): AiReply[] {
    return [...this.replies.values()]
      .filter((r) => r.status === "typing" || r.status === "streaming")
      .map(snapshot);
  }

  private start(replyId: string, attempt: number | undefined): ReplyState {
    const state: ReplyState = {
      reply_id: replyId,
      status: "typing",
      text: "",
      message_id: null,
      error: null,
      retrying: false,
      chunks: new Map(),
      attempt,
    };
    this.replies.delete(replyId);
    this.replies.set(replyId, state);
    if (this.replies.size > MAX_REMEMBERED) {
      for (const [id, r] of this.replies) {
        if (this.replies.size <= MAX_REMEMBERED) break;
        if (r.status === "done" || r.status === "error") this.replies.delete(id);
      }
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
  const { chunks: _chunks, attempt: _attempt, ...reply } = state;
  return reply;
}
