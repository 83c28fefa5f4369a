/**
 * How the sub-clients reach the server: PostgREST (tables and RPCs) and edge functions through
 * the caller's supabase-js client, each failure turned into a returned {@link RoomkitError}.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import type { z } from "zod";
import { ROOMKIT_SCHEMA } from "../../functions/_shared/contract.ts";
import type { Database } from "../../functions/_shared/database.types.ts";

export { ROOMKIT_SCHEMA };

import {
  fromFunctionResponse,
  fromPostgrestError,
  RoomkitError,
  RoomkitNetworkError,
  RoomkitValidationError,
  toRoomkitError,
} from "./errors.ts";

/**
 * What every Roomkit call resolves to: data, or an error, never both (supabase-js style).
 *
 * @example
 * const { data, error } = await roomkit.rooms.list();
 * if (error) return console.error(error.code);
 * data.forEach((room) => console.log(room.name, room.unread_count));
 */
export type Result<T> = { data: T; error: null } | { data: null; error: RoomkitError };

/**
 * The supabase-js client Roomkit works through, typed with Roomkit's generated schema. Queries go
 * through `db.schema(ROOMKIT_SCHEMA)`, so the app's own client keeps `public` as its default.
 */
export type Db = SupabaseClient<Database, typeof ROOMKIT_SCHEMA>;

export const ok = <T>(data: T): Result<T> => ({ data, error: null });
export const fail = <T = never>(error: RoomkitError): Result<T> => ({ data: null, error });

/**
 * Validates `input` with a zod schema (the same ones the edge functions use), naming the field
 * paths of every problem.
 */
export function validate<S extends z.ZodType>(schema: S, input: unknown): Result<z.output<S>> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return ok(parsed.data);
  const issues = parsed.error.issues.map((issue) => ({
    path: issue.path.map((p) => (typeof p === "symbol" ? String(p) : p)),
    message: issue.message,
  }));
  const first = issues[0];
  const where = first && first.path.length > 0 ? `${first.path.join(".")}: ` : "";
  return fail(new RoomkitValidationError(`${where}${first?.message ?? "invalid input"}`, issues));
}

/** The part of a postgrest-js response Roomkit reads. */
interface PostgrestLikeResponse {
  data: unknown;
  error: { message: string; details?: string | null; hint?: string | null; code?: string | null } | null;
  status: number;
}

/**
 * Awaits a postgrest-js builder (table query or `rpc`) and maps its error.
 *
 * @example
 * const result = await query(db.schema(ROOMKIT_SCHEMA).rpc("send_message", { room_id, body }));
 */
export async function query<T>(request: PromiseLike<PostgrestLikeResponse>): Promise<Result<T>> {
  try {
    const { data, error, status } = await request;
    if (error) return fail(fromPostgrestError(error, status));
    return ok(data as T);
  } catch (error) {
    return fail(toRoomkitError(error, "network_error"));
  }
}

/** Options of one edge-function call. */
export interface InvokeOptions {
  method: "GET" | "POST" | "PUT" | "DELETE";
  body?: unknown;
}

/**
 * Calls an edge function (`path` may carry a sub-path and query, e.g. `coworking/rooms/<id>/join`)
 * and validates the 2xx body with the function's response schema.
 *
 * @example
 * const result = await invoke(db, "coworking/rooms/x/join", { method: "POST" }, joinCoworkingResponse);
 */
export async function invoke<S extends z.ZodType>(
  db: Db,
  path: string,
  options: InvokeOptions,
  schema: S,
): Promise<Result<z.output<S>>> {
  let response: { data: unknown; error: unknown };
  try {
    response = await db.functions.invoke(path, {
      method: options.method,
      ...(options.body === undefined ? {} : { body: options.body as Record<string, unknown> }),
    });
  } catch (error) {
    return fail(toRoomkitError(error, "network_error"));
  }
  const { data, error } = response;
  if (error) return fail(await fromInvokeError(error));
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    return fail(
      new RoomkitError("internal_error", `Unexpected response from ${path.split("?")[0]}`, {
        details: parsed.error.issues,
      }),
    );
  }
  return ok(parsed.data);
}

/**
 * A functions-js error turned into a Roomkit error. Recognised by `name` and shape, never with
 * `instanceof`: an app whose supabase-js is another copy than the one this library resolves
 * (`npm link`, a `file:` install, two bundles) hands back errors of other classes.
 */
async function fromInvokeError(error: unknown): Promise<RoomkitError> {
  const name = error instanceof Error ? error.name : "";
  const context = (error as { context?: unknown } | null)?.context;
  if ((name === "FunctionsHttpError" || name === "FunctionsRelayError") && isResponse(context)) {
    return fromFunctionResponse(context);
  }
  if (name === "FunctionsFetchError") {
    return new RoomkitNetworkError((error as Error).message, { cause: context });
  }
  return toRoomkitError(error);
}

/** A fetch `Response`, also from another realm or polyfill. */
function isResponse(value: unknown): value is Response {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Response).status === "number" &&
    typeof (value as Response).clone === "function"
  );
}

/** The signed-in user's id, or `not_authenticated`. Reads the local session (no request). */
export async function currentUserId(db: Db): Promise<Result<string>> {
  try {
    const { data, error } = await db.auth.getSession();
    if (error) return fail(toRoomkitError(error, "not_authenticated"));
    const id = data.session?.user.id;
    if (!id) return fail(new RoomkitError("not_authenticated", "Sign in first"));
    return ok(id);
  } catch (error) {
    return fail(toRoomkitError(error, "not_authenticated"));
  }
}
