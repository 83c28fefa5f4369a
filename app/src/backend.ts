import type { SupabaseClient } from "@supabase/supabase-js";
import { createContext, useContext } from "react";
import type { RoomkitClient } from "roomkit";
import type { AppConfig } from "./config.ts";

/** The two clients the whole app talks through, made once in main.tsx. */
export interface Backend {
  supabase: SupabaseClient;
  roomkit: RoomkitClient;
  config: AppConfig;
}

export const BackendContext = createContext<Backend | null>(null);

export function useBackend(): Backend {
  const backend = useContext(BackendContext);
  if (!backend) throw new Error("useBackend() outside <BackendContext.Provider>");
  return backend;
}

/** Roomkit's tables, for the few reads the client library leaves to supabase-js (profiles). */
export function roomkitSchema(supabase: SupabaseClient) {
  return supabase.schema("roomkit");
}
