import type { SupabaseClient } from "@supabase/supabase-js";
import { roomkitSchema } from "../backend.ts";

/** Which kinds of notification reach the user, by email and push alike (`roomkit.notification_preferences`). */
export interface NotificationPreferences {
  invites: boolean;
  mentions: boolean;
  ai_replies: boolean;
}

export type NotificationKind = keyof NotificationPreferences;

/** A user without a row gets every kind. */
export const ALL_ON: NotificationPreferences = { invites: true, mentions: true, ai_replies: true };

/** The kinds in the order the settings page lists them, with their labels. */
export const NOTIFICATION_KINDS: { kind: NotificationKind; label: string; hint: string }[] = [
  { kind: "invites", label: "Invites", hint: "Someone invites you to a room." },
  { kind: "mentions", label: "Mentions", hint: "Someone writes @your name while you are away." },
  { kind: "ai_replies", label: "AI replies", hint: "The AI answers your question while you are away." },
];

/** The signed-in user's preferences (all on when they never saved any). */
export async function loadPreferences(
  supabase: SupabaseClient,
): Promise<{ data: NotificationPreferences; error: string | null }> {
  const { data, error } = await roomkitSchema(supabase)
    .from("notification_preferences")
    .select("invites, mentions, ai_replies")
    .maybeSingle();
  if (error) return { data: ALL_ON, error: error.message };
  return { data: (data as NotificationPreferences | null) ?? ALL_ON, error: null };
}

/** Saves all three kinds as the signed-in user's row (created on the first save). Resolves with an error message or null. */
export async function savePreferences(
  supabase: SupabaseClient,
  preferences: NotificationPreferences,
): Promise<string | null> {
  const { invites, mentions, ai_replies } = preferences;
  const { error } = await roomkitSchema(supabase)
    .from("notification_preferences")
    .upsert({ invites, mentions, ai_replies }, { onConflict: "user_id" });
  return error?.message ?? null;
}
