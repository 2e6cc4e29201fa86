import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canConnect, freePort, startProcess, waitUntil, type TestProcess } from "./process.ts";

/** A real nats-server with JetStream on a loopback port of its own. */
export class TestNatsServer {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private process: TestProcess,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<TestNatsServer> {
    const dir = await mkdtemp(join(tmpdir(), "facade-nats-"));
    const port = await freePort();
    const server = new TestNatsServer(port, dir, TestNatsServer.spawn(port, dir));
    await server.waitReady();
    return server;
  }

  private static spawn(port: number, dir: string): TestProcess {
    return startProcess("nats-server", "nats-server", ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir]);
  }

  private async waitReady(): Promise<void> {
    await waitUntil("nats-server", () => canConnect(this.port), { process: this.process });
  }

  /** Stops the server, keeping its JetStream data for restart(). */
  async stop(): Promise<void> {
    await this.process.stop();
  }

  /** Starts the server again on the same port and data directory. */
  async restart(): Promise<void> {
    await this.process.stop();
    this.process = TestNatsServer.spawn(this.port, this.dir);
    await this.waitReady();
  }

  async dispose(): Promise<void> {
    await this.process.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
