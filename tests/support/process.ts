import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** Ports freePort has given out in this process; their servers may not have bound them yet. */
const givenOut = new Set<number>();

/**
 * A port nobody listens on right now (the OS picks it), for servers that
 * cannot take port 0. Never the same one twice in a process: the OS knows
 * nothing of a port handed out but not bound yet, and would pick it again
 * (a service's probe port and a spec-provider's port, chosen one after the
 * other, collided that way).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await unboundPort();
    if (givenOut.has(port)) continue;
    givenOut.add(port);
    return port;
  }
}

async function unboundPort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  await once(server, "close");
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** A child process a test started; its output is kept for failure messages. */
export class TestProcess {
  private output = "";
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      this.output += chunk.toString("utf8");
      if (this.output.length > 1_000_000) this.output = this.output.slice(-500_000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  }

  get log(): string {
    return this.output;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends SIGTERM, then SIGKILL when the process has not exited within graceMs. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGTERM");
    const timer = sleep(graceMs, undefined, { ref: false }).then(() => "timeout" as const);
    if ((await Promise.race([this.exited, timer])) === "timeout" && this.running) {
      this.child.kill("SIGKILL");
      await this.exited;
    }
  }

  kill(): void {
    if (this.running) this.child.kill("SIGKILL");
  }
}

export function startProcess(name: string, command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): TestProcess {
  const child = spawn(command, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  return new TestProcess(name, child);
}

/** Polls check until it returns true; fails with the process log when it never does. */
export async function waitUntil(what: string, check: () => Promise<boolean>, options: { timeoutMs?: number; process?: TestProcess } = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    if (options.process && !options.process.running) {
      throw new Error(`${options.process.name} exited while waiting for ${what}:\n${options.process.log}`);
    }
    try {
      if (await check()) return;
    } catch {
      // not ready yet
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${options.process ? `:\n${options.process.log}` : ""}`);
    }
    await sleep(50);
  }
}

/** True when something accepts connections: a TCP port on 127.0.0.1, or a unix socket path. */
export function canConnect(target: number | string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = typeof target === "number" ? connect(target, "127.0.0.1") : connect(target);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Resident memory of a process now (VmRSS from /proc), in KiB. */
export async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
}
