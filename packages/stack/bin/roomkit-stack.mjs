#!/usr/bin/env node
// The `roomkit-stack` command: runs the stack's TypeScript sources through tsx (no build step).
import { register } from "tsx/esm/api";

register();
const { runCli } = await import("../src/cli.ts");
await runCli(process.argv.slice(2));
