import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hasTracepoint } from "../../../tools/lib/runtime.js";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";
import { answering, connectAndSend } from "./tcp_helpers.js";

const noHooks = hasTracepoint("sock:sock_send_length")
  ? false
  : "needs the sock_send_length tracepoint (Linux 6.3+)";

describe("tcptop", { skip: skipUnlessRoot || noHooks }, () => {
  it("prints both ends of the test's connections with their KB, bcc's layout (-C, interval count)", async () => {
    const l4 = await answering("127.0.0.1");
    const l6 = await answering("::1");
    try {
      const r = await traceWhile(
        "tcptop",
        ["-C", "-p", String(process.pid), "2", "1"],
        async () => ({
          a: await connectAndSend("127.0.0.1", l4.port, 50000, 20000),
          b: await connectAndSend("::1", l6.port, 50000, 20000),
        }),
        { untilExit: true },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.lines[0], "Tracing... Output every 2 secs. Hit Ctrl-C to end");
      assert.equal(r.lines[1], "");
      assert.match(r.lines[2] as string, /^\d\d:\d\d:\d\d loadavg: [\d.]+ [\d.]+ [\d.]+ \d+\/\d+ \d+$/);
      assert.equal(
        r.lines[4],
        "PID     COMM         LADDR                 RADDR                  RX_KB  TX_KB",
      );
      const pid = process.pid;
      const { a, b } = r.result;
      const has = (re: string): boolean => r.lines.some((l) => new RegExp(re).test(l));
      assert.ok(
        has(`^${pid} +\\S+ +127\\.0\\.0\\.1:${a.lport} +127\\.0\\.0\\.1:${l4.port} +19 +48$`),
        r.stdout,
      );
      assert.ok(
        has(`^${pid} +\\S+ +127\\.0\\.0\\.1:${l4.port} +127\\.0\\.0\\.1:${a.lport} +48 +19$`),
        r.stdout,
      );
      assert.ok(
        r.lines.includes(`PID     COMM         ${"LADDR6".padEnd(32)} ${"RADDR6".padEnd(32)}  RX_KB  TX_KB`),
      );
      assert.ok(has(`^${pid} +\\S+ +::1:${b.lport} +::1:${l6.port} +19 +48$`), r.stdout);
    } finally {
      await l4.close();
      await l6.close();
    }
  });

  it("--json -6 -S: one record per connection, IPv6 only", async () => {
    const l4 = await answering("127.0.0.1");
    const l6 = await answering("::1");
    try {
      const r = await traceWhile(
        "tcptop",
        ["--json", "-6", "-S", "2", "1"],
        async () => {
          await connectAndSend("127.0.0.1", l4.port, 50000, 20000);
          return connectAndSend("::1", l6.port, 50000, 20000);
        },
        { untilExit: true },
      );
      assert.equal(r.code, 0, r.stderr);
      const client = r.records.find((e) => e.lport === r.result.lport);
      assert.deepEqual(
        {
          pid: client?.pid,
          ip: client?.ip,
          laddr: client?.laddr,
          raddr: client?.raddr,
          rport: client?.rport,
          tx_bytes: client?.tx_bytes,
          rx_bytes: client?.rx_bytes,
          tx_kb: client?.tx_kb,
          rx_kb: client?.rx_kb,
        },
        {
          pid: process.pid,
          ip: 6,
          laddr: "::1",
          raddr: "::1",
          rport: l6.port,
          tx_bytes: 50000,
          rx_bytes: 20000,
          tx_kb: 48,
          rx_kb: 19,
        },
      );
      assert.ok(!r.records.some((e) => e.ip === 4));
    } finally {
      await l4.close();
      await l6.close();
    }
  });
});
