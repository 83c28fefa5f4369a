import { join } from "node:path";
import { header, sendJson } from "../http.ts";
import { verifyJwt } from "../jwt.ts";
import type { StackKeys } from "../keys.ts";
import { ROOT } from "../migrate.ts";
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

/** Where Deno keeps its npm cache: git-ignored, kept between starts so they stay fast. */
export const DENO_DIR = join(ROOT, ".roomkit", "deno");
const DENO_BIN = join(ROOT, "node_modules", ".bin", "deno");

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
function fileSecrets(root: string, log: (line: string) => void): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const [name, value] of Object.entries(readEnvFile(join(root, FUNCTIONS_ENV_FILE)))) {
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

/**
 * `/functions/v1`: real Deno running `functions/*` in one worker process. The gateway strips
 * `/functions/v1`, so the path arrives as `/<name>/…`, which is exactly what a function sees in
 * `new URL(req.url).pathname` on Supabase. `verify_jwt` comes from `[functions.<name>]` in
 * `supabase/config.toml` (default true); secrets from `supabase/functions/.env` and
 * `StackOptions.functionsEnv` (which wins).
 */
export const createFunctionsSurface: SurfaceFactory = async (ctx) => {
  const root = ROOT;
  const functions = discoverFunctions(root);
  const byName = new Map(functions.map((f) => [f.name, f]));
  const env = {
    ...LIVEKIT_DEV_DEFAULTS,
    ...fileSecrets(root, (line) => ctx.log("functions", line)),
    ...supabaseFunctionEnv({ apiUrl: ctx.apiUrl, dbUrl: ctx.dbUrl, keys: ctx.keys }),
    ...(ctx.options.functionsEnv ?? {}),
  };
  const runtime = await FunctionsRuntime.start({
    root,
    functions,
    env,
    denoBin: DENO_BIN,
    denoDir: DENO_DIR,
    log: ctx.log,
  });
  ctx.log("functions", `serving ${functions.map((f) => f.name).join(", ") || "no functions"}`);
  const surface: Surface = {
    async handle(req, res, path) {
      const name = decodeURIComponent(new URL(path, "http://functions").pathname.split("/")[1] ?? "");
      const fn = byName.get(name);
      if (!fn) {
        res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
        res.end(FUNCTION_NOT_FOUND);
        return;
      }
      if (req.method !== "OPTIONS") {
        const refusal = await checkJwt(fn, header(req, "authorization"), ctx.keys);
        if (refusal) {
          sendJson(res, 401, refusal);
          return;
        }
      }
      await runtime.proxy(req, res, path);
    },
    close: () => runtime.close(),
  };
  return surface;
};
