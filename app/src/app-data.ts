import type { SupabaseClient } from "@supabase/supabase-js";
import { createContext, useContext, useEffect } from "react";
import type { InviteWithNames, RoomkitClient, RoomSummary, Subscription } from "roomkit";
import { roomkitSchema } from "./backend.ts";
import { Store, useStore } from "./store.ts";

/** How often the room list re-reads unread counts while the tab is visible. */
const ROOMS_REFRESH_MS = 4000;
/** How often the realtime socket's state is looked at for the connection banner. */
const SOCKET_CHECK_MS = 1000;

export interface Me {
  id: string;
  email: string | null;
  isAnonymous: boolean;
}

export interface Loadable<T> {
  data: T;
  loaded: boolean;
  error: string | null;
}

/**
 * What the signed-in user's screens share: rooms with unread counts, pending invites (live),
 * display names, my profile and the connection state. Made on sign-in, stopped on sign-out.
 *
 * Unread counts: Roomkit broadcasts a room's messages only on that room's topic, so a list of
 * many rooms would need a channel per room to hear them. The list re-reads
 * `roomkit.rooms.list()` (one request for every count) every few seconds instead, and at once
 * after anything that changes it.
 */
export class AppData {
  readonly rooms = new Store<Loadable<RoomSummary[]>>({ data: [], loaded: false, error: null });
  readonly invites = new Store<Loadable<InviteWithNames[]>>({ data: [], loaded: false, error: null });
  /** Display names by user id (all profiles are readable by signed-in users). */
  readonly names = new Store<ReadonlyMap<string, string>>(new Map());
  readonly myName = new Store<string>("");
  /** Realtime connection: `reconnecting` while any open room or the socket is getting back. */
  readonly connection = new Store<{ reconnecting: boolean; generation: number }>({
    reconnecting: false,
    generation: 0,
  });
  private readonly reconnectingSessions = new Set<string>();
  private socketDown = false;
  private inviteSubscription: Subscription | undefined;
  private timers: ReturnType<typeof setInterval>[] = [];
  private pendingNames = new Set<string>();
  private stopped = false;

  constructor(
    readonly me: Me,
    private readonly supabase: SupabaseClient,
    private readonly roomkit: RoomkitClient,
  ) {}

  start(): void {
    void this.refreshRooms();
    void this.refreshInvites();
    void this.loadMyName();
    void this.roomkit.invites
      .onInvite(() => void this.refreshInvites())
      .then(({ data }) => {
        if (this.stopped) void data?.unsubscribe();
        else this.inviteSubscription = data ?? undefined;
      });
    this.timers.push(
      setInterval(() => {
        if (document.visibilityState === "visible") void this.refreshRooms();
      }, ROOMS_REFRESH_MS),
      setInterval(() => this.checkSocket(), SOCKET_CHECK_MS),
    );
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    void this.inviteSubscription?.unsubscribe();
  }

  async refreshRooms(): Promise<void> {
    const { data, error } = await this.roomkit.rooms.list();
    if (this.stopped) return;
    if (error) this.rooms.set((s) => ({ ...s, loaded: true, error: error.message }));
    else this.rooms.set({ data, loaded: true, error: null });
  }

  async refreshInvites(): Promise<void> {
    const { data, error } = await this.roomkit.invites.listPending();
    if (this.stopped) return;
    if (error) this.invites.set((s) => ({ ...s, loaded: true, error: error.message }));
    else this.invites.set({ data, loaded: true, error: null });
  }

  /** Fetches the display names not known yet (batched per tick). */
  ensureNames(ids: Iterable<string>): void {
    const known = this.names.get();
    let added = false;
    for (const id of ids) {
      if (!known.has(id) && !this.pendingNames.has(id)) {
        this.pendingNames.add(id);
        added = true;
      }
    }
    if (!added) return;
    queueMicrotask(() => void this.fetchNames());
  }

  rememberName(id: string, name: string): void {
    if (!name || this.names.get().get(id) === name) return;
    this.names.set((m) => new Map(m).set(id, name));
  }

  async rename(displayName: string): Promise<string | null> {
    const { error } = await roomkitSchema(this.supabase)
      .from("profiles")
      .update({ display_name: displayName })
      .eq("id", this.me.id);
    if (error) return error.message;
    this.myName.set(displayName);
    this.rememberName(this.me.id, displayName);
    return null;
  }

  /** An open room reports its connection (`live` / `reconnecting`) under its own key. */
  reportSession(key: string, status: "live" | "reconnecting" | "gone"): void {
    if (status === "reconnecting") this.reconnectingSessions.add(key);
    else this.reconnectingSessions.delete(key);
    this.publishConnection();
  }

  private async fetchNames(): Promise<void> {
    const ids = [...this.pendingNames];
    if (ids.length === 0) return;
    this.pendingNames = new Set();
    const { data } = await roomkitSchema(this.supabase)
      .from("profiles")
      .select("id, display_name")
      .in("id", ids);
    const rows = (data ?? []) as { id: string; display_name: string }[];
    if (rows.length === 0) return;
    this.names.set((m) => {
      const next = new Map(m);
      for (const row of rows) next.set(row.id, row.display_name);
      return next;
    });
  }

  private async loadMyName(): Promise<void> {
    const { data } = await roomkitSchema(this.supabase)
      .from("profiles")
      .select("display_name")
      .eq("id", this.me.id)
      .maybeSingle();
    const name = (data as { display_name: string } | null)?.display_name;
    if (name) {
      this.myName.set(name);
      this.rememberName(this.me.id, name);
    }
  }

  /**
   * The socket itself, for screens without a room session (lobby, lists): down while it has
   * channels to serve and is not open. Coming back re-reads what broadcasts may have missed.
   */
  private checkSocket(): void {
    const realtime = this.supabase.realtime;
    const down = realtime.getChannels().length > 0 && realtime.connectionState() !== "open";
    if (down === this.socketDown) return;
    this.socketDown = down;
    if (!down) {
      void this.refreshRooms();
      void this.refreshInvites();
    }
    this.publishConnection();
  }

  private publishConnection(): void {
    const reconnecting = this.socketDown || this.reconnectingSessions.size > 0;
    this.connection.set((c) =>
      c.reconnecting === reconnecting
        ? c
        : { reconnecting, generation: reconnecting ? c.generation : c.generation + 1 },
    );
  }
}

export const AppDataContext = createContext<AppData | null>(null);

export function useAppData(): AppData {
  const data = useContext(AppDataContext);
  if (!data) throw new Error("useAppData() outside <AppDataContext.Provider>");
  return data;
}

/** A name lookup for these user ids, fetching unknown ones. */
export function useNames(ids: readonly string[]): (id: string | null) => string {
  const app = useAppData();
  const names = useStore(app.names);
  const key = [...new Set(ids)].sort().join(",");
  useEffect(() => {
    if (key) app.ensureNames(key.split(","));
  }, [app, key]);
  return (id) => (id ? (names.get(id) ?? "…") : "Someone");
}
