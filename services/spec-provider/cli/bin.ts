/**
 * facadectl as plain JavaScript after the build (dist/services/spec-provider/cli/bin.js),
 * for the container image, where bin/facadectl.js's tsx is not installed.
 */
import { main } from "./main.ts";

process.exitCode = await main(process.argv.slice(2));
