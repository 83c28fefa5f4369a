/**
 * Who is in the room, from the database: the members a session may show as online, typing or
 * speaking, with the names from their profiles and the mic state from their membership rows.
 *
 * Presence and broadcast payloads on Supabase Realtime carry whatever the sending client put in
 * them; Realtime does not say who sent them. So the session trusts a payload only as far as this
 * roster goes: an id that is not a current member is ignored, a name is always the profile's, the
 * mic is the membership row's. What stays a claim: one member can say another member is online or
 * typing.
 */
import { ROOMKIT_SCHEMA } from "../../functions/_shared/contract.ts";
import type { Member } from "./schemas.ts";
import { type Db, query, type Result } from "./transport.ts";

/** One current member as the roster knows them. */
export interface RosterEntry {
  user_id: string;
  display_name: string;
  mic_enabled: boolean;
}

export class Roster {
  readonly #entries = new Map<string, RosterEntry>();

  constructor(
    private readonly db: Db,
    private readonly roomId: string,
  ) {}

  /** Loads the current members with their profile names (replacing what was known). */
  async load(): Promise<Result<null>> {
    const rows = await query<
      { user_id: string; mic_enabled: boolean; profile: { display_name: string } | null }[]
    >(
      this.db
        .schema(ROOMKIT_SCHEMA)
        .from("room_members")
        .select("user_id, mic_enabled, profile:profiles!user_id(display_name)")
        .eq("room_id", this.roomId)
        .is("left_at", null),
    );
    if (rows.error) return rows;
    this.#entries.clear();
    for (const r of rows.data)
      this.#entries.set(r.user_id, {
        user_id: r.user_id,
        display_name: r.profile?.display_name ?? "",
        mic_enabled: r.mic_enabled,
      });
    return { data: null, error: null };
  }

  /** Applies a membership row from a database event; a newcomer's name is fetched from their profile. */
  async apply(row: Member): Promise<void> {
    if (row.left_at !== null) {
      this.#entries.delete(row.user_id);
      return;
    }
    const known = this.#entries.get(row.user_id);
    this.#entries.set(row.user_id, {
      user_id: row.user_id,
      display_name: known?.display_name ?? "",
      mic_enabled: row.mic_enabled,
    });
    if (known) return;
    const profile = await query<{ display_name: string } | null>(
      this.db
        .schema(ROOMKIT_SCHEMA)
        .from("profiles")
        .select("display_name")
        .eq("id", row.user_id)
        .maybeSingle(),
    );
    const entry = this.#entries.get(row.user_id);
    if (entry && profile.data) entry.display_name = profile.data.display_name;
  }

  /** The member with this id, or undefined for anyone who is not (or no longer) in the room. */
  get(userId: string): RosterEntry | undefined {
    return this.#entries.get(userId);
  }
}
