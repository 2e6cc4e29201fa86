#!/usr/bin/env node
// The facadectl executable: registers tsx so the TypeScript CLI runs as it is.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../services/spec-provider/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
