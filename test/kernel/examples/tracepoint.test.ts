/**
 * Chapter 6, tracepoints: the tcp:tcp_probe examples watching TCP traffic on
 * loopback. The test listens on 127.0.0.1 (and ::1); a child node process
 * connects, sends a few bytes and closes. The listener's socket receives the
 * data in the child's context (loopback delivers it from the sender's
 * softirq), so the server side's row carries the child's PID, the listener's
 * port as the local (source) port and the child's port as the peer's
 * (destination). The child's socket receives the listener's ACKs, which
 * gives a row with the ports the other way round.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { repoRoot, skipUnlessRoot } from "../../helpers.js";
import { runExample } from "./run_example.js";

/** One connection from a child: its PID and ports. */
interface Exchange {
  pid: number;
  clientPort: number;
  serverPort: number;
}

/** The comm of a node child: the basename of the binary it was started from. */
const NODE_COMM = basename(process.execPath).slice(0, 15);

const CLIENT = `
const net = require("node:net");
const c = net.connect(Number(process.argv[2]), process.argv[1], () => {
  process.stdout.write(String(c.localPort) + "\\n");
  c.write("hello tcp_probe\\n");
  c.end();
});
c.on("data", () => {});
c.on("close", () => process.exit(0));
`;

interface Listener {
  server: Server;
  host: string;
  port: number;
}
const sockets = new Set<Socket>();
let v4: Listener;
/** The IPv6 loopback listener, when the kernel has IPv6 (undefined otherwise). */
let v6: Listener | undefined;

async function listen(host: string): Promise<Listener> {
  const server = createServer((s) => {
    sockets.add(s);
    s.on("data", () => {});
    s.on("end", () => s.end());
    s.on("close", () => sockets.delete(s));
  });
  server.listen(0, host);
  await Promise.race([once(server, "listening"), once(server, "error").then(([e]) => Promise.reject(e))]);
  return { server, host, port: (server.address() as { port: number }).port };
}

/** Runs one child that connects to the listener, sends and closes; resolves when it has exited. */
async function exchange(to: Listener): Promise<Exchange> {
  const child = spawn(process.execPath, ["-e", CLIENT, to.host, String(to.port)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const [code] = (await once(child, "exit")) as [number | null];
  assert.equal(code, 0, "the TCP client child failed");
  return { pid: child.pid as number, clientPort: Number(out.trim()), serverPort: to.port };
}

/**
 * Runs an example while children exchange data (over IPv6 first when
 * `alsoV6`, then IPv4), until `seen` finds the rows of one IPv4 exchange.
 */
async function watchTcp(id: string, seen: (rows: string[], ex: Exchange) => boolean, alsoV6 = false) {
  const done: Exchange[] = [];
  const overV6: Exchange[] = [];
  const r = await runExample(id, {
    activity: async () => {
      if (alsoV6 && v6) overV6.push(await exchange(v6));
      done.push(await exchange(v4));
    },
    everyMs: 100,
    until: (out) => done.some((ex) => seen(out.split("\n"), ex)),
  });
  assert.ok(
    r.matched,
    `${id}: no rows for ${JSON.stringify(done.slice(-3))} in:\n${r.stdout.slice(-3000)}\n${r.stderr}`,
  );
  assert.equal(r.stderr, "", "no fallback, nothing on stderr");
  const rows = r.stdout.split("\n");
  return { ...r, rows, ex: done.find((ex) => seen(rows, ex)) as Exchange, overV6 };
}

describe("tracepoint", { skip: skipUnlessRoot }, () => {
  before(async () => {
    v4 = await listen("127.0.0.1");
    v6 = await listen("::1").catch(() => undefined);
  });
  after(() => {
    for (const s of sockets) s.destroy();
    v4.server.close();
    v6?.server.close();
  });

  it("tsbpf tplist -v lists tcp:tcp_probe with the fields the examples read", () => {
    const r = spawnSync(
      process.execPath,
      [join(repoRoot, "dist/src/cli/main.js"), "tplist", "-v", "^tcp:tcp_probe$"],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split("\n");
    assert.equal(lines[0], "tcp:tcp_probe");
    // The start of the record, as the explicit struct of tcp_probe_attach_tracepoint declares it
    // (older kernels write the arrays' length as sizeof(struct sockaddr_in6)).
    const len = "(28|sizeof\\(struct sockaddr_in6\\))";
    assert.match(
      lines.slice(1, 5).join("\n"),
      new RegExp(
        `^    __u8 saddr\\[${len}\\];\n    __u8 daddr\\[${len}\\];\n    __u16 sport;\n    __u16 dport;$`,
      ),
    );
    assert.ok(!r.stdout.includes("common_"));
  });

  it("tracepoint/tcp_probe_simple: the peer's family and port bytes from args->daddr", async () => {
    // %-6d %-16s, then "daddr[0]=family daddr[2]=port>>8 daddr[3]=port&0xff"
    const msg = (family: number, port: number): string =>
      `daddr[0]=${family} daddr[2]=${port >> 8} daddr[3]=${port & 0xff}`;
    const row = (pid: number, family: number, port: number): string =>
      `${String(pid).padEnd(6)} ${NODE_COMM.padEnd(16)} ${msg(family, port)}`;
    const r = await watchTcp(
      "tracepoint/tcp_probe_simple",
      (rows, ex) =>
        rows.includes(row(ex.pid, 2, ex.clientPort)) &&
        rows.some((l) => l.endsWith(` ${msg(2, ex.serverPort)}`)),
      true,
    );
    assert.equal(r.rows[0], "PID    COMM             OUTPUT");
    // Over IPv6 the family's low byte is AF_INET6 (10).
    if (v6) {
      assert.ok(
        r.overV6.some((ex) => r.rows.some((l) => l.endsWith(` ${msg(10, ex.clientPort)}`))),
        `no IPv6 row for ${JSON.stringify(r.overV6)}`,
      );
    }
  });

  it("tracepoint/tcp_probe_filter: IPv4 only, destination port and pid/tgid", async () => {
    const row = (ex: Exchange): string =>
      `${String(ex.pid).padEnd(6)} ${NODE_COMM.padEnd(16)} dport = ${ex.clientPort}, pid = ${ex.pid}, tgid = ${ex.pid}`;
    const r = await watchTcp(
      "tracepoint/tcp_probe_filter",
      (rows, ex) => rows.includes(row(ex)) && rows.some((l) => l.includes(` dport = ${ex.serverPort}, `)),
      true,
    );
    assert.equal(r.rows[0], "PID    COMM             OUTPUT");
    for (const line of r.rows.slice(1).filter((l) => l !== ""))
      assert.match(line, /^\d+ +.{1,16} +dport = \d+, pid = \d+, tgid = \d+$/);
    // The IPv6 connections, made before the IPv4 one that was seen, left no row.
    if (v6) {
      assert.ok(r.overV6.length > 0);
      assert.ok(
        !r.rows.some((l) => l.includes(` dport = ${v6?.port}, `)),
        "a row of the IPv6 listener's peer",
      );
      for (const ex of r.overV6)
        assert.ok(
          !r.rows.some((l) => l.includes(` dport = ${ex.clientPort}, `)),
          `a row of IPv6 port ${ex.clientPort}`,
        );
    }
  });

  for (const id of ["tracepoint/tcp_probe", "tracepoint/tcp_probe_attach_tracepoint"]) {
    it(`${id}: COMM PID sport dport from the record sent through BPF_PERF_OUTPUT`, async () => {
      // %-16s %-7d %-6d %d
      const row = (pid: number, sport: number, dport: number): string =>
        `${NODE_COMM.padEnd(16)} ${String(pid).padEnd(7)} ${String(sport).padEnd(6)} ${dport}`;
      // The client's socket: local port the child's, peer the listener's (any PID).
      const clientSide = (ex: Exchange): RegExp =>
        new RegExp(`^.{16} \\d+ +${ex.clientPort} +${ex.serverPort}$`);
      const r = await watchTcp(
        id,
        (rows, ex) =>
          rows.includes(row(ex.pid, ex.serverPort, ex.clientPort)) &&
          rows.some((l) => clientSide(ex).test(l)),
      );
      assert.equal(r.rows[0], "COMM             PID     sport  dport");
      for (const line of r.rows.slice(1).filter((l) => l !== "")) assert.match(line, /^.{16} \d+ +\d+ +\d+$/);
    });
  }
});
