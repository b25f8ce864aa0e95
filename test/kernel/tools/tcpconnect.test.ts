import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";
import { closedPort, connectAndSend, connectRefused, listen } from "./tcp_helpers.js";

describe("tcpconnect", { skip: skipUnlessRoot }, () => {
  it("prints bcc's columns for IPv4 and IPv6 connects the test makes, refused ones too", async () => {
    const l4 = await listen("127.0.0.1");
    const l6 = await listen("::1");
    const refused = await closedPort("127.0.0.1");
    try {
      const r = await traceWhile("tcpconnect", ["-L", "-U", "-p", String(process.pid)], async () => {
        const a = await connectAndSend("127.0.0.1", l4.port);
        const b = await connectAndSend("::1", l6.port);
        assert.equal(await connectRefused("127.0.0.1", refused), "ECONNREFUSED");
        return { a, b };
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.lines[0], "Tracing connect ... Hit Ctrl-C to end");
      assert.match(r.lines[1] as string, /^UID {3}PID {5}COMM {9}IP SADDR {12}LPORT {2}DADDR {12}DPORT $/);
      const pid = process.pid;
      const row4 = r.lines.find((l) => new RegExp(` ${l4.port} *$`).test(l));
      assert.match(
        row4 ?? r.stdout,
        new RegExp(
          `^0 +${pid} +\\S+ +4 +127\\.0\\.0\\.1 +${r.result.a.lport} +127\\.0\\.0\\.1 +${l4.port} *$`,
        ),
      );
      const row6 = r.lines.find((l) => new RegExp(` ${l6.port} *$`).test(l));
      assert.match(
        row6 ?? r.stdout,
        new RegExp(`^0 +${pid} +\\S+ +6 +::1 +${r.result.b.lport} +::1 +${l6.port} *$`),
      );
      assert.ok(
        r.lines.some((l) => new RegExp(` 127\\.0\\.0\\.1 +${refused} *$`).test(l)),
        `refused connect missing:\n${r.stdout}`,
      );
      assert.match(r.stderr, /inet_sock_set_state/);
    } finally {
      await l4.close();
      await l6.close();
    }
  });

  it("--json, -6 and -P filter by family and port", async () => {
    const l4 = await listen("127.0.0.1");
    const l6 = await listen("::1");
    const other = await listen("::1");
    try {
      const r = await traceWhile("tcpconnect", ["--json", "-6", "-P", `${l4.port},${l6.port}`], async () => {
        await connectAndSend("127.0.0.1", l4.port);
        await connectAndSend("::1", other.port);
        return connectAndSend("::1", l6.port);
      });
      assert.equal(r.code, 0, r.stderr);
      const mine = r.records.filter((e) => e.pid === process.pid);
      assert.equal(mine.length, 1, JSON.stringify(r.records));
      const e = mine[0] as Record<string, unknown>;
      assert.equal(typeof e.time, "string");
      assert.equal(typeof e.comm, "string");
      assert.deepEqual(
        { ip: e.ip, saddr: e.saddr, daddr: e.daddr, dport: e.dport, lport: e.lport, uid: e.uid },
        { ip: 6, saddr: "::1", daddr: "::1", dport: l6.port, lport: r.result.lport, uid: 0 },
      );
    } finally {
      await l4.close();
      await l6.close();
      await other.close();
    }
  });

  it("-c counts connects per address pair and port at the end", async () => {
    const l4 = await listen("127.0.0.1");
    try {
      const r = await traceWhile("tcpconnect", ["-c", "-p", String(process.pid)], async () => {
        for (let i = 0; i < 3; i++) await connectAndSend("127.0.0.1", l4.port);
      });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.lines.slice(0, 3), [
        "Tracing connect ... Hit Ctrl-C to end",
        "",
        "LADDR                     RADDR                     RPORT                CONNECTS  ",
      ]);
      assert.ok(
        r.lines.some((l) => new RegExp(`^127\\.0\\.0\\.1 +127\\.0\\.0\\.1 +${l4.port} +3 *$`).test(l)),
        r.stdout,
      );
    } finally {
      await l4.close();
    }
  });

  it("-d needs kprobes: a NotSupportedError", async () => {
    const r = await traceWhile("tcpconnect", ["-d"], () => 0);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /NotSupportedError: .*kprobes/);
  });
});
