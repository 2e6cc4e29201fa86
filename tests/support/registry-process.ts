import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startProcess, waitUntil, type TestProcess } from "./process.ts";

/** The registry as a process of its own (services/registry/bin.ts), so it can be killed or measured alone. */
export interface RegistryProcess {
  readonly process: TestProcess;
  readonly port: number;
  readonly host: string;
}

/** Writes config (a configuration object) to dir/name.json and starts the registry on it; registry.port 0 is read back from its log. */
export async function startRegistryProcess(dir: string, name: string, config: Record<string, unknown>): Promise<RegistryProcess> {
  const file = join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify(config));
  const process = startProcess(name, globalThis.process.execPath, ["--import", "tsx", "services/registry/bin.ts", "--config", file]);
  let port = 0;
  await waitUntil(`${name} listening`, async () => {
    const line = process.log.split("\n").find((l) => l.includes('"registry listening"'));
    if (line) port = (JSON.parse(line) as { port: number }).port;
    return port > 0;
  }, { process });
  return { process, port, host: `127.0.0.1:${port}` };
}
