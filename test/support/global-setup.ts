import postgres from "postgres";
import type { TestProject } from "vitest/node";
import { prepareDatabase } from "../../packages/stack/src/migrate.ts";
import { startThrowawayPostgres, withDatabase } from "../../packages/stack/src/postgres.ts";
import { REPO_ROOT } from "./repo.ts";

export const TEMPLATE_DB = "roomkit_template";

declare module "vitest" {
  export interface ProvidedContext {
    /** URL of a Postgres server (its `postgres` database) the tests may create databases on. */
    dbServerUrl: string;
    /** Name of the migrated, seeded template database that each test file copies. */
    templateDb: string;
  }
}

export { freePort } from "../../packages/stack/src/net.ts";

/**
 * One Postgres server per test run: ROOMKIT_TEST_DB_URL (an external server whose user may create
 * databases), else a throwaway embedded PostgreSQL 17. The template database gets the platform
 * bootstrap, the migrations and the seed through the real Supabase CLI, once.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let serverUrl = process.env.ROOMKIT_TEST_DB_URL;
  let stop = async () => {};
  if (!serverUrl) {
    const pg = await startThrowawayPostgres("roomkit-test-pg-");
    serverUrl = pg.url;
    stop = pg.stop;
  }
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists ${TEMPLATE_DB} with (force)`);
    await admin.unsafe(`create database ${TEMPLATE_DB}`);
  } finally {
    await admin.end();
  }
  await prepareDatabase(withDatabase(serverUrl, TEMPLATE_DB), { projectDir: REPO_ROOT, seed: true });
  project.provide("dbServerUrl", serverUrl);
  project.provide("templateDb", TEMPLATE_DB);
  return stop;
}
