import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";
import { answering, connectAndSend, listen, sleep } from "./tcp_helpers.js";

describe("tcplife", { skip: skipUnlessRoot }, () => {
  it("prints a session the test makes, both ends, with bcc's columns and its bytes", async () => {
    // the server answers 20000 bytes to the client's 50000
    const l4 = await answering("127.0.0.1");
    try {
      const r = await traceWhile("tcplife", ["-p", String(process.pid)], async () => {
        const c = await connectAndSend("127.0.0.1", l4.port, 50000, 20000);
        await sleep(100);
        return c;
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.lines[0] as string, /^PID {3}COMM {7}LADDR {11}LPORT RADDR {11}RPORT TX_KB RX_KB MS$/);
      const pid = process.pid;
      const lport = r.result.lport;
      // the client's end: 50000 bytes out (48 KiB), 20000 in (19 KiB)
      assert.ok(
        r.lines.some((l) =>
          new RegExp(
            `^${pid} +\\S+ +127\\.0\\.0\\.1 +${lport} +127\\.0\\.0\\.1 +${l4.port} +48 +19 \\d+\\.\\d\\d$`,
          ).test(l),
        ),
        r.stdout,
      );
      // the server's end, closed by the test's process after the client's FIN (LAST_ACK)
      assert.ok(
        r.lines.some((l) =>
          new RegExp(
            `^${pid} +\\S+ +127\\.0\\.0\\.1 +${l4.port} +127\\.0\\.0\\.1 +${lport} +19 +48 \\d+\\.\\d\\d$`,
          ).test(l),
        ),
        r.stdout,
      );
    } finally {
      await l4.close();
    }
  });

  it("--json with -6 and -D: IPv6 sessions to the remote port asked for", async () => {
    const l6 = await listen("::1");
    const l4 = await listen("127.0.0.1");
    try {
      const r = await traceWhile("tcplife", ["--json", "-6", "-D", String(l6.port)], async () => {
        await connectAndSend("127.0.0.1", l4.port, 100);
        const c = await connectAndSend("::1", l6.port, 3000);
        await sleep(100);
        return c;
      });
      assert.equal(r.code, 0, r.stderr);
      const mine = r.records.filter((e) => e.lport === r.result.lport);
      assert.equal(mine.length, 1, JSON.stringify(r.records));
      const e = mine[0] as Record<string, unknown>;
      assert.equal(typeof e.time, "string");
      assert.equal(typeof e.ms, "number");
      assert.deepEqual(
        {
          pid: e.pid,
          ip: e.ip,
          laddr: e.laddr,
          raddr: e.raddr,
          rport: e.rport,
          tx_kb: e.tx_kb,
          rx_kb: e.rx_kb,
        },
        { pid: process.pid, ip: 6, laddr: "::1", raddr: "::1", rport: l6.port, tx_kb: 2, rx_kb: 0 },
      );
      // the kernel's counters take in the sequence numbers of SYN and FIN
      assert.ok((e.tx_bytes as number) >= 3000 && (e.tx_bytes as number) <= 3002, String(e.tx_bytes));
      assert.ok((e.rx_bytes as number) <= 1, String(e.rx_bytes));
      assert.ok(!r.records.some((x) => x.rport === l4.port || x.lport === l4.port));
    } finally {
      await l6.close();
      await l4.close();
    }
  });

  it("-w and -s: bcc's wide and CSV layouts", async () => {
    const l4 = await listen("127.0.0.1");
    try {
      const w = await traceWhile("tcplife", ["-w", "-D", String(l4.port)], async () => {
        await connectAndSend("127.0.0.1", l4.port, 10);
        await sleep(50);
      });
      assert.match(
        w.lines[0] as string,
        /^PID {3}COMM {13}IP LADDR {22}LPORT RADDR {22}RPORT {2}TX_KB {2}RX_KB MS$/,
      );
      assert.match(
        w.lines[1] as string,
        new RegExp(`^\\d+ +\\S+ +4 +127\\.0\\.0\\.1 +\\d+ +127\\.0\\.0\\.1 +${l4.port} +0 +0 `),
      );
      const s = await traceWhile("tcplife", ["-s", "-T", "-D", String(l4.port)], async () => {
        await connectAndSend("127.0.0.1", l4.port, 10);
        await sleep(50);
      });
      assert.equal(s.lines[0], "TIME,PID,COMM,IP,LADDR,LPORT,RADDR,RPORT,TX_KB,RX_KB,MS");
      assert.match(
        s.lines[1] as string,
        new RegExp(
          `^\\d\\d:\\d\\d:\\d\\d,\\d+,[^,]+,4,127\\.0\\.0\\.1,\\d+,127\\.0\\.0\\.1,${l4.port},0,0,\\d+\\.\\d\\d$`,
        ),
      );
    } finally {
      await l4.close();
    }
  });
});
