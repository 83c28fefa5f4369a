import { RoomkitValidationError } from "./errors.ts";
import { decodeCursor, encodeCursor, fromMicros, keysetFilter, type OrderKey, orderKey } from "./order.ts";
import {
  emoji,
  id,
  isoTimestamp,
  type ListMessagesInput,
  listMessagesInput,
  type Message,
  type Reaction,
  type SendMessageInput,
  sendMessageInput,
} from "./schemas.ts";
import {
  currentUserId,
  type Db,
  fail,
  ok,
  query,
  type Result,
  ROOMKIT_SCHEMA,
  validate,
} from "./transport.ts";

/**
 * One page of history, newest first; pass `next_cursor` as `before` for the page before it.
 *
 * @example
 * const { data: page } = await roomkit.messages.list(roomId);
 * if (page?.next_cursor) await roomkit.messages.list(roomId, { before: page.next_cursor });
 */
export interface MessagePage {
  messages: Message[];
  /** Cursor of the page before this one, or null at the start of the room's history. */
  next_cursor: string | null;
}

/**
 * Room messages: history with keyset pagination, sending text and emoji, deleting my own,
 * reactions and read markers. Live delivery is the job of a room session (`roomkit.openRoom`).
 *
 * @example
 * const { data: page } = await roomkit.messages.list(roomId, { limit: 30 });
 * await roomkit.messages.send(roomId, "Hello!");
 */
export class MessagesClient {
  /** @internal */
  constructor(private readonly db: Db) {}

  /**
   * A page of history, newest first, ordered like the server's index `(created_at desc, id desc)`.
   * Keyset pagination: pages stay exact while new messages arrive (no offset drift).
   *
   * @example
   * let page = (await roomkit.messages.list(roomId, { limit: 50 })).data;
   * while (page?.next_cursor) page = (await roomkit.messages.list(roomId, { before: page.next_cursor })).data;
   */
  async list(roomId: string, options: ListMessagesInput = {}): Promise<Result<MessagePage>> {
    const validId = validate(id, roomId);
    if (validId.error) return validId;
    const valid = validate(listMessagesInput, options);
    if (valid.error) return valid;
    // The last page's `next_cursor` is null: passed back, it asks for what precedes the first message.
    if (valid.data.before === null) return ok({ messages: [], next_cursor: null });
    let before: OrderKey | undefined;
    if (valid.data.before !== undefined) {
      before = decodeCursor(valid.data.before);
      if (!before) {
        return fail(
          new RoomkitValidationError("before: not a cursor from messages.list", [
            { path: ["before"], message: "not a cursor from messages.list" },
          ]),
        );
      }
    }
    const limit = valid.data.limit;
    let request = this.db.schema(ROOMKIT_SCHEMA).from("room_messages").select("*").eq("room_id", roomId);
    if (before) request = request.or(keysetFilter(before, "lt"));
    // One extra row tells whether an older page exists without a count query.
    const result = await query<Message[]>(
      request
        .order("created_at", { ascending: false })
        .order("id", { ascending: false })
        .limit(limit + 1),
    );
    if (result.error) return result;
    const rows = result.data;
    const messages = rows.slice(0, limit);
    const oldest = messages[messages.length - 1];
    return ok({
      messages,
      next_cursor: rows.length > limit && oldest ? encodeCursor(orderKey(oldest)) : null,
    });
  }

  /**
   * Messages after a point in the server order, oldest first (what a session uses to backfill).
   * `since` is inclusive and in microseconds; `after` (exclusive) continues a previous page.
   * @internal
   */
  async listAfter(
    roomId: string,
    from: { since?: number; after?: OrderKey },
    limit: number,
  ): Promise<Result<Message[]>> {
    let request = this.db.schema(ROOMKIT_SCHEMA).from("room_messages").select("*").eq("room_id", roomId);
    if (from.after) request = request.or(keysetFilter(from.after, "gt"));
    else if (from.since !== undefined) request = request.gte("created_at", fromMicros(from.since));
    return query<Message[]>(
      request.order("created_at", { ascending: true }).order("id", { ascending: true }).limit(limit),
    );
  }

  /**
   * Sends a text message (1–4000 characters), or an emoji message with `{ kind: "emoji" }`.
   *
   * @example
   * await roomkit.messages.send(roomId, "See you at 3");
   * await roomkit.messages.send(roomId, { kind: "emoji", body: "🎉" });
   */
  async send(roomId: string, message: string | SendMessageInput): Promise<Result<Message>> {
    const validId = validate(id, roomId);
    if (validId.error) return validId;
    const input = typeof message === "string" ? { kind: "text" as const, body: message } : message;
    const valid = validate(sendMessageInput, input);
    if (valid.error) return valid;
    return query<Message>(
      this.db
        .schema(ROOMKIT_SCHEMA)
        .rpc("send_message", { room_id: roomId, body: valid.data.body, kind: valid.data.kind })
        .single(),
    );
  }

  /**
   * Sends an emoji message (persisted, unlike a session's `sendBurst`).
   *
   * @example
   * await roomkit.messages.sendEmoji(roomId, "👋");
   */
  async sendEmoji(roomId: string, value: string): Promise<Result<Message>> {
    return this.send(roomId, { kind: "emoji", body: value });
  }

  /**
   * Deletes one of my messages (soft delete: the row stays with `deleted_at` set and no body).
   *
   * @example
   * await roomkit.messages.delete(messageId);
   */
  async delete(messageId: string): Promise<Result<Message>> {
    const valid = validate(id, messageId);
    if (valid.error) return valid;
    return query<Message>(
      this.db.schema(ROOMKIT_SCHEMA).rpc("delete_message", { message_id: messageId }).single(),
    );
  }

  /**
   * Adds my reaction to a message. Reacting twice with the same emoji is not an error.
   *
   * @example
   * await roomkit.messages.react(messageId, "👍");
   */
  async react(messageId: string, value: string): Promise<Result<null>> {
    const valid = this.reactionInput(messageId, value);
    if (valid.error) return valid;
    const me = await currentUserId(this.db);
    if (me.error) return me;
    const result = await query<null>(
      this.db
        .schema(ROOMKIT_SCHEMA)
        .from("message_reactions")
        .insert({ message_id: messageId, user_id: me.data, emoji: value } as Reaction),
    );
    // 23505 on the (message, user, emoji) key: the reaction is already there, which is what was asked.
    if (result.error && !(result.error.code === "conflict")) return result;
    return ok(null);
  }

  /**
   * Removes my reaction (no error when there was none).
   *
   * @example
   * await roomkit.messages.unreact(messageId, "👍");
   */
  async unreact(messageId: string, value: string): Promise<Result<null>> {
    const valid = this.reactionInput(messageId, value);
    if (valid.error) return valid;
    const me = await currentUserId(this.db);
    if (me.error) return me;
    const result = await query<null>(
      this.db
        .schema(ROOMKIT_SCHEMA)
        .from("message_reactions")
        .delete()
        .eq("message_id", messageId)
        .eq("user_id", me.data)
        .eq("emoji", value),
    );
    return result.error ? result : ok(null);
  }

  /**
   * Reactions on messages of a room (e.g. the ones on screen).
   *
   * @example
   * const { data } = await roomkit.messages.reactions(roomId, page.messages.map((m) => m.id));
   */
  async reactions(roomId: string, messageIds: string[]): Promise<Result<Reaction[]>> {
    const valid = validate(id, roomId);
    if (valid.error) return valid;
    if (messageIds.length === 0) return ok([]);
    return query<Reaction[]>(
      this.db
        .schema(ROOMKIT_SCHEMA)
        .from("message_reactions")
        .select("*")
        .eq("room_id", roomId)
        .in("message_id", messageIds)
        .order("created_at", { ascending: true }),
    );
  }

  /**
   * Marks the room read up to `at` (default: now), which resets its unread count.
   *
   * @example
   * await roomkit.messages.markRead(roomId);
   */
  async markRead(roomId: string, at?: string): Promise<Result<null>> {
    const valid = validate(id, roomId);
    if (valid.error) return valid;
    if (at !== undefined) {
      const validAt = validate(isoTimestamp, at);
      if (validAt.error) return validAt;
    }
    const result = await query<null>(
      this.db
        .schema(ROOMKIT_SCHEMA)
        .rpc("mark_room_read", { room_id: roomId, ...(at === undefined ? {} : { at }) }),
    );
    return result.error ? result : ok(null);
  }

  private reactionInput(messageId: string, value: string): Result<string> {
    const valid = validate(id, messageId);
    if (valid.error) return valid;
    const validEmoji = validate(emoji, value);
    if (validEmoji.error) return validEmoji;
    return ok(value);
  }
}
