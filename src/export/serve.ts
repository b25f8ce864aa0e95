/**
 * Serves a metrics registry over HTTP: /metrics in the registry's
 * exposition format (read from the maps when scraped), a one-line index at
 * /, 404 elsewhere. Used by `tsbpf exporter` and by the tools' --prometheus.
 */
import { createServer, type Server } from "node:http";
import { ConfigError } from "../kernel/errors.js";

/** What serveMetrics needs of a registry (prom-client's Registry). */
export interface ScrapedRegistry {
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** A running metrics server. */
export interface MetricsServer {
  server: Server;
  host: string;
  port: number;
  /** http://HOST:PORT/metrics, IPv6 hosts in brackets. */
  url: string;
  close(): void;
}

/** "[host]:port", ":port" or "port" → its parts (no host: every address). */
export function parseListenAddress(
  text: string,
  what = "--web.listen-address",
): { host?: string; port: number } {
  const m = /^(?:(?:\[([^\]]+)\]|([^:[\]]*)):)?(\d+)$/.exec(text.trim());
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw new ConfigError(what, text, "not [HOST:]PORT", "e.g. 9435, :9435 or 127.0.0.1:9435");
  const host = m[1] ?? m[2];
  return { host: host ? host : undefined, port };
}

/** Starts serving; resolves once listening (port 0: a free port, said in the result). */
export function serveMetrics(
  registry: ScrapedRegistry,
  listen: { host?: string; port: number },
  title = "tsbpf",
): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics") {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { "Content-Type": registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500, { "Content-Type": "text/plain" });
          res.end(`${err instanceof Error ? err.message : String(err)}\n`);
        },
      );
    } else if (path === "/") {
      res.writeHead(200, { "Content-Type": "text/html" });
      res.end(`<html><body><h1>${title}</h1><p><a href="/metrics">Metrics</a></p></body></html>\n`);
    } else {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("not found\n");
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      server.removeListener("error", reject);
      const a = server.address();
      const host = typeof a === "object" && a ? a.address : (listen.host ?? "");
      const port = typeof a === "object" && a ? a.port : listen.port;
      const shown = host.includes(":") ? `[${host}]` : host;
      resolve({ server, host, port, url: `http://${shown}:${port}/metrics`, close: () => server.close() });
    });
  });
}
