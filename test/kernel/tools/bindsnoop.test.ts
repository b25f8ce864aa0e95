import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

/** A child that binds: TCP 127.0.0.1:0 with SO_REUSEADDR, UDP [::1]:0, then the TCP port again (EADDRINUSE). */
const SCRIPT = [
  "import socket",
  "t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
  "t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
  "t.bind(('127.0.0.1', 0)); t.listen()",
  "u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)",
  "u.bind(('::1', 0))",
  "d = socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
  "try:\n    d.bind(('127.0.0.1', t.getsockname()[1]))\nexcept OSError:\n    pass",
  "print(t.getsockname()[1], u.getsockname()[1])",
].join("\n");

function binder(): { pid: number; tcp: number; udp: number } {
  const r = spawnSync("/usr/bin/python3", ["-c", SCRIPT], { encoding: "utf8" });
  const [tcp, udp] = r.stdout.trim().split(" ").map(Number);
  return { pid: r.pid as number, tcp: tcp as number, udp: udp as number };
}

describe("bindsnoop", { skip: skipUnlessRoot }, () => {
  it("prints bcc's columns: protocol, bound address and port, options; -E adds failures", async () => {
    const r = await traceWhile("bindsnoop", ["-E"], binder);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "Tracing binds ... Hit Ctrl-C to end");
    assert.match(r.lines[1] as string, /^ RC +PID COMM +PROT ADDR +PORT +OPTS IF$/);
    const { pid, tcp, udp } = r.result;
    const mine = r.lines.filter((l) => new RegExp(`^ *-?\\d+ +${pid} `).test(l));
    assert.equal(mine.length, 3, r.stdout);
    assert.match(
      mine[0] as string,
      new RegExp(`^  0 +${pid} python3 +TCP +127\\.0\\.0\\.1 +${tcp} \\.\\.\\.R\\. +0$`),
    );
    assert.match(mine[1] as string, new RegExp(`^  0 +${pid} python3 +UDP +::1 +${udp} \\.\\.\\.\\.\\. +0$`));
    assert.match(mine[2] as string, new RegExp(`^-98 +${pid} python3 +TCP +127\\.0\\.0\\.1 +${tcp} `));
    const plain = await traceWhile("bindsnoop", [], binder);
    assert.equal(plain.lines.filter((l) => new RegExp(` ${plain.result.pid} python3 `).test(l)).length, 2);
  });

  it("-P filters ports; --json records; --count sums per address", async () => {
    const r = await traceWhile("bindsnoop", ["--json", "-w"], binder);
    assert.equal(r.code, 0, r.stderr);
    const mine = r.records.filter((e) => e.pid === r.result.pid);
    assert.deepEqual(
      mine.map((e) => [e.protocol, e.family, e.addr, e.port, e.opts, e.ret]),
      [
        ["TCP", "ipv4", "127.0.0.1", r.result.tcp, "...R.", 0],
        ["UDP", "ipv6", "::1", r.result.udp, ".....", 0],
      ],
    );
    const p = await traceWhile("bindsnoop", ["-P", "1,2"], binder);
    assert.ok(!p.lines.some((l) => l.includes(` ${p.result.pid} python3`)), p.stdout);
    const c = await traceWhile("bindsnoop", ["--count", "-p", "1"], () => 0);
    assert.match(c.stdout, /\nLADDR {43}LPORT {5}BINDS {5}\n$/);
  });
});
