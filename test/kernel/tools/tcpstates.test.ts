import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";
import { connectAndSend, listen, sleep } from "./tcp_helpers.js";

describe("tcpstates", { skip: skipUnlessRoot }, () => {
  it("prints the state changes of a connection the test makes, bcc's columns", async () => {
    const l4 = await listen("127.0.0.1");
    try {
      const r = await traceWhile("tcpstates", ["-D", String(l4.port)], async () => {
        const c = await connectAndSend("127.0.0.1", l4.port, 100);
        await sleep(50);
        return c;
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.lines[0] as string,
        /^SKADDR {11}C-PID C-COMM {5}LADDR {11}LPORT RADDR {11}RPORT OLDSTATE {4}-> NEWSTATE {4}MS$/,
      );
      // the client's socket: CLOSE -> SYN_SENT (before its port is chosen),
      // SYN_SENT -> ESTABLISHED, then the active close down to CLOSE
      const rows = r.lines.slice(1).map((l) => l.split(/ +/));
      const seen = rows.map((f) => `${f[6]} ${f[7]}>${f[9]}`);
      assert.ok(seen.includes(`${l4.port} CLOSE>SYN_SENT`), r.stdout);
      assert.ok(seen.includes(`${l4.port} SYN_SENT>ESTABLISHED`), r.stdout);
      assert.ok(seen.includes(`${l4.port} ESTABLISHED>FIN_WAIT1`), r.stdout);
      const syn = rows.find((f) => f[7] === "CLOSE" && f[9] === "SYN_SENT");
      // connect() runs in the test's process
      assert.equal(syn?.[1], String(process.pid), r.stdout);
      assert.match(syn?.[0] as string, /^[0-9a-f]{16}$/);
      const est = r.lines.find((l) => / SYN_SENT +-> ESTABLISHED +\d+\.\d{3}$/.test(l));
      assert.match(
        est ?? r.stdout,
        new RegExp(
          `^[0-9a-f]+ +\\d+ +\\S+ +127\\.0\\.0\\.1 +${r.result.lport} +127\\.0\\.0\\.1 +${l4.port} `,
        ),
      );
    } finally {
      await l4.close();
    }
  });

  it("--json with -6 and -L: the listener side of an IPv6 connection", async () => {
    const l6 = await listen("::1");
    const l4 = await listen("127.0.0.1");
    try {
      const r = await traceWhile("tcpstates", ["--json", "-6", "-L", String(l6.port)], async () => {
        await connectAndSend("127.0.0.1", l4.port);
        const c = await connectAndSend("::1", l6.port, 10);
        await sleep(50);
        return c;
      });
      assert.equal(r.code, 0, r.stderr);
      const mine = r.records.filter((e) => e.rport === r.result.lport);
      assert.ok(mine.length >= 2, JSON.stringify(r.records));
      for (const e of mine) {
        assert.equal(e.ip, 6);
        assert.equal(e.laddr, "::1");
        assert.equal(e.lport, l6.port);
        assert.equal(typeof e.ms, "number");
        assert.match(e.skaddr as string, /^0x[0-9a-f]+$/);
      }
      // the accepted socket is born in SYN_RECV and established by the client's ACK
      assert.ok(
        mine.some((e) => e.oldstate === "SYN_RECV" && e.newstate === "ESTABLISHED"),
        JSON.stringify(mine),
      );
      assert.ok(!r.records.some((e) => e.ip === 4));
    } finally {
      await l6.close();
      await l4.close();
    }
  });

  it("-Y: the journal is not supported", async () => {
    const r = await traceWhile("tcpstates", ["-Y"], () => 0);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /NotSupportedError: .*journal/);
  });
});
