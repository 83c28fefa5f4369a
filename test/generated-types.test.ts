import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TYPES_FILE, typesOf } from "../scripts/gen-types.ts";
import { createTestDatabase, type TestDatabase } from "./support/db.ts";

/**
 * The committed generated types match the migrations: what `supabase gen types` prints for a copy
 * of the suites' template database (the migrations and the seed, which changes no type) is the
 * file `npm run gen:types` wrote. Fails after a migration changed without `npm run gen:types`.
 */
describe("generated database types", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  it("when the migrations are applied, then functions/_shared/database.types.ts is what supabase gen types prints", async () => {
    const generated = await typesOf(db.url);
    const committed = await readFile(TYPES_FILE, "utf8");
    // Line by line, so a failure shows the first lines that differ (then run `npm run gen:types`).
    expect(committed.split("\n")).toEqual(generated.split("\n"));
  }, 60_000);
});
