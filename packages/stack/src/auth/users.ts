import { randomUUID } from "node:crypto";
import type postgres from "postgres";

type Sql = postgres.Sql | postgres.TransactionSql;
type Json = Record<string, unknown>;

/**
 * A jsonb query parameter. postgres.js serialises parameters the server types as jsonb itself,
 * so objects go in as they are (a pre-stringified value would be stored as a JSON string).
 */
export function jsonb(value: Record<string, unknown>): postgres.JSONValue {
  return value as postgres.JSONValue;
}

/** GoTrue's single instance id: every row it writes carries it (GoTrue `models/user.go`). */
export const INSTANCE_ID = "00000000-0000-0000-0000-000000000000";
/** Audience and role of ordinary users (`GOTRUE_JWT_AUD`, `GOTRUE_JWT_DEFAULT_GROUP_NAME`). */
export const DEFAULT_AUD = "authenticated";
export const DEFAULT_ROLE = "authenticated";

/** The `auth.users` columns the stand-in reads. Token columns are never read, so NULL and '' are alike. */
export interface UserRow {
  id: string;
  aud: string | null;
  role: string | null;
  email: string | null;
  phone: string | null;
  encrypted_password: string | null;
  email_confirmed_at: Date | null;
  phone_confirmed_at: Date | null;
  confirmed_at: Date | null;
  confirmation_sent_at: Date | null;
  recovery_sent_at: Date | null;
  email_change: string | null;
  email_change_sent_at: Date | null;
  invited_at: Date | null;
  last_sign_in_at: Date | null;
  raw_app_meta_data: Json | null;
  raw_user_meta_data: Json | null;
  created_at: Date | null;
  updated_at: Date | null;
  banned_until: Date | null;
  deleted_at: Date | null;
  is_anonymous: boolean;
}

export interface IdentityRow {
  id: string;
  provider_id: string;
  user_id: string;
  identity_data: Json;
  provider: string;
  last_sign_in_at: Date | null;
  created_at: Date | null;
  updated_at: Date | null;
  email: string | null;
}

const USER_COLUMNS = `id, aud, role, email, phone, encrypted_password, email_confirmed_at, phone_confirmed_at,
  confirmed_at, confirmation_sent_at, recovery_sent_at, email_change, email_change_sent_at, invited_at,
  last_sign_in_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at, banned_until, deleted_at,
  is_anonymous`;

/** Lookups follow GoTrue: this instance and audience only. */
export async function findUserById(sql: Sql, id: string, lock = false): Promise<UserRow | undefined> {
  const rows = await sql.unsafe<UserRow[]>(
    `select ${USER_COLUMNS} from auth.users where instance_id = $1 and id = $2${lock ? " for update" : ""}`,
    [INSTANCE_ID, id],
  );
  return rows[0];
}

export async function findUserByEmail(sql: Sql, email: string): Promise<UserRow | undefined> {
  const rows = await sql.unsafe<UserRow[]>(
    `select ${USER_COLUMNS} from auth.users
      where instance_id = $1 and aud = $2 and lower(email) = lower($3) and is_sso_user = false`,
    [INSTANCE_ID, DEFAULT_AUD, email],
  );
  return rows[0];
}

export async function identitiesOf(sql: Sql, userIds: string[]): Promise<Map<string, IdentityRow[]>> {
  const map = new Map<string, IdentityRow[]>();
  if (userIds.length === 0) return map;
  const rows = await sql.unsafe<IdentityRow[]>(
    `select id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at, email
       from auth.identities where user_id = any($1::uuid[]) order by created_at`,
    [userIds],
  );
  for (const row of rows) {
    const list = map.get(row.user_id) ?? [];
    list.push(row);
    map.set(row.user_id, list);
  }
  return map;
}

/** Inserts a user the way GoTrue's `tx.Create(user)` leaves the row: token columns '' (not NULL). */
export async function insertUser(
  sql: Sql,
  user: {
    id?: string;
    email: string | null;
    phone?: string | null;
    encryptedPassword: string | null;
    emailConfirmed: boolean;
    appMetadata: Json;
    userMetadata: Json;
    isAnonymous: boolean;
    role?: string;
    bannedUntil?: Date | null;
  },
): Promise<string> {
  const id = user.id ?? randomUUID();
  await sql.unsafe(
    `insert into auth.users (instance_id, id, aud, role, email, phone, encrypted_password, email_confirmed_at,
       confirmation_token, recovery_token, email_change_token_new, email_change, email_change_token_current,
       phone_change, phone_change_token, reauthentication_token, raw_app_meta_data, raw_user_meta_data,
       is_super_admin, created_at, updated_at, is_anonymous, banned_until)
     values ($1, $2, $3, $4, $5, $6, $7, case when $8 then now() end, '', '', '', '', '', '', '', '',
       $9::jsonb, $10::jsonb, false, now(), now(), $11, $12)`,
    [
      INSTANCE_ID,
      id,
      DEFAULT_AUD,
      user.role ?? DEFAULT_ROLE,
      user.email,
      user.phone ?? null,
      user.encryptedPassword ?? "",
      user.emailConfirmed,
      jsonb(user.appMetadata),
      jsonb(user.userMetadata),
      user.isAnonymous,
      user.bannedUntil ?? null,
    ],
  );
  return id;
}

/** The email identity GoTrue creates next to an email user (`provider_id` = user id). */
export async function insertEmailIdentity(sql: Sql, userId: string, identityData: Json): Promise<void> {
  await sql.unsafe(
    `insert into auth.identities (id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
     values (gen_random_uuid(), $1::text, $2::uuid, $3::jsonb, 'email', now(), now(), now())`,
    [userId, userId, jsonb(identityData)],
  );
}

/**
 * A user as GoTrue's email sign-up leaves them with mailer autoconfirm on (the CLI default):
 * confirmed, an email identity, the identity's claims merged into `user_metadata`. Used by
 * `/signup` and by `/otp` for an address it has not seen.
 */
export async function insertSignedUpUser(
  sql: Sql,
  user: { email: string; encryptedPassword: string | null; userMetadata: Json },
): Promise<string> {
  const identity = { email: user.email, email_verified: true, phone_verified: false };
  const id = await insertUser(sql, {
    email: user.email,
    encryptedPassword: user.encryptedPassword,
    emailConfirmed: true,
    appMetadata: { provider: "email", providers: ["email"] },
    userMetadata: user.userMetadata,
    isAnonymous: false,
  });
  await insertEmailIdentity(sql, id, { sub: id, ...identity });
  await sql.unsafe(
    `update auth.users set raw_user_meta_data = raw_user_meta_data || $2::jsonb where id = $1`,
    [id, jsonb({ sub: id, ...identity })],
  );
  return id;
}

function iso(date: Date | null): string | undefined {
  return date ? date.toISOString() : undefined;
}

/** Keys whose value is `undefined` are left out, as GoTrue's `omitempty` fields. */
function compact(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

/**
 * The user object GoTrue returns (`models.User` JSON): `email`/`phone` are '' when NULL,
 * optional timestamps only when set, identities included.
 */
export function userJson(row: UserRow, identities: IdentityRow[] = []): Record<string, unknown> {
  return compact({
    id: row.id,
    aud: row.aud ?? "",
    role: row.role ?? "",
    email: row.email ?? "",
    email_confirmed_at: iso(row.email_confirmed_at),
    phone: row.phone ?? "",
    phone_confirmed_at: iso(row.phone_confirmed_at),
    confirmation_sent_at: iso(row.confirmation_sent_at),
    confirmed_at: iso(row.confirmed_at),
    recovery_sent_at: iso(row.recovery_sent_at),
    new_email: row.email_change ? row.email_change : undefined,
    email_change_sent_at: iso(row.email_change_sent_at),
    invited_at: iso(row.invited_at),
    last_sign_in_at: iso(row.last_sign_in_at),
    app_metadata: row.raw_app_meta_data ?? {},
    user_metadata: row.raw_user_meta_data ?? {},
    identities: identities.map(identityJson),
    created_at: iso(row.created_at) ?? "",
    updated_at: iso(row.updated_at) ?? "",
    banned_until: iso(row.banned_until),
    deleted_at: iso(row.deleted_at),
    is_anonymous: row.is_anonymous,
  });
}

function identityJson(row: IdentityRow): Record<string, unknown> {
  return compact({
    identity_id: row.id,
    id: row.provider_id,
    user_id: row.user_id,
    identity_data: row.identity_data,
    provider: row.provider,
    last_sign_in_at: iso(row.last_sign_in_at),
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    email: row.email ?? undefined,
  });
}

/**
 * Merges `patch` into metadata as GoTrue's `UpdateUserMetaData` does: keys are replaced,
 * a `null` value removes the key.
 */
export function mergeMetadata(current: Json | null, patch: Json): Json {
  const next: Json = { ...(current ?? {}) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete next[key];
    else next[key] = value;
  }
  return next;
}
