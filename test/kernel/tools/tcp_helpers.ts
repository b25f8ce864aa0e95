/** Loopback TCP activity for the TCP tools' kernel tests: listeners, connections, bytes. */
import { once } from "node:events";
import net from "node:net";

/** A listener on host (127.0.0.1 or ::1) that reads everything and can answer. */
export async function listen(
  host: string,
  onConn?: (s: net.Socket) => void,
): Promise<{ server: net.Server; port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    if (onConn) onConn(s);
    else s.resume();
  });
  server.listen(0, host);
  await once(server, "listening");
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A listener on host that answers 20000 bytes once it has read 50000 (the TCP tools' byte counts). */
export function answering(host: string): ReturnType<typeof listen> {
  return listen(host, (s) => {
    let got = 0;
    s.on("data", (d: Buffer) => {
      got += d.length;
      if (got >= 50000) s.end(Buffer.alloc(20000, 0x62));
    });
  });
}

/** Connects to host:port, writes `bytes` bytes, waits for `expect` bytes back, then ends; returns the local port. */
export async function connectAndSend(
  host: string,
  port: number,
  bytes = 0,
  expect = 0,
): Promise<{ lport: number }> {
  const s = net.connect({ host, port });
  s.on("error", () => {});
  await once(s, "connect");
  const lport = s.localPort as number;
  let got = 0;
  const gotAll = new Promise<void>((r) => {
    if (expect === 0) r();
    s.on("data", (d: Buffer) => {
      got += d.length;
      if (got >= expect) r();
    });
  });
  if (bytes > 0) s.write(Buffer.alloc(bytes, 0x61));
  await gotAll;
  s.end();
  await once(s, "close");
  return { lport };
}

/** Tries to connect to a port where nothing listens; resolves with the error code (ECONNREFUSED). */
export async function connectRefused(host: string, port: number): Promise<string> {
  const s = net.connect({ host, port });
  const [err] = (await once(s, "error").catch((e: unknown) => [e])) as [NodeJS.ErrnoException];
  return err.code ?? "";
}

/** A port on host that nothing listens on (a listener opened and closed). */
export async function closedPort(host: string): Promise<number> {
  const l = await listen(host);
  await l.close();
  return l.port;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An echo listener on host. */
export function echoServer(host: string): ReturnType<typeof listen> {
  return listen(host, (s) => s.pipe(s));
}

/** Connects to an echo server and makes n round trips of 100 bytes; returns the local port. */
export async function pingPong(host: string, port: number, n: number): Promise<{ lport: number }> {
  const s = net.connect({ host, port });
  s.on("error", () => {});
  await once(s, "connect");
  const lport = s.localPort as number;
  for (let i = 0; i < n; i++) {
    s.write(Buffer.alloc(100, 0x63));
    let got = 0;
    while (got < 100) {
      const [d] = (await once(s, "data")) as [Buffer];
      got += d.length;
    }
  }
  s.end();
  await once(s, "close");
  return { lport };
}
