import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The Roomkit repository: the Supabase project (`supabase/`, `functions/`) the tests run. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
