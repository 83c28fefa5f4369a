import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

/**
 * `vite` (dev server with hot reload): answers `/config.json` from the running `npm start`
 * (its status file), so the dev server talks to the local stack with no settings to copy.
 */
function localStackConfig(): Plugin {
  const statusFile = `${process.env.ROOMKIT_STATE_DIR ?? fileURLToPath(new URL("../.roomkit", import.meta.url))}/status.json`;
  return {
    name: "roomkit-local-stack-config",
    configureServer(server) {
      server.middlewares.use("/config.json", (_req, res) => {
        if (!existsSync(statusFile)) {
          res.statusCode = 503;
          res.end(JSON.stringify({ error: "the local stack is not running: start it with `npm start`" }));
          return;
        }
        const status = JSON.parse(readFileSync(statusFile, "utf8")) as {
          apiUrl: string;
          keys: { publishableKey: string };
        };
        res.setHeader("content-type", "application/json");
        res.end(
          JSON.stringify({
            supabaseUrl: status.apiUrl,
            supabaseKey: status.keys.publishableKey,
            voice: false,
          }),
        );
      });
    },
  };
}

/**
 * The reference app's build. `roomkit` resolves to the client library's source in this repository;
 * an app of your own installs the package instead and drops the alias.
 */
export default defineConfig({
  root,
  // Relative asset URLs: the built app works from any path.
  base: "./",
  resolve: {
    alias: { roomkit: fileURLToPath(new URL("../src/client/index.ts", import.meta.url)) },
  },
  // JSX through Oxc (React's automatic runtime); @vitejs/plugin-react would add Fast Refresh.
  oxc: { jsx: { runtime: "automatic" } },
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 800 },
  server: { port: 5173 },
  plugins: [localStackConfig()],
});
