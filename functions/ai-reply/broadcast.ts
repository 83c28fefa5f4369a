/**
 * Sends a reply's progress to a room's private Realtime topic through Realtime's HTTP broadcast
 * endpoint (`POST <SUPABASE_URL>/realtime/v1/api/broadcast`, body `{messages:[{topic, event,
 * payload, private}]}`, answer 202; supabase/realtime `broadcast_controller.ex`, reference
 * realtime.md §2.3). With the service role key the private topic's write policy is bypassed, so
 * the AI does not need to be a room member.
 */
import { AI_EVENTS } from "../_shared/contract.ts";

/** Realtime answers 202 Accepted with an empty body when the batch was taken. */
const BROADCAST_ACCEPTED = 202;

interface Pending {
  event: string;
  payload: Record<string, unknown>;
}

/**
 * An ordered sender for one room's events topic. The topic is asked for before each request: it
 * carries the room's epoch, which moves on when a membership ends, and a former member must not
 * keep receiving a reply that is still streaming. One request is in flight at a time; deltas produced while
 * it is out are merged into the next `ai.delta` (same `seq` run, text concatenated), so a fast
 * model costs few requests and receivers still get the text in order.
 *
 * @example
 * const b = new RoomBroadcaster({ url, key, topic: currentRoomTopic(roomId) });
 * b.send(AI_EVENTS.typing, { reply_id });
 * b.delta(reply_id, "Hel"); b.delta(reply_id, "lo");
 * await b.flush();
 */
export class RoomBroadcaster {
  #queue: Pending[] = [];
  #sending: Promise<void> | undefined;
  #seq = 0;
  #deltaReply: string | undefined;

  constructor(
    private readonly options: {
      url: string;
      key: string;
      topic: () => Promise<string>;
      fetch?: typeof fetch;
    },
  ) {}

  /** Queues one event. */
  send(event: string, payload: Record<string, unknown>): void {
    this.#queue.push({ event, payload });
    this.#pump();
  }

  /** Queues text for `ai.delta`, merged with a delta of the same reply that has not left yet. */
  delta(replyId: string, text: string): void {
    if (this.#deltaReply !== replyId) {
      this.#deltaReply = replyId;
      this.#seq = 0;
    }
    const last = this.#queue.at(-1);
    if (last && last.event === AI_EVENTS.delta && last.payload.reply_id === replyId) {
      last.payload.text = `${last.payload.text as string}${text}`;
      return;
    }
    this.send(AI_EVENTS.delta, { reply_id: replyId, seq: this.#seq++, text });
  }

  /** Resolves when everything queued so far has been sent (or failed and been logged). */
  async flush(): Promise<void> {
    while (this.#sending) await this.#sending;
  }

  #pump(): void {
    if (this.#sending) return;
    this.#sending = (async () => {
      while (this.#queue.length > 0) {
        const next = this.#queue.shift()!;
        await this.#post(next);
      }
    })().finally(() => {
      this.#sending = undefined;
    });
  }

  async #post(item: Pending): Promise<void> {
    let topic = "";
    try {
      topic = await this.options.topic();
      const res = await (this.options.fetch ?? fetch)(
        `${this.options.url.replace(/\/+$/, "")}/realtime/v1/api/broadcast`,
        {
          method: "POST",
          headers: {
            apikey: this.options.key,
            authorization: `Bearer ${this.options.key}`,
            "content-type": "application/json",
          },
          body: JSON.stringify({
            messages: [{ topic, event: item.event, payload: item.payload, private: true }],
          }),
        },
      );
      await res.body?.cancel();
      if (res.status !== BROADCAST_ACCEPTED)
        console.warn(`broadcast ${item.event} to ${topic} answered ${res.status}`);
    } catch (error) {
      // The persisted message is the source of truth; a lost live event is only a missed preview.
      console.warn(`broadcast ${item.event} to ${topic} failed: ${(error as Error).message}`);
    }
  }
}
