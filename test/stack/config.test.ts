/** Reading `supabase/config.toml`: the TOML subset the CLI template uses, and `[api]`. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  API_DEFAULTS,
  parseConfigToml,
  readApiConfig,
  readProjectConfig,
} from "../../packages/stack/src/config.ts";
import { StackStartError, startStack } from "../../packages/stack/src/index.ts";
import { generateKeys } from "../../packages/stack/src/keys.ts";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "roomkit-config-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function configFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe("parseConfigToml", () => {
  it("when arrays span lines and comments sit inside and after them, then the values are read whole", () => {
    const tables = parseConfigToml(
      [
        'project_id = "kit" # top-level key',
        "[api]",
        "schemas = [",
        '  "public", # default profile',
        "  'roomkit',",
        "]",
        'extra_search_path = ["public", "a#b"]',
        "max_rows = 1_000",
        "[auth.email]",
        "enable_confirmations = false",
        '[functions."quoted-name"]',
        "verify_jwt = true",
      ].join("\n"),
    );
    expect(tables.get("")).toEqual({ project_id: "kit" });
    expect(tables.get("api")).toEqual({
      schemas: ["public", "roomkit"],
      extra_search_path: ["public", "a#b"],
      max_rows: 1000,
    });
    expect(tables.get("auth.email")).toEqual({ enable_confirmations: false });
    expect(tables.get("functions.quoted-name")).toEqual({ verify_jwt: true });
  });

  it("when a value is outside the subset, then that key is skipped and the rest still read", () => {
    const tables = parseConfigToml("[api]\ntls = { enabled = false }\nport = 54321\n[[arrays]]\nx = 1\n");
    expect(tables.get("api")).toEqual({ port: 54321 });
    expect(tables.has("arrays")).toBe(false);
  });
});

describe("readProjectConfig: email sign-in and the inbox", () => {
  it("when [auth.email] and [local_smtp] are absent, then the CLI defaults apply: 6-digit codes for an hour, inbox on 54324", async () => {
    const config = readProjectConfig(await configFile("empty.toml", ""));
    expect(config.auth).toMatchObject({
      emailOtpLength: 6,
      emailOtpExpiry: 3600,
      siteUrl: "http://127.0.0.1:3000",
      additionalRedirectUrls: ["https://127.0.0.1:3000"],
    });
    expect(config.inbox).toEqual({ enabled: true, port: 54324 });
  });

  it("when otp_length is outside 6-10 or otp_expiry is 0 or above a day, then GoTrue's fallbacks apply", async () => {
    const short = readProjectConfig(
      await configFile("short.toml", "[auth.email]\notp_length = 4\notp_expiry = 0"),
    );
    expect(short.auth.emailOtpLength).toBe(6);
    expect(short.auth.emailOtpExpiry).toBe(86400);
    const long = readProjectConfig(
      await configFile("long.toml", "[auth.email]\notp_length = 10\notp_expiry = 999999"),
    );
    expect(long.auth.emailOtpLength).toBe(10);
    expect(long.auth.emailOtpExpiry).toBe(86400);
  });

  it("when a project still names the inbox [inbucket], then reading fails as the CLI does, naming [local_smtp]", async () => {
    const path = await configFile("inbucket.toml", "[inbucket]\nport = 6000");
    expect(() => readProjectConfig(path)).toThrow(
      "[inbucket] in supabase/config.toml is no longer supported. Use [local_smtp] instead.",
    );
  });

  it("when [local_smtp] is set, then its port and enabled are read", async () => {
    const config = readProjectConfig(
      await configFile("smtp.toml", "[local_smtp]\nenabled = false\nport = 6000"),
    );
    expect(config.inbox).toEqual({ enabled: false, port: 6000 });
  });
});

describe("readApiConfig", () => {
  it("when the file or its [api] keys are absent, then the CLI defaults apply", async () => {
    expect(readApiConfig(join(dir, "missing.toml"))).toEqual(API_DEFAULTS);
    const partial = await configFile("partial.toml", '[api]\nschemas = ["roomkit", "public"]\n');
    expect(readApiConfig(partial)).toEqual({ ...API_DEFAULTS, schemas: ["roomkit", "public"] });
  });

  it("when [api] schemas is not a list of names, then the stack refuses to start and names the key", async () => {
    const path = await configFile("bad.toml", '[api]\nschemas = "public"\n');
    expect(() => readApiConfig(path)).toThrowError(/\[api\] schemas/);
    const start = startStack({
      dbUrl: "postgres://127.0.0.1:1/none",
      keys: await generateKeys(),
      port: 0,
      functions: false,
      configPath: path,
      log: () => {},
    });
    await expect(start).rejects.toThrowError(StackStartError);
    await expect(start).rejects.toThrowError(/bad\.toml: \[api\] schemas/);
  });
});
