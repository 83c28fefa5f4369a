import { createECDH, createHmac } from "node:crypto";
import type { ServerResponse } from "node:http";
import { join } from "node:path";
import { header, sendJson } from "../http.ts";
import { RESEND_PATH } from "../inbox.ts";
import { verifyJwt } from "../jwt.ts";
import type { StackKeys } from "../keys.ts";
import { denoBinary } from "../paths.ts";
import type { Surface, SurfaceFactory } from "../surface.ts";
import { discoverFunctions, type FunctionConfig, readEnvFile } from "./config.ts";
import { FunctionsRuntime } from "./runtime.ts";

/**
 * Answers of the CLI's main worker when `verify_jwt` refuses a request (CLI
 * `internal/functions/serve/templates/main.ts`; reference §11 "Local verify_jwt").
 */
export const MISSING_AUTH_HEADER = { msg: "Error: Missing authorization header" } as const;
export const INVALID_JWT = { msg: "Invalid JWT" } as const;
/** The edge runtime's answer for a name no function has (text, not JSON). */
export const FUNCTION_NOT_FOUND = "Function not found";

/** Secrets file read like `supabase functions serve` does by default (`--env-file` default). */
export const FUNCTIONS_ENV_FILE = join("supabase", "functions", ".env");

/**
 * Defaults matching `livekit-server --dev` (API key `devkey`, secret `secret`, port 7880), so the
 * coworking functions boot locally without configuration. Override them in the env file.
 */
export const LIVEKIT_DEV_DEFAULTS = {
  LIVEKIT_URL: "ws://127.0.0.1:7880",
  LIVEKIT_API_KEY: "devkey",
  LIVEKIT_API_SECRET: "secret",
} as const;

/**
 * Local settings for Roomkit's `notify` function, so pushes and mails work out of the box:
 * LOCAL DEVELOPMENT ONLY. A VAPID key pair derived from the stack's JWT secret (stable across
 * restarts, fresh per test stack), mails to people with an account delivered to the local inbox
 * (which answers Resend's `POST /emails`), and links pointing at the served app. The env file
 * and `functionsEnv` override each.
 *
 * @example
 * localNotifyDefaults({ keys, inboxUrl: "http://127.0.0.1:54324", appUrl: "http://127.0.0.1:54323" });
 */
export function localNotifyDefaults(input: {
  keys: StackKeys;
  inboxUrl?: string | undefined;
  appUrl?: string | undefined;
}): Record<string, string> {
  const ecdh = createECDH("prime256v1");
  ecdh.setPrivateKey(createHmac("sha256", input.keys.jwtSecret).update("roomkit local vapid").digest());
  return {
    VAPID_PUBLIC_KEY: ecdh.getPublicKey("base64url"),
    VAPID_PRIVATE_KEY: ecdh.getPrivateKey("base64url"),
    VAPID_SUBJECT: "mailto:notifications@roomkit.local",
    ...(input.inboxUrl
      ? { ROOMKIT_EMAIL_API_URL: `${input.inboxUrl}${RESEND_PATH}`, ROOMKIT_EMAIL_API_KEY: "local-only" }
      : {}),
    ...(input.appUrl ? { ROOMKIT_APP_URL: input.appUrl } : {}),
  };
}

/**
 * Where Deno keeps its npm cache: `ROOMKIT_DENO_DIR`, else `.roomkit/deno` in the project
 * (git-ignored), kept between starts so they stay fast.
 *
 * @example
 * denoDirFor("/home/me/app") // "/home/me/app/.roomkit/deno"
 */
export function denoDirFor(projectDir: string): string {
  return process.env.ROOMKIT_DENO_DIR ?? join(projectDir, ".roomkit", "deno");
}

/**
 * The environment Supabase gives functions (reference §11): gateway URL, keys, database URL,
 * new-style keys as JSON maps, and a JWKS with the public signing key plus the HS256 secret as an
 * `oct` key (as the CLI builds it when no signing_keys_path is set).
 *
 * @example
 * const env = supabaseFunctionEnv({ apiUrl, dbUrl, keys });
 */
export function supabaseFunctionEnv(input: {
  apiUrl: string;
  dbUrl: string;
  keys: StackKeys;
}): Record<string, string> {
  const { keys } = input;
  const oct = { kty: "oct", k: Buffer.from(keys.jwtSecret).toString("base64url"), alg: "HS256" };
  const publicJwk = { ...keys.signingKey.publicJwk };
  return {
    SUPABASE_URL: input.apiUrl,
    SUPABASE_ANON_KEY: keys.anonKey,
    SUPABASE_SERVICE_ROLE_KEY: keys.serviceRoleKey,
    SUPABASE_DB_URL: input.dbUrl,
    SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: keys.publishableKey }),
    SUPABASE_SECRET_KEYS: JSON.stringify({ default: keys.secretKey }),
    SUPABASE_JWKS: JSON.stringify({ keys: [publicJwk, oct] }),
  };
}

/** Secrets from the env file, minus `SUPABASE_*` names (the CLI skips those: they are reserved). */
function fileSecrets(projectDir: string, log: (line: string) => void): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const [name, value] of Object.entries(readEnvFile(join(projectDir, FUNCTIONS_ENV_FILE)))) {
    if (name.startsWith("SUPABASE_")) log(`env name cannot start with SUPABASE_, skipping: ${name}`);
    else secrets[name] = value;
  }
  return secrets;
}

async function checkJwt(
  fn: FunctionConfig,
  authorization: string | undefined,
  keys: StackKeys,
): Promise<typeof MISSING_AUTH_HEADER | typeof INVALID_JWT | undefined> {
  if (!fn.verifyJwt) return undefined;
  if (authorization === undefined || authorization === "") return MISSING_AUTH_HEADER;
  const m = /^bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!m) return INVALID_JWT;
  try {
    await verifyJwt(m[1]!, keys);
    return undefined;
  } catch {
    return INVALID_JWT;
  }
}

/** Functions that share an import map run in one worker (Deno takes one import map per process). */
function groupByImportMap(functions: FunctionConfig[]): FunctionConfig[][] {
  const groups = new Map<string, FunctionConfig[]>();
  for (const fn of functions) {
    const key = fn.importMap ?? "";
    groups.set(key, [...(groups.get(key) ?? []), fn]);
  }
  return [...groups.values()];
}

/** The edge runtime's 404 for a name no function has: text, with hosted Supabase's error code header. */
function sendFunctionNotFound(res: ServerResponse): void {
  res.writeHead(404, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": String(Buffer.byteLength(FUNCTION_NOT_FOUND)),
    "sb-error-code": "NOT_FOUND",
  });
  res.end(FUNCTION_NOT_FOUND);
}

/**
 * `/functions/v1`: real Deno running the project's functions, one worker process per import map.
 * The gateway strips `/functions/v1`, so the path arrives as `/<name>/…`, which is exactly what a
 * function sees in `new URL(req.url).pathname` on Supabase. Functions are found as the CLI finds
 * them (see `discoverFunctions`); `verify_jwt` comes from `[functions.<name>]` (default true);
 * secrets from `supabase/functions/.env` and `StackOptions.functionsEnv` (which wins).
 */
export const createFunctionsSurface: SurfaceFactory = async (ctx) => {
  const projectDir = ctx.project.dir;
  const functions = discoverFunctions(projectDir, ctx.project.configPath);
  const env = {
    ...LIVEKIT_DEV_DEFAULTS,
    ...localNotifyDefaults({ keys: ctx.keys, inboxUrl: ctx.inboxUrl, appUrl: ctx.options.appUrl }),
    ...fileSecrets(projectDir, (line) => ctx.log("functions", line)),
    ...supabaseFunctionEnv({ apiUrl: ctx.apiUrl, dbUrl: ctx.dbUrl, keys: ctx.keys }),
    ...(ctx.options.functionsEnv ?? {}),
  };
  const denoDir = ctx.options.denoDir ?? denoDirFor(projectDir);
  const started = await Promise.allSettled(
    groupByImportMap(functions).map((group) =>
      FunctionsRuntime.start({
        cwd: projectDir,
        functions: group,
        ...(group[0]?.importMap ? { importMap: group[0].importMap } : {}),
        env,
        denoBin: denoBinary(),
        denoDir,
        log: ctx.log,
      }),
    ),
  );
  const runtimes = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await Promise.allSettled(runtimes.map((r) => r.close()));
    throw failed.reason;
  }
  const byName = new Map<string, { fn: FunctionConfig; runtime: FunctionsRuntime }>();
  for (const runtime of runtimes) for (const fn of runtime.functions) byName.set(fn.name, { fn, runtime });
  ctx.log("functions", `serving ${functions.map((f) => f.name).join(", ") || "no functions"}`);
  const surface: Surface = {
    async handle(req, res, path) {
      // The first segment as sent: slugs never need decoding, and a malformed escape is just an unknown name.
      const name = path.split("?")[0]!.split("/")[1] ?? "";
      const target = byName.get(name);
      if (!target) {
        sendFunctionNotFound(res);
        return;
      }
      if (req.method !== "OPTIONS") {
        const refusal = await checkJwt(target.fn, header(req, "authorization"), ctx.keys);
        if (refusal) {
          sendJson(res, 401, refusal);
          return;
        }
      }
      await target.runtime.proxy(req, res, path);
    },
    close: async () => {
      await Promise.allSettled(runtimes.map((r) => r.close()));
    },
  };
  return surface;
};
