// A short story run inside a throwaway app that installed the packed `roomkit` tarball next to its
// own supabase-js: prints one JSON line of what it saw. Env: URL, ANON_KEY, ROOM_ID (a coworking
// room with capacity 1).
import { randomUUID } from "node:crypto";
import { createClient } from "@supabase/supabase-js";
import { createRoomkitClient, isRoomkitError, RoomkitHttpError } from "roomkit";
import WebSocket from "ws";

const { URL: url, ANON_KEY: key, ROOM_ID: coworkingRoom } = process.env;

async function person(name) {
  const supabase = createClient(url, key, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: WebSocket },
  });
  const { error } = await supabase.auth.signUp({
    email: `${name}-${randomUUID().slice(0, 8)}@example.test`,
    password: `pw-${randomUUID()}`,
    options: { data: { display_name: name } },
  });
  if (error) throw error;
  return { supabase, roomkit: createRoomkitClient(supabase) };
}

const [alice, bob] = await Promise.all([person("alice"), person("bob")]);
const seen = {};

const { data: room } = await alice.roomkit.rooms.create({ name: "Packed", ai_mode: "off" });
const { data: invite } = await alice.roomkit.invites.send(room.id, {
  invitee_id: (await bob.supabase.auth.getUser()).data.user.id,
});
await bob.roomkit.invites.accept(invite.id);
const { data: session, error: openError } = await bob.roomkit.openRoom(room.id);
seen.open = openError?.code ?? "ok";
const arrived = new Promise((resolve) => session.on("message", (m) => m.body === "hello" && resolve(m.body)));
await alice.roomkit.messages.send(room.id, "hello");
seen.message = await Promise.race([arrived, new Promise((r) => setTimeout(() => r("timeout"), 10_000))]);
await session.close();

const notFound = await bob.roomkit.invites.accept(randomUUID());
seen.invite_not_found = notFound.error?.code;
seen.instanceof_http = notFound.error instanceof RoomkitHttpError;
seen.is_roomkit_error = isRoomkitError(notFound.error);
await alice.roomkit.coworking.join(coworkingRoom);
seen.room_full = (await bob.roomkit.coworking.join(coworkingRoom)).error?.code;
seen.room_not_found = (await bob.roomkit.coworking.join(randomUUID())).error?.code;

console.log(JSON.stringify(seen));
await Promise.all([alice.supabase.removeAllChannels(), bob.supabase.removeAllChannels()]);
process.exit(0);
