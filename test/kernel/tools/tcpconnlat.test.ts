import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";
import { closedPort, connectAndSend, connectRefused, listen } from "./tcp_helpers.js";

describe("tcpconnlat", { skip: skipUnlessRoot }, () => {
  it("prints the latency of connects the test makes, bcc's columns (-L -t)", async () => {
    const l4 = await listen("127.0.0.1");
    const l6 = await listen("::1");
    const refused = await closedPort("127.0.0.1");
    try {
      const r = await traceWhile("tcpconnlat", ["-L", "-t", "-p", String(process.pid)], async () => {
        const a = await connectAndSend("127.0.0.1", l4.port);
        const b = await connectAndSend("::1", l6.port);
        await connectRefused("127.0.0.1", refused);
        return { a, b };
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.lines[0] as string,
        /^TIME\(s\) {2}PID {5}COMM {9}IP SADDR {12}LPORT {2}DADDR {12}DPORT LAT\(ms\)$/,
      );
      const pid = process.pid;
      assert.ok(
        r.lines.some((l) =>
          new RegExp(
            `^\\d+\\.\\d{3} +${pid} +\\S+ +4 +127\\.0\\.0\\.1 +${r.result.a.lport} +127\\.0\\.0\\.1 +${l4.port} +\\d+\\.\\d\\d$`,
          ).test(l),
        ),
        r.stdout,
      );
      assert.ok(
        r.lines.some((l) =>
          new RegExp(
            `^\\d+\\.\\d{3} +${pid} +\\S+ +6 +::1 +${r.result.b.lport} +::1 +${l6.port} +\\d+\\.\\d\\d$`,
          ).test(l),
        ),
        r.stdout,
      );
      // a refused connect never gets established: no latency row
      assert.ok(!r.lines.some((l) => l.includes(` ${refused} `)), r.stdout);
    } finally {
      await l4.close();
      await l6.close();
    }
  });

  it("--json; a minimum latency (duration_ms) above loopback's leaves them out", async () => {
    const l4 = await listen("127.0.0.1");
    try {
      const r = await traceWhile("tcpconnlat", ["--json", "-4"], () => connectAndSend("127.0.0.1", l4.port));
      assert.equal(r.code, 0, r.stderr);
      const e = r.records.find((x) => x.lport === r.result.lport);
      assert.ok(e, JSON.stringify(r.records));
      assert.deepEqual(
        { pid: e.pid, ip: e.ip, saddr: e.saddr, daddr: e.daddr, dport: e.dport },
        { pid: process.pid, ip: 4, saddr: "127.0.0.1", daddr: "127.0.0.1", dport: l4.port },
      );
      assert.ok(typeof e.lat_ms === "number" && e.lat_ms >= 0 && e.lat_ms < 1000);
      const slow = await traceWhile("tcpconnlat", ["--json", "1000"], () =>
        connectAndSend("127.0.0.1", l4.port),
      );
      assert.ok(!slow.records.some((x) => x.lport === slow.result.lport), JSON.stringify(slow.records));
    } finally {
      await l4.close();
    }
  });
});
