import { type PresenceDiff, PresenceTopic } from "./presence.ts";
import { EVENTS, encodeText, type OutboundBroadcast, VSN_2, type Vsn } from "./protocol.ts";

/**
 * In-process fan-out between joined channels, keyed by tenant topic as supabase/realtime
 * keys its PubSub (`tenants.ex` `tenant_topic/3`): public and private channels of the same name
 * are different streams.
 */

/** What the hub needs from a joined channel. */
export interface Subscriber {
  readonly vsn: Vsn;
  /** Broadcast read: false on a private channel whose SELECT policy denies broadcast. */
  canReadBroadcast(): boolean;
  /** Presence read: whether this channel gets `presence_diff`. */
  canReadPresence(): boolean;
  /** Writes an already-encoded frame to the socket. */
  sendRaw(frame: string | Buffer): void;
}

/** Tenant topic of a channel (`<tenant>:<name>` vs `<tenant>-private:<name>`). */
export function tenantTopic(subTopic: string, isPrivate: boolean): string {
  return `${isPrivate ? "private" : "public"}:${subTopic}`;
}

export class Hub {
  private readonly topics = new Map<string, Set<Subscriber>>();
  private readonly presence = new Map<string, PresenceTopic>();

  subscribe(topic: string, sub: Subscriber): void {
    const set = this.topics.get(topic);
    if (set) set.add(sub);
    else this.topics.set(topic, new Set([sub]));
  }

  unsubscribe(topic: string, sub: Subscriber): void {
    const set = this.topics.get(topic);
    if (!set) return;
    set.delete(sub);
    if (set.size === 0) this.topics.delete(topic);
  }

  subscriberCount(topic: string): number {
    return this.topics.get(topic)?.size ?? 0;
  }

  /**
   * Sends one broadcast to every subscriber of `topic` allowed to read it, except `from`
   * (`self: false`). Each wire form is encoded at most once.
   *
   * @example
   * hub.publish("private:room:1", frame, senderChannel);
   */
  publish(topic: string, frame: OutboundBroadcast, from?: Subscriber): void {
    const set = this.topics.get(topic);
    if (!set) return;
    const binary = frame.fitsBinary();
    for (const sub of set) {
      if (sub === from || !sub.canReadBroadcast()) continue;
      const wire = sub.vsn === VSN_2 ? (binary ? frame.binary() : frame.v2Text()) : frame.v1();
      if (wire !== null) sub.sendRaw(wire);
    }
  }

  presenceOf(topic: string): PresenceTopic {
    const existing = this.presence.get(topic);
    if (existing) return existing;
    const created = new PresenceTopic();
    this.presence.set(topic, created);
    return created;
  }

  /** Drops an empty presence topic so long-running stacks do not accumulate them. */
  prunePresence(topic: string): void {
    if (this.presence.get(topic)?.size === 0) this.presence.delete(topic);
  }

  /** Announces a presence diff to every subscriber with presence read, the tracker included. */
  publishPresenceDiff(topic: string, wireTopic: string, diff: PresenceDiff): void {
    const set = this.topics.get(topic);
    if (!set) return;
    const encoded: Partial<Record<Vsn, string>> = {};
    for (const sub of set) {
      if (!sub.canReadPresence()) continue;
      let text = encoded[sub.vsn];
      if (text === undefined) {
        text = encodeText(sub.vsn, null, null, wireTopic, EVENTS.presenceDiff, diff);
        encoded[sub.vsn] = text;
      }
      sub.sendRaw(text);
    }
  }
}
