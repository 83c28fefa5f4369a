import type { Schema } from "../../functions/_shared/contract.ts";
import { RoomkitError } from "./errors.ts";
import {
  AI_USER_ID,
  type AiMode,
  aiMode,
  type CreateRoomInput,
  createRoomInput,
  id,
  type Member,
  type MemberRole,
  memberRole,
  type Profile,
  type Room,
  type UpdateRoomInput,
  updateRoomInput,
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
 * A room I am in, with my role and how many messages by others I have not read.
 *
 * @example
 * const { data: rooms } = await roomkit.rooms.list();
 * rooms?.map((r) => `${r.name} (${r.unread_count})`);
 */
export interface RoomSummary extends Room {
  role: MemberRole;
  unread_count: number;
}

/**
 * A member with the profile fields a member list shows.
 *
 * @example
 * const { data } = await roomkit.rooms.get(roomId);
 * data?.members.map((m) => m.profile?.display_name ?? "Unknown");
 */
export interface RoomMemberWithProfile extends Member {
  profile: Pick<Profile, "id" | "display_name" | "avatar_url" | "is_ai"> | null;
}

/**
 * A room with its active members; the AI participant is listed when the room's AI mode is not `off`.
 *
 * @example
 * const { data } = await roomkit.rooms.get(roomId);
 * data?.room.name;
 * data?.members.length;
 */
export interface RoomDetails {
  room: Room;
  members: RoomMemberWithProfile[];
}

const PROFILE_FIELDS = "id,display_name,avatar_url,is_ai";

/**
 * Private rooms: create, list mine, read one with its members, leave, delete, manage members
 * and the AI participant. Every method resolves to `{ data, error }`.
 *
 * @example
 * const { data: room } = await roomkit.rooms.create({ name: "Book club" });
 * const { data: mine } = await roomkit.rooms.list();
 */
export class RoomsClient {
  /** @internal */
  constructor(
    private readonly db: Db,
    private readonly hooks: { beforeLeave(roomId: string): void },
  ) {}

  /**
   * Creates a private room owned by the caller. The AI participant is in it unless `ai_mode` is `off`
   * (default `mention`: it answers messages that mention `@ai`).
   *
   * @example
   * const { data: room, error } = await roomkit.rooms.create({ name: "Team", ai_mode: "mention" });
   */
  async create(input: CreateRoomInput): Promise<Result<Room>> {
    const valid = validate(createRoomInput, input);
    if (valid.error) return valid;
    const { name, description, ai_mode } = valid.data;
    return query<Room>(
      this.db
        .schema(ROOMKIT_SCHEMA)
        .rpc("create_private_room", {
          name,
          ...(description === undefined ? {} : { description }),
          ...(ai_mode === undefined ? {} : { ai_mode }),
        })
        .single(),
    );
  }

  /**
   * The rooms I am an active member of (private and coworking), newest activity first is up to the
   * caller; each with my role and unread count.
   *
   * @example
   * const { data } = await roomkit.rooms.list();
   * const unread = data?.reduce((n, r) => n + r.unread_count, 0);
   */
  async list(): Promise<Result<RoomSummary[]>> {
    const me = await currentUserId(this.db);
    if (me.error) return me;
    const [memberships, counts] = await Promise.all([
      query<{ role: MemberRole; room: Room | null }[]>(
        this.db
          .schema(ROOMKIT_SCHEMA)
          .from("room_members")
          .select("role, room:rooms(*)")
          .eq("user_id", me.data)
          .is("left_at", null)
          .order("joined_at", { ascending: false }),
      ),
      query<{ room_id: string; unread_count: number }[]>(
        this.db.schema(ROOMKIT_SCHEMA).rpc("room_unread_counts"),
      ),
    ]);
    if (memberships.error) return memberships;
    if (counts.error) return counts;
    const unread = new Map(counts.data.map((c) => [c.room_id, Number(c.unread_count)]));
    return ok(
      memberships.data
        .filter((m): m is { role: MemberRole; room: Room } => m.room !== null)
        .map((m) => ({ ...m.room, role: m.role, unread_count: unread.get(m.room.id) ?? 0 })),
    );
  }

  /**
   * One room with its active members and their profiles. Private rooms list the AI participant
   * (role `member`, `profile.is_ai`) while `ai_mode` is not `off`. `room_not_found` when the room
   * does not exist or the caller may not see it.
   *
   * @example
   * const { data } = await roomkit.rooms.get(roomId);
   * data?.members.map((m) => m.profile?.display_name);
   */
  async get(roomId: string): Promise<Result<RoomDetails>> {
    const valid = validate(id, roomId);
    if (valid.error) return valid;
    const [room, members] = await Promise.all([
      query<Room | null>(
        this.db.schema(ROOMKIT_SCHEMA).from("rooms").select("*").eq("id", roomId).maybeSingle(),
      ),
      query<RoomMemberWithProfile[]>(
        this.db
          .schema(ROOMKIT_SCHEMA)
          .from("room_members")
          .select(`*, profile:profiles(${PROFILE_FIELDS})`)
          .eq("room_id", roomId)
          .is("left_at", null)
          .order("joined_at", { ascending: true }),
      ),
    ]);
    if (room.error) return room;
    if (members.error) return members;
    if (!room.data) return fail(new RoomkitError("room_not_found", "Room not found"));
    const list = [...members.data];
    if (
      room.data.kind === "private" &&
      room.data.ai_mode !== "off" &&
      !list.some((m) => m.user_id === AI_USER_ID)
    ) {
      const ai = await query<RoomMemberWithProfile["profile"]>(
        this.db
          .schema(ROOMKIT_SCHEMA)
          .from("profiles")
          .select(PROFILE_FIELDS)
          .eq("id", AI_USER_ID)
          .maybeSingle(),
      );
      if (ai.error) return ai;
      list.push(aiMember(room.data, ai.data));
    }
    return ok({ room: room.data, members: list });
  }

  /**
   * Changes a private room's name or description (owner/admin).
   *
   * @example
   * await roomkit.rooms.update(roomId, { name: "Renamed" });
   */
  async update(roomId: string, changes: UpdateRoomInput): Promise<Result<Room>> {
    const validId = validate(id, roomId);
    if (validId.error) return validId;
    const valid = validate(updateRoomInput, changes);
    if (valid.error) return valid;
    const patch = Object.fromEntries(
      Object.entries(valid.data).filter(([, v]) => v !== undefined),
    ) as Schema["Tables"]["rooms"]["Update"];
    const result = await query<Room[]>(
      this.db.schema(ROOMKIT_SCHEMA).from("rooms").update(patch).eq("id", roomId).select("*"),
    );
    if (result.error) return result;
    const [room] = result.data;
    // RLS hides rooms the caller may not update: zero rows means "not yours to change".
    if (!room) return fail(new RoomkitError("forbidden", "Only the room's owner or an admin can change it"));
    return ok(room);
  }

  /**
   * Sets when the AI participant answers: `off`, `mention` (messages with `@ai`) or `always`.
   *
   * @example
   * await roomkit.rooms.setAiMode(roomId, "off");
   */
  async setAiMode(roomId: string, mode: AiMode): Promise<Result<Room>> {
    const valid = validate(aiMode, mode);
    if (valid.error) return valid;
    return this.update(roomId, { ai_mode: valid.data });
  }

  /**
   * Leaves a room. A leaving owner hands the room to the longest-standing admin (else member);
   * the last one out deletes it. Open sessions of this room end with reason `left`.
   *
   * @example
   * await roomkit.rooms.leave(roomId);
   */
  async leave(roomId: string): Promise<Result<null>> {
    const valid = validate(id, roomId);
    if (valid.error) return valid;
    this.hooks.beforeLeave(roomId);
    const result = await query<null>(this.db.schema(ROOMKIT_SCHEMA).rpc("leave_room", { room_id: roomId }));
    return result.error ? result : ok(null);
  }

  /**
   * Deletes a private room (owner only). Everyone's open sessions end with reason `room_deleted`.
   *
   * @example
   * await roomkit.rooms.delete(roomId);
   */
  async delete(roomId: string): Promise<Result<null>> {
    const valid = validate(id, roomId);
    if (valid.error) return valid;
    const result = await query<null>(this.db.schema(ROOMKIT_SCHEMA).rpc("delete_room", { room_id: roomId }));
    return result.error ? result : ok(null);
  }

  /**
   * Removes a member from a private room (owner: anyone else; admin: plain members).
   * Their open session ends with reason `removed`.
   *
   * @example
   * await roomkit.rooms.removeMember(roomId, userId);
   */
  async removeMember(roomId: string, userId: string): Promise<Result<null>> {
    const valid = validate(id, roomId);
    if (valid.error) return valid;
    const validUser = validate(id, userId);
    if (validUser.error) return validUser;
    const result = await query<null>(
      this.db.schema(ROOMKIT_SCHEMA).rpc("remove_member", { room_id: roomId, user_id: userId }),
    );
    return result.error ? result : ok(null);
  }

  /**
   * Makes a member an admin or a plain member (owner only).
   *
   * @example
   * await roomkit.rooms.setMemberRole(roomId, userId, "admin");
   */
  async setMemberRole(
    roomId: string,
    userId: string,
    role: Exclude<MemberRole, "owner">,
  ): Promise<Result<Member>> {
    const valid = validate(id, roomId);
    if (valid.error) return valid;
    const validUser = validate(id, userId);
    if (validUser.error) return validUser;
    const validRole = validate(memberRole.exclude(["owner"]), role);
    if (validRole.error) return validRole;
    return query<Member>(
      this.db
        .schema(ROOMKIT_SCHEMA)
        .rpc("set_member_role", { room_id: roomId, user_id: userId, role: validRole.data })
        .single(),
    );
  }
}

/** The AI participant as a member entry: it has no membership row, its presence is the room's AI mode. */
function aiMember(room: Room, profile: RoomMemberWithProfile["profile"]): RoomMemberWithProfile {
  return {
    room_id: room.id,
    user_id: AI_USER_ID,
    role: "member",
    joined_at: room.created_at,
    left_at: null,
    mic_enabled: false,
    voice_connected: false,
    last_read_at: room.created_at,
    last_seen_at: room.created_at,
    removed_until: null,
    profile: profile ?? { id: AI_USER_ID, display_name: "Roomkit AI", avatar_url: null, is_ai: true },
  };
}
