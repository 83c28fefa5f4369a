import { randomBytes } from "node:crypto";

/**
 * Phoenix Presence state of one topic, with the shapes realtime-js expects
 * (Phoenix `presence.ex`; supabase/realtime `presence_handler.ex`): each tracked presence is a
 * meta `{phx_ref, …fields}` under a key; an update replaces the meta, announced as a join of
 * the new meta (with `phx_ref_prev`) plus a leave of the old one.
 */

export type Meta = Record<string, unknown> & { phx_ref: string; phx_ref_prev?: string };
export type PresenceMap = Record<string, { metas: Meta[] }>;
export interface PresenceDiff {
  joins: PresenceMap;
  leaves: PresenceMap;
}

interface Entry {
  key: string;
  meta: Meta;
  /** JSON of the tracked fields: a track with the same payload is a no-op. */
  fingerprint: string;
}

let refCounter = 0;
const refPrefix = randomBytes(4).toString("hex");

/** A unique `phx_ref` (Phoenix makes them from a monotonic unique integer). */
function newRef(): string {
  refCounter += 1;
  return `F${refPrefix}${refCounter.toString(36)}`;
}

export class PresenceTopic {
  /** One entry per tracking owner (a joined channel). */
  private readonly entries = new Map<object, Entry>();

  get size(): number {
    return this.entries.size;
  }

  /** Full state, as pushed in `presence_state`. */
  state(): PresenceMap {
    const out: PresenceMap = {};
    for (const { key, meta } of this.entries.values()) {
      const { phx_ref_prev: _prev, ...clean } = meta;
      const group = out[key];
      if (group) group.metas.push(clean as Meta);
      else out[key] = { metas: [clean as Meta] };
    }
    return out;
  }

  /**
   * Tracks (or updates) `owner` under `key`. Returns the diff to announce, or null when nothing
   * changed.
   *
   * @example
   * const diff = topic.track(channel, "u1", { name: "Ada" });
   */
  track(owner: object, key: string, fields: Record<string, unknown>): PresenceDiff | null {
    const fingerprint = JSON.stringify(fields);
    const previous = this.entries.get(owner);
    if (previous && previous.key === key && previous.fingerprint === fingerprint) return null;
    const meta: Meta = { ...fields, phx_ref: newRef() };
    const diff: PresenceDiff = { joins: {}, leaves: {} };
    if (previous) {
      if (previous.key === key) meta.phx_ref_prev = previous.meta.phx_ref;
      const { phx_ref_prev: _p, ...left } = previous.meta;
      diff.leaves[previous.key] = { metas: [left as Meta] };
    }
    diff.joins[key] = { metas: [meta] };
    this.entries.set(owner, { key, meta, fingerprint });
    return diff;
  }

  /** Removes `owner`'s presence; the diff to announce, or null if it tracked nothing. */
  untrack(owner: object): PresenceDiff | null {
    const previous = this.entries.get(owner);
    if (!previous) return null;
    this.entries.delete(owner);
    const { phx_ref_prev: _p, ...left } = previous.meta;
    return { joins: {}, leaves: { [previous.key]: { metas: [left as Meta] } } };
  }
}
