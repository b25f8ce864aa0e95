import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";
import { connectAndSend, listen, sleep } from "./tcp_helpers.js";

describe("tcpaccept", { skip: skipUnlessRoot }, () => {
  it("prints bcc's columns for IPv4 and IPv6 connections the test accepts", async () => {
    const l4 = await listen("127.0.0.1");
    const l6 = await listen("::1");
    try {
      const r = await traceWhile("tcpaccept", ["-T", "-p", String(process.pid)], async () => {
        const a = await connectAndSend("127.0.0.1", l4.port, 10);
        const b = await connectAndSend("::1", l6.port, 10);
        await sleep(50);
        return { a, b };
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.lines[0] as string, /^TIME {5}PID {5}COMM {9}IP RADDR {12}RPORT LADDR {12}LPORT$/);
      const pid = process.pid;
      assert.ok(
        r.lines.some((l) =>
          new RegExp(
            `^\\d\\d:\\d\\d:\\d\\d +${pid} +\\S+ +4 +127\\.0\\.0\\.1 +${r.result.a.lport} +127\\.0\\.0\\.1 +${l4.port}$`,
          ).test(l),
        ),
        r.stdout,
      );
      assert.ok(
        r.lines.some((l) =>
          new RegExp(
            `^\\d\\d:\\d\\d:\\d\\d +${pid} +\\S+ +6 +::1 +${r.result.b.lport} +::1 +${l6.port}$`,
          ).test(l),
        ),
        r.stdout,
      );
      assert.match(r.stderr, /sys_exit_accept/);
    } finally {
      await l4.close();
      await l6.close();
    }
  });

  it("--json with -4 and -P: one record for the port asked for", async () => {
    const l4 = await listen("127.0.0.1");
    const other = await listen("127.0.0.1");
    const l6 = await listen("::1");
    try {
      const r = await traceWhile("tcpaccept", ["--json", "-4", "-P", String(l4.port)], async () => {
        await connectAndSend("127.0.0.1", other.port);
        await connectAndSend("::1", l6.port);
        const x = await connectAndSend("127.0.0.1", l4.port);
        await sleep(50);
        return x;
      });
      assert.equal(r.code, 0, r.stderr);
      const mine = r.records.filter((e) => e.pid === process.pid);
      assert.equal(mine.length, 1, JSON.stringify(r.records));
      const e = mine[0] as Record<string, unknown>;
      assert.equal(typeof e.time, "string");
      assert.deepEqual(
        { ip: e.ip, raddr: e.raddr, rport: e.rport, laddr: e.laddr, lport: e.lport },
        { ip: 4, raddr: "127.0.0.1", rport: r.result.lport, laddr: "127.0.0.1", lport: l4.port },
      );
    } finally {
      await l4.close();
      await other.close();
      await l6.close();
    }
  });
});
