/**
 * The dev-cluster's stand-in for the OpenTelemetry collector (Debian has
 * none): an OTLP/HTTP endpoint that writes every export it receives, OTLP/JSON
 * as sent, one per line on stdout (dev-cluster puts it in
 * logs/otel-collector.log; `jq` reads it). Protobuf bodies are not decoded,
 * so dev-cluster asks the services for http/json.
 *
 *   node --import tsx scripts/dev-cluster/otlp-sink.ts PORT
 */
import { createServer } from "node:http";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write("usage: otlp-sink.ts PORT\n");
  process.exit(2);
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    if (req.method === "POST" && req.headers["content-type"]?.startsWith("application/json")) {
      try {
        process.stdout.write(`${JSON.stringify({ path: req.url, ...(JSON.parse(body) as object) })}\n`);
      } catch {
        res.writeHead(400).end();
        return;
      }
    }
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
});
server.listen(port, "127.0.0.1");

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    // Exporters keep their connections open; the services have flushed by now (they stop first).
    server.closeAllConnections();
  });
}
