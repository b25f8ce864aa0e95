/**
 * Chapter 3, kprobe / kretprobe: tcpv4connect_simple and tcpv4connect_args
 * run as a user runs them, while a shell of ours connects over IPv4 TCP to a
 * loopback listener of the test.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import { runChild, skipUnlessRoot } from "../../helpers.js";
import { assertMechanism, kernelHas, runExample, runExampleSync } from "./run_example.js";

const HEADER = "PID    COMM         OUTPUT";

describe("kprobe", { skip: skipUnlessRoot }, () => {
  let server: Server;
  let port = 0;
  before(async () => {
    server = createServer((sock) => sock.destroy());
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as { port: number }).port;
  });
  after(() => {
    server.close();
  });

  /** A bash that renames itself "tcpconnect" and connects (blocking) to the listener; its pid. */
  const connect = (): number =>
    runChild([
      "/bin/bash",
      "-c",
      `printf tcpconnect > /proc/self/comm; exec 3<>/dev/tcp/127.0.0.1/${port}; exec 3>&-`,
    ]);

  /** The rows of pid, "%-6d %-12.12s %s"; the task column may be "<...>" (trace_pipe's comm cache). */
  const rowsOf = (out: string, pid: number): string[] =>
    out.split("\n").filter((l) => l.startsWith(`${String(pid).padEnd(6)} `));

  const assertRow = (line: string, pid: number): string => {
    assert.equal(line.slice(0, 7), `${String(pid).padEnd(6)} `);
    assert.match(line.slice(7, 20), /^(tcpconnect|<\.\.\.>) +$/);
    return line.slice(20);
  };

  it("kprobe/tcpv4connect_simple: a line as tcp_v4_connect starts, then its return value", async () => {
    let pid = -1;
    const done = (out: string): boolean =>
      pid > 0 && rowsOf(out, pid).some((l) => l.endsWith("tcp_v4_connect: returned 0"));
    const r = await runExample("kprobe/tcpv4connect_simple", {
      ready: (out) => out.includes(HEADER),
      activity: () => {
        pid = connect();
      },
      until: done,
    });
    assert.ok(r.matched, `no rows for pid ${pid} in:\n${r.stdout.slice(-2000)}\n${r.stderr}`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split("\n")[0], HEADER);
    // The bash connects once: the entry line, then the return (0: the blocking connect succeeded).
    const msgs = rowsOf(r.stdout, pid).map((l) => assertRow(l, pid));
    assert.deepEqual(msgs, ["tcp_v4_connect: called", "tcp_v4_connect: returned 0"]);
    assertMechanism(
      "tcpv4connect_simple",
      r.stderr,
      "kprobe",
      /using tracepoints sock:inet_sock_set_state and syscalls:sys_exit_connect/,
    );
  });

  it("kprobe/tcpv4connect_args: addr_len, a declared argument of the kprobe function", async () => {
    let pid = -1;
    const r = await runExample("kprobe/tcpv4connect_args", {
      ready: (out) => out.includes(HEADER),
      activity: () => {
        pid = connect();
      },
      until: (out) => pid > 0 && rowsOf(out, pid).length > 0,
    });
    assert.ok(r.matched, `no row for pid ${pid} in:\n${r.stdout.slice(-2000)}\n${r.stderr}`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split("\n")[0], HEADER);
    // bash connects with a struct sockaddr_in: addr_len is its size, 16.
    const msgs = rowsOf(r.stdout, pid).map((l) => assertRow(l, pid));
    assert.deepEqual(msgs, ["tcp_v4_connect: addr_len = 16"]);
    assertMechanism(
      "tcpv4connect_args",
      r.stderr,
      "kprobe",
      /using tracepoints syscalls:sys_enter_connect and sock:inet_sock_set_state/,
    );
  });

  for (const program of ["tcpv4connect_simple", "tcpv4connect_args"]) {
    it(`kprobe/${program} --strict: the typed error where the kernel has no kprobes`, (t) => {
      if (kernelHas("kprobe")) {
        t.skip("this kernel has kprobes: --strict runs the original");
        return;
      }
      const r = runExampleSync(`kprobe/${program}`, ["--strict"]);
      assert.equal(r.status, 1);
      assert.equal(r.stdout, "");
      assert.match(
        r.stderr,
        new RegExp(
          `^${program}: NotSupportedError: kprobes are not available on this kernel \\(.*CONFIG_KPROBES is off\\); ` +
            `attach to a tracepoint instead \\(list them with "tsbpf tplist"; a BTF tracepoint, BTF_TRACEPOINT_PROBE, gives typed arguments\\), or use a kernel with CONFIG_KPROBES=y\\n$`,
        ),
      );
    });
  }
});
