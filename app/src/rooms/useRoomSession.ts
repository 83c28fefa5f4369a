import { useCallback, useEffect, useRef, useState } from "react";
import type {
  AiReply,
  CloseReason,
  ConnectionStatus,
  EmojiBurst,
  Message,
  OnlineUser,
  Reaction,
  RoomDetails,
  RoomkitError,
  RoomMemberWithProfile,
  RoomSession,
} from "roomkit";
import { useAppData } from "../app-data.ts";
import { useBackend } from "../backend.ts";

/** Messages per history page (the first one and each older one). */
const PAGE = 40;

export interface RoomState {
  phase: "opening" | "open" | "failed" | "closed";
  error: RoomkitError | null;
  closedReason: CloseReason | null;
  details: RoomDetails | null;
  messages: readonly Message[];
  reactions: ReadonlyMap<string, Reaction[]>;
  typing: string[];
  speaking: string[];
  online: OnlineUser[];
  /** AI replies being written, and finished ones until their stored message is in `messages`. */
  replies: AiReply[];
  connection: ConnectionStatus;
  reachedStart: boolean;
  loadingOlder: boolean;
}

const INITIAL: RoomState = {
  phase: "opening",
  error: null,
  closedReason: null,
  details: null,
  messages: [],
  reactions: new Map(),
  typing: [],
  speaking: [],
  online: [],
  replies: [],
  connection: "live",
  reachedStart: false,
  loadingOlder: false,
};

export interface RoomHandle {
  state: RoomState;
  session: RoomSession | null;
  loadOlder(): Promise<void>;
  refreshMembers(): void;
}

/**
 * A live room for a component: opens `roomkit.openRoom` (after `prepare`, e.g. a coworking join),
 * mirrors the session's events into React state and closes it on unmount. The session is the
 * authority on messages (one per id, in the server's order), so state copies `session.messages`.
 */
export function useRoomSession(
  roomId: string,
  options: { prepare?: () => Promise<RoomkitError | null>; onBurst?: (burst: EmojiBurst) => void } = {},
): RoomHandle {
  const { roomkit } = useBackend();
  const app = useAppData();
  const [state, setState] = useState<RoomState>(INITIAL);
  const [session, setSession] = useState<RoomSession | null>(null);
  const optionsRef = useRef(options);
  optionsRef.current = options;
  const membersLoading = useRef<Promise<void> | null>(null);
  const membersAgain = useRef(false);

  const loadReactions = useCallback(
    async (ids: string[]) => {
      const { data } = await roomkit.messages.reactions(roomId, ids);
      if (!data) return;
      setState((s) => {
        const next = new Map(s.reactions);
        for (const id of ids) next.delete(id);
        for (const r of data) next.set(r.message_id, [...(next.get(r.message_id) ?? []), r]);
        return { ...s, reactions: next };
      });
    },
    [roomkit, roomId],
  );

  /** Re-reads the room and its members (with names); calls made meanwhile coalesce into one more. */
  const refreshMembers = useCallback(() => {
    if (membersLoading.current) {
      membersAgain.current = true;
      return;
    }
    membersLoading.current = (async () => {
      do {
        membersAgain.current = false;
        const { data } = await roomkit.rooms.get(roomId);
        if (data) {
          for (const m of data.members) if (m.profile) app.rememberName(m.user_id, m.profile.display_name);
          setState((s) => ({ ...s, details: data }));
        }
      } while (membersAgain.current);
      membersLoading.current = null;
    })();
  }, [roomkit, roomId, app]);

  useEffect(() => {
    let cancelled = false;
    let opened: RoomSession | null = null;
    const key = `room:${roomId}:${Math.random()}`;
    setState(INITIAL);
    setSession(null);

    void (async () => {
      const prepared = optionsRef.current.prepare ? await optionsRef.current.prepare() : null;
      if (cancelled) return;
      if (prepared) {
        setState((s) => ({ ...s, phase: "failed", error: prepared }));
        return;
      }
      const { data: live, error } = await roomkit.openRoom(roomId, { historyLimit: PAGE });
      if (cancelled) {
        await live?.close();
        return;
      }
      if (error) {
        setState((s) => ({ ...s, phase: "failed", error }));
        return;
      }
      opened = live;
      const copyMessages = () => setState((s) => ({ ...s, messages: [...live.messages] }));
      live.on("message", (m) => {
        setState((s) => ({
          ...s,
          messages: [...live.messages],
          // The stored AI message replaces its streaming reply.
          replies: m.kind === "ai" ? s.replies.filter((r) => r.message_id !== m.id) : s.replies,
        }));
      });
      live.on("message_updated", copyMessages);
      live.on("reaction_added", (r) =>
        setState((s) => {
          const list = s.reactions.get(r.message_id) ?? [];
          if (list.some((x) => x.user_id === r.user_id && x.emoji === r.emoji)) return s;
          return { ...s, reactions: new Map(s.reactions).set(r.message_id, [...list, r]) };
        }),
      );
      live.on("reaction_removed", (r) =>
        setState((s) => {
          const list = (s.reactions.get(r.message_id) ?? []).filter(
            (x) => !(x.user_id === r.user_id && x.emoji === r.emoji),
          );
          return { ...s, reactions: new Map(s.reactions).set(r.message_id, list) };
        }),
      );
      live.on("member_joined", refreshMembers);
      live.on("member_left", refreshMembers);
      live.on("member_updated", refreshMembers);
      live.on("room_updated", refreshMembers);
      live.on("presence", (online) => {
        for (const u of online) app.rememberName(u.user_id, u.display_name);
        setState((s) => ({ ...s, online }));
      });
      live.on("typing", (typing) => setState((s) => ({ ...s, typing })));
      live.on("speaking", (speaking) => setState((s) => ({ ...s, speaking })));
      live.on("emoji_burst", (burst) => optionsRef.current.onBurst?.(burst));
      live.on("ai_reply", (reply) =>
        setState((s) => {
          const stored = reply.message_id !== null && live.messages.some((m) => m.id === reply.message_id);
          const others = s.replies.filter((r) => r.reply_id !== reply.reply_id);
          return { ...s, replies: stored ? others : [...others, reply] };
        }),
      );
      live.on("status", (connection) => {
        app.reportSession(key, connection);
        setState((s) => ({ ...s, connection }));
      });
      live.on("resynced", () => {
        // Reaction and member broadcasts sent while disconnected are gone too: re-read them.
        void loadReactions(live.messages.map((m) => m.id));
        refreshMembers();
      });
      live.on("closed", ({ reason }) => {
        app.reportSession(key, "gone");
        setState((s) => ({ ...s, phase: "closed", closedReason: reason, typing: [], speaking: [] }));
        void app.refreshRooms();
      });
      setSession(live);
      setState((s) => ({
        ...s,
        phase: "open",
        messages: [...live.messages],
        online: [...live.onlineUsers],
        reachedStart: live.reachedStart,
      }));
      refreshMembers();
      void loadReactions(live.messages.map((m) => m.id));
    })();

    return () => {
      cancelled = true;
      app.reportSession(key, "gone");
      void opened?.close();
    };
  }, [roomkit, roomId, app, refreshMembers, loadReactions]);

  const loadOlder = useCallback(async () => {
    if (!session || session.reachedStart || state.loadingOlder) return;
    setState((s) => ({ ...s, loadingOlder: true }));
    const { data } = await session.loadOlder(PAGE);
    setState((s) => ({
      ...s,
      loadingOlder: false,
      messages: [...session.messages],
      reachedStart: session.reachedStart,
    }));
    if (data && data.length > 0) void loadReactions(data.map((m) => m.id));
  }, [session, state.loadingOlder, loadReactions]);

  return { state, session, loadOlder, refreshMembers };
}

/** Members of the room with names, the AI first-class (it is listed while the room's AI mode is on). */
export function membersOf(state: RoomState): RoomMemberWithProfile[] {
  return state.details?.members ?? [];
}
