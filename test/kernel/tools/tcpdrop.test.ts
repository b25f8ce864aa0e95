import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";
import { closedPort, connectRefused, sleep } from "./tcp_helpers.js";

describe("tcpdrop", { skip: skipUnlessRoot }, () => {
  it("prints the SYN to a closed port (dropped: no socket) with bcc's columns and a kernel stack", async () => {
    const port = await closedPort("127.0.0.1");
    const r = await traceWhile("tcpdrop", ["-4"], async () => {
      assert.equal(await connectRefused("127.0.0.1", port), "ECONNREFUSED");
      await sleep(50);
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "TIME     PID     IP SADDR:SPORT          > DADDR:DPORT          STATE (FLAGS)");
    const i = r.lines.findIndex((l) =>
      new RegExp(
        `^\\d\\d:\\d\\d:\\d\\d \\d+ +4  127\\.0\\.0\\.1:\\d+ +> 127\\.0\\.0\\.1:${port} +- \\(SYN\\)$`,
      ).test(l),
    );
    assert.ok(i > 0, r.stdout);
    // the stack: tab-indented kernel functions, then an empty line
    assert.match(r.lines[i + 1] as string, /^\t\w+\+0x[0-9a-f]+$/);
    assert.match(r.stderr, /kfree_skb/);
  });

  it("--json: the drop's reason (NO_SOCKET) and stack; -6 leaves IPv4 out", async () => {
    const port = await closedPort("::1");
    const port4 = await closedPort("127.0.0.1");
    const r = await traceWhile("tcpdrop", ["--json", "-6"], async () => {
      await connectRefused("127.0.0.1", port4);
      await connectRefused("::1", port);
      await sleep(50);
    });
    assert.equal(r.code, 0, r.stderr);
    const mine = r.records.filter((e) => e.dport === port && e.daddr === "::1");
    assert.ok(mine.length >= 1, JSON.stringify(r.records));
    const e = mine[0] as Record<string, unknown>;
    assert.deepEqual(
      { ip: e.ip, saddr: e.saddr, flags: e.flags, state: e.state, reason: e.reason },
      { ip: 6, saddr: "::1", flags: "SYN", state: null, reason: "NO_SOCKET" },
    );
    assert.ok(Array.isArray(e.stack) && (e.stack as string[]).length > 0);
    assert.ok(!r.records.some((x) => x.dport === port4));
  });
});
