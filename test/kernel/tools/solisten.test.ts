import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readlinkSync } from "node:fs";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

/** A child that listens on 127.0.0.1:0 with backlog 7, and on an unbound IPv6 socket with backlog 3. */
const SCRIPT = [
  "import socket",
  "t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
  "t.bind(('127.0.0.1', 0)); t.listen(7)",
  "u = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)",
  "u.listen(3)",
  "print(t.getsockname()[1], u.getsockname()[1])",
].join("\n");

function listener(): { pid: number; v4: number; v6: number } {
  const r = spawnSync("/usr/bin/python3", ["-c", SCRIPT], { encoding: "utf8" });
  const [v4, v6] = r.stdout.trim().split(" ").map(Number);
  return { pid: r.pid as number, v4: v4 as number, v6: v6 as number };
}

describe("solisten", { skip: skipUnlessRoot }, () => {
  const netns = Number(/\[(\d+)\]/.exec(readlinkSync("/proc/self/ns/net"))?.[1]);

  it("prints bcc's columns: protocol, backlog, port and address from the socket", async () => {
    const r = await traceWhile("solisten", ["--show-netns"], listener);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.lines[0] as string, /^PID {5}COMM {9}NETNS {8}PROTO {2}BACKLOG {2}PORT {2}ADDR {35}$/);
    const { pid, v4, v6 } = r.result;
    const mine = r.lines.filter((l) => l.startsWith(`${pid} `));
    assert.equal(mine.length, 2, r.stdout);
    assert.equal(
      mine[0],
      `${String(pid).padEnd(7)} python3      ${String(netns).padEnd(12)} TCPv4  7        ${String(v4).padEnd(5)} ${"127.0.0.1".padEnd(39)}`,
    );
    assert.match(mine[1] as string, new RegExp(`^${pid} +python3 +${netns} +TCPv6 +3 +${v6} +:: +$`));
  });

  it("--json records; -p and --netns filter", async () => {
    const r = await traceWhile("solisten", ["--json"], listener);
    const mine = r.records.filter((e) => e.pid === r.result.pid);
    assert.deepEqual(
      mine.map((e) => [e.comm, e.proto, e.backlog, e.port, e.addr, e.netns, e.ret]),
      [
        ["python3", "TCPv4", 7, r.result.v4, "127.0.0.1", netns, 0],
        ["python3", "TCPv6", 3, r.result.v6, "::", netns, 0],
      ],
    );
    const p = await traceWhile("solisten", ["--json", "-p", "1"], listener);
    assert.ok(!p.records.some((e) => e.pid === p.result.pid));
    const n = await traceWhile("solisten", ["--json", "-n", String(netns + 1)], listener);
    assert.ok(!n.records.some((e) => e.pid === n.result.pid));
  });
});
