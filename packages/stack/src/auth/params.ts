import type { IncomingMessage, ServerResponse } from "node:http";
import { header } from "../http.ts";
import { E } from "./errors.ts";

export type Json = Record<string, unknown>;

/** One Auth route handler: `params` are the path's captured segments, decoded. */
export type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  params: string[],
) => Promise<void>;

/** A route: method, path pattern, handler. */
export type Route = [method: string, pattern: RegExp, handler: Handler];

/**
 * The address format GoTrue accepts: badoux/checkmail's `ValidateFormat` pattern (the HTML5
 * email grammar): atext characters before `@`, dot-separated DNS labels after it.
 */
const EMAIL_FORMAT =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

/** A JSON body field as an object; anything else reads as `{}`, as Go's decoder leaves a map empty. */
export function asObject(value: unknown): Json {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Json) : {};
}

/** A non-empty string field, else undefined (Go's zero value ""). */
export function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * GoTrue's `validateEmail`: trimmed, at most 255 characters, the HTML5 grammar; lower-cased.
 *
 * @example
 * validateEmail(" Ada@Example.com ") // "ada@example.com"
 */
export function validateEmail(raw: string): string {
  const email = raw.trim();
  if (email.length > 255 || !EMAIL_FORMAT.test(email)) {
    throw E.validation("Unable to validate email address: invalid format");
  }
  return email.toLowerCase();
}

/** The caller's user agent and address, recorded on `auth.sessions`. */
export function clientMeta(req: IncomingMessage): { userAgent: string | undefined; ip: string | undefined } {
  const forwarded = header(req, "x-forwarded-for")?.split(",")[0]?.trim();
  return { userAgent: header(req, "user-agent"), ip: forwarded || req.socket.remoteAddress || undefined };
}
