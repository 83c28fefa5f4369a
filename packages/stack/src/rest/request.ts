/**
 * Reading one REST request as PostgREST does (`ApiRequest.hs`, `Auth.hs`): the caller from the
 * JWT, the resource from the path, the schema from the profile headers, the media type from
 * `Accept`, the query string (select, filters, order, paging, RPC arguments) and the JSON body.
 */
import type { IncomingMessage } from "node:http";
import { decodeJwt } from "jose";
import type { Caller } from "../caller.ts";
import { decodePathSegment, header, readBody } from "../http.ts";
import { JwtError, verifyJwt } from "../jwt.ts";
import type { StackKeys } from "../keys.ts";
import {
  invalidBody,
  invalidPath,
  jwtClaimsError,
  jwtDecodeError,
  RestError,
  unacceptableSchema,
} from "./errors.ts";
import {
  type Condition,
  parseField,
  parseLogic,
  parseNonNegative,
  parseOperation,
  parseOrder,
  parseSelect,
  type SelectItem,
  splitTopLevel,
  unquote,
} from "./parse.ts";
import type { NodeParams } from "./sql.ts";

/** PostgREST's `db-anon-role` as the Supabase CLI sets it. */
export const ANON_ROLE = "anon";
/** Clock skew PostgREST tolerates on `exp`/`nbf`/`iat` (`Auth/Jwt.hs allowedSkewSeconds`). */
const JWT_SKEW_SECONDS = 30;

/** The request's caller: the JWT's role (or anon) and claims. */
export type Auth = Caller;

/** One request to a relation or a function, as the handlers get it. */
export interface RestRequest {
  req: IncomingMessage;
  /** Upper-case HTTP method. */
  method: string;
  /** The path as PostgREST sees it (`/todos`, `/rpc/fn`), for `request.path`. */
  pathname: string;
  /** The negotiated schema. */
  schema: string;
  /** The relation or function name. */
  name: string;
  search: URLSearchParams;
  auth: Auth;
}

/**
 * Resolves the role and claims of a request from `Authorization: Bearer <jwt>`, as PostgREST's
 * auth middleware does; throws PGRST301/PGRST303 for unusable tokens.
 *
 * @example
 * const { role } = await authenticate(req.headers.authorization, keys); // "anon" without a header
 */
export async function authenticate(authorization: string | undefined, keys: StackKeys): Promise<Auth> {
  if (authorization === undefined) return { role: ANON_ROLE, claims: { role: ANON_ROLE } };
  const m = /^bearer\s*(.*)$/is.exec(authorization.trim());
  if (!m) return { role: ANON_ROLE, claims: { role: ANON_ROLE } };
  const token = m[1]!.trim();
  if (token === "") throw jwtDecodeError("Empty JWT is sent in Authorization header");
  const parts = token.split(".").length;
  if (parts !== 3) throw jwtDecodeError(`Expected 3 parts in JWT; got ${parts}`);
  let claims: Record<string, unknown>;
  try {
    claims = (await verifyJwt(token, keys)) as Record<string, unknown>;
  } catch (error) {
    if (!(error instanceof JwtError)) throw error;
    if (error.reason === "expired") {
      // jose checked the signature before the expiry; PostgREST tolerates 30 s of skew.
      const payload = decodeJwt(token);
      if (typeof payload.exp !== "number" || payload.exp + JWT_SKEW_SECONDS < Date.now() / 1000) {
        throw jwtClaimsError("JWT expired");
      }
      claims = payload as Record<string, unknown>;
    } else if (error.reason === "bad_signature") {
      throw jwtDecodeError(
        "No suitable key or wrong key type",
        "None of the keys was able to decode the JWT",
      );
    } else if (error.reason === "unsupported_alg") {
      throw jwtDecodeError("Wrong or unsupported encoding algorithm");
    } else if (/nbf|not active/i.test(error.message)) {
      throw jwtClaimsError("JWT not yet valid");
    } else {
      throw jwtDecodeError("JWT cryptographic operation failed");
    }
  }
  const role = typeof claims.role === "string" && claims.role !== "" ? claims.role : ANON_ROLE;
  return { role, claims: { ...claims, role } };
}

/** The parsed query string of one request. */
export interface QueryParts {
  select: SelectItem[];
  nodeParams: Map<string, NodeParams>;
  columns?: string[];
  onConflict?: string[];
  rpcArgs: Record<string, string>;
  canonical: string;
}

function nodeFor(map: Map<string, NodeParams>, path: string): NodeParams {
  let node = map.get(path);
  if (!node) {
    node = { conditions: [] };
    map.set(path, node);
  }
  return node;
}

/** Splits the query string into select, per-embed filters/order/paging, and RPC arguments. */
export function parseQuery(search: URLSearchParams, rpcParamNames: Set<string> | null): QueryParts {
  const out: QueryParts = { select: [{ kind: "star" }], nodeParams: new Map(), rpcArgs: {}, canonical: "" };
  nodeFor(out.nodeParams, "");
  const entries = [...search.entries()];
  for (const [key, value] of entries) {
    if (key === "select") {
      out.select = parseSelect(value);
      continue;
    }
    if (key === "columns" || key === "on_conflict") {
      const list = splitTopLevel(value).map((c) => unquote(c.trim()));
      if (key === "columns") out.columns = list;
      else out.onConflict = list;
      continue;
    }
    const segments = key.split(".");
    const last = segments[segments.length - 1]!;
    if (last === "order" || last === "limit" || last === "offset") {
      const node = nodeFor(out.nodeParams, segments.slice(0, -1).join("."));
      if (last === "order") node.order = parseOrder(value);
      else node[last] = parseNonNegative(last, value);
      continue;
    }
    if (last === "or" || last === "and") {
      const negated = segments.length > 1 && segments[segments.length - 2] === "not";
      const path = segments.slice(0, negated ? -2 : -1).join(".");
      nodeFor(out.nodeParams, path).conditions.push(parseLogic(last, negated, value));
      continue;
    }
    if (rpcParamNames && segments.length === 1 && rpcParamNames.has(key)) {
      out.rpcArgs[key] = value;
      continue;
    }
    // A filter: `[embed.path.]column=[not.]op.value`. JSON paths may contain dots only after `->`.
    const arrow = key.indexOf("->");
    const head = arrow < 0 ? key : key.slice(0, arrow);
    const dot = head.lastIndexOf(".");
    const path = dot < 0 ? "" : key.slice(0, dot);
    const fieldText = dot < 0 ? key : key.slice(dot + 1);
    const { negated, operation } = parseOperation(value);
    const condition: Condition = { kind: "filter", field: parseField(fieldText), negated, operation };
    nodeFor(out.nodeParams, path).conditions.push(condition);
  }
  out.canonical = entries
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .sort()
    .join("&");
  return out;
}

/** `Cookie` as the JSON object of `request.cookies`. */
export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

/** A header that may repeat (`Prefer`) as a list of its values. */
export function headerList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * Methods whose schema comes from `Content-Profile`; every other method (GET, HEAD, OPTIONS) uses
 * `Accept-Profile` (`ApiRequest.hs getSchema`).
 */
const CONTENT_PROFILE_METHODS: ReadonlySet<string> = new Set(["POST", "PATCH", "PUT", "DELETE"]);

/** The schema a request addresses. */
export interface Profile {
  schema: string;
  /**
   * The schema was asked for, or several are exposed: responses with a body then carry
   * `Content-Profile` (`Response.hs profileHeader`).
   */
  negotiated: boolean;
}

/**
 * The request's schema from its profile header, or the first exposed schema without one. The
 * value must be one of `schemas` exactly (case matters; an empty value is no schema), else 406
 * PGRST106.
 *
 * @example
 * negotiateProfile("POST", req, ["public", "roomkit"]) // { schema: "roomkit", negotiated: true } with `Content-Profile: roomkit`
 */
export function negotiateProfile(method: string, req: IncomingMessage, schemas: readonly string[]): Profile {
  const requested = header(req, CONTENT_PROFILE_METHODS.has(method) ? "content-profile" : "accept-profile");
  if (requested === undefined) return { schema: schemas[0]!, negotiated: schemas.length > 1 };
  if (!schemas.includes(requested)) throw unacceptableSchema(requested, schemas);
  return { schema: requested, negotiated: true };
}

/** What the path addresses (`ApiRequest.hs getResource`): `/`, `/<relation>` or `/rpc/<fn>`; deeper is 404 PGRST125. */
export type Resource = { kind: "root" } | { kind: "relation"; name: string } | { kind: "rpc"; name: string };

export function parseResource(pathname: string): Resource {
  const segments = pathname
    .split("/")
    .filter((s) => s !== "")
    .map(decodePathSegment);
  if (segments.length === 0) return { kind: "root" };
  if (segments.length === 1) return { kind: "relation", name: segments[0]! };
  if (segments.length === 2 && segments[0] === "rpc") return { kind: "rpc", name: segments[1]! };
  throw invalidPath();
}

/** The response shape `Accept` asked for: one object (`single()`), stripped nulls, CSV. */
export interface Media {
  single: boolean;
  stripNulls: boolean;
  csv?: boolean;
}

/** Media type negotiation for the few types postgrest-js asks for. */
export function negotiate(accept: string | undefined): Media {
  if (!accept) return { single: false, stripNulls: false };
  const types = accept.split(",").map((t) => t.trim().toLowerCase());
  for (const type of types) {
    const base = type.split(";")[0]!.trim();
    const stripNulls = /;\s*nulls=stripped/.test(type);
    if (base === "application/vnd.pgrst.object+json" || base === "application/vnd.pgrst.object") {
      return { single: true, stripNulls };
    }
    if (base === "text/csv") return { single: false, stripNulls: false, csv: true };
    if (
      base === "application/json" ||
      base === "application/vnd.pgrst.array+json" ||
      base === "*/*" ||
      base === "application/*"
    ) {
      return { single: false, stripNulls };
    }
  }
  throw new RestError(406, "PGRST107", `None of these media types are available: ${types.join(", ")}`);
}

/**
 * The JSON body of a write or a POST RPC, read once: `value` is undefined for an empty body;
 * anything that is not JSON is PGRST102.
 *
 * @example
 * const { value } = await readJsonBody(req);
 */
export async function readJsonBody(req: IncomingMessage): Promise<{ raw: string; value: unknown }> {
  const raw = (await readBody(req)).toString("utf8");
  if (raw.trim() === "") return { raw, value: undefined };
  try {
    return { raw, value: JSON.parse(raw) };
  } catch {
    throw invalidBody();
  }
}
