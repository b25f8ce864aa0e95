import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";
import { echoServer, pingPong } from "./tcp_helpers.js";

describe("tcprtt", { skip: skipUnlessRoot }, () => {
  it("counts the segments a connection of the test receives (-P), bcc's histogram", async () => {
    const l4 = await echoServer("127.0.0.1");
    try {
      const r = await traceWhile("tcprtt", ["-P", String(l4.port)], () => pingPong("127.0.0.1", l4.port, 20));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.lines[0], "Tracing TCP RTT... Hit Ctrl-C to end.");
      assert.ok(r.lines.includes("All Addresses = *******"), r.stdout);
      assert.match(r.stdout, /\n {5}usecs {15}: count {5}distribution\n/);
      const counts = [...r.stdout.matchAll(/-> \d+ +: (\d+) +\|/g)].map((m) => Number(m[1]));
      const total = counts.reduce((x, y) => x + y, 0);
      // the client receives at least its 20 echoes (and the FIN)
      assert.ok(total >= 20 && total < 200, `${total} segments:\n${r.stdout}`);
      assert.match(r.stderr, /tcp_probe/);
    } finally {
      await l4.close();
    }
  });

  it("-B -e: a section per remote address with its average; --json; -i intervals", async () => {
    const l4 = await echoServer("127.0.0.1");
    try {
      const r = await traceWhile("tcprtt", ["-B", "-e", "-p", String(l4.port), "-A", "127.0.0.1"], () =>
        pingPong("127.0.0.1", l4.port, 10),
      );
      assert.equal(r.code, 0, r.stderr);
      assert.ok(
        r.lines.some((l) => /^Remote Addres = 127\.0\.0\.1 \[AVG \d+\]$/.test(l)),
        r.stdout,
      );
      const j = await traceWhile("tcprtt", ["--json", "-b", "-p", String(l4.port)], () =>
        pingPong("127.0.0.1", l4.port, 10),
      );
      assert.equal(j.code, 0, j.stderr);
      assert.equal(j.records.length, 1, j.stdout);
      const rec = j.records[0] as { addr: string; val_type: string; data: Array<{ count: number }> };
      assert.equal(rec.addr, "127.0.0.1");
      assert.equal(rec.val_type, "usecs");
      assert.ok(rec.data.reduce((s, d) => s + d.count, 0) >= 10);
      const iv = await traceWhile("tcprtt", ["-T", "-i", "0.3", "-d", "0.7"], () => 0, { untilExit: true });
      assert.equal(iv.code, 0, iv.stderr);
      assert.ok(iv.lines.filter((l) => /^\d\d:\d\d:\d\d$/.test(l)).length >= 2, iv.stdout);
      const bad = await traceWhile("tcprtt", ["-a", "::1"], () => 0);
      assert.equal(bad.code, 2);
    } finally {
      await l4.close();
    }
  });
});
