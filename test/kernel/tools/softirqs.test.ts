import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer } from "node:net";
import { describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

/** Sends 8 MB over loopback TCP: NET_RX soft interrupts. */
async function loopback(): Promise<void> {
  let got = 0;
  const server = createServer((s) => {
    s.on("data", (b: Buffer) => {
      got += b.length;
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  const c = connect(port, "127.0.0.1");
  await once(c, "connect");
  const chunk = Buffer.alloc(64 * 1024, 1);
  for (let i = 0; i < 128; i++) if (!c.write(chunk)) await once(c, "drain");
  c.end();
  while (got < 128 * chunk.length) await new Promise((r) => setTimeout(r, 10));
  server.close();
}

describe("softirqs", { skip: skipUnlessRoot }, () => {
  it("-C counts NET_RX while the test sends over loopback", async () => {
    const r = await traceWhile("softirqs", ["-C"], loopback);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "Tracing soft irq events... Hit Ctrl-C to end.");
    assert.equal(r.lines[2], `${"SOFTIRQ".padEnd(16)} ${"TOTAL_count".padStart(11)}`);
    const row = r.lines.find((l) => l.startsWith("net_rx "));
    assert.ok(row, r.stdout);
    assert.match(row, /^net_rx {10} +\d+$/);
    assert.ok(Number(row.split(/ +/).pop()) > 0);
  });

  it("--json totals; -d histograms per soft irq", async () => {
    const j = await traceWhile("softirqs", ["--json", "-N"], loopback);
    assert.equal(j.code, 0, j.stderr);
    const rec = j.records.find((x) => x.softirq === "net_rx");
    assert.ok(rec, j.stdout);
    assert.deepEqual({ vec: rec.vec, unit: rec.unit }, { vec: 3, unit: "nsecs" });
    assert.ok((rec.total as number) > 0);
    const d = await traceWhile("softirqs", ["-d"], loopback);
    assert.ok(d.lines.includes("softirq = net_rx"), d.stdout);
  });

  it("prints timestamped interval summaries and stops after count", async () => {
    const r = await traceWhile("softirqs", ["-T", "0.3", "2"], () => 0, { untilExit: true });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines.filter((l) => /^\d\d:\d\d:\d\d$/.test(l)).length, 2, r.stdout);
  });
});
