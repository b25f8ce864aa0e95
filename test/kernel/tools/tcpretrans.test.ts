import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { skipUnlessRoot } from "../../helpers.js";
import { ip, netToolsMissing } from "../../net.js";
import { traceWhile } from "./run_tool.js";

// This kernel has neither netem nor nftables/iptables here: the retransmits
// are those of a SYN to an address on a veth that nobody answers (its ARP
// goes unanswered), in a network namespace of the test's own.
const NS = `tsbpf-retrans-${process.pid}`;
const DST = "10.99.0.2";

/** Connects from inside NS to DST:port and gives up after ms (a SYN retransmit comes after 1 s). */
async function unansweredConnect(port: number, ms = 1500): Promise<void> {
  const child = spawn(
    "ip",
    [
      "netns",
      "exec",
      NS,
      process.execPath,
      "-e",
      `const s = require("net").connect(${port}, "${DST}"); s.on("error", () => {}); setTimeout(() => process.exit(0), ${ms});`,
    ],
    { stdio: "ignore" },
  );
  await once(child, "exit");
}

describe("tcpretrans", { skip: skipUnlessRoot || netToolsMissing }, () => {
  before(() => {
    ip("netns", "add", NS);
    ip("-n", NS, "link", "add", "va", "type", "veth", "peer", "name", "vb");
    ip("-n", NS, "addr", "add", "10.99.0.1/24", "dev", "va");
    ip("-n", NS, "link", "set", "va", "up");
    ip("-n", NS, "link", "set", "vb", "up");
  });
  after(() => {
    ip("netns", "del", NS);
  });

  it("prints a SYN retransmit with bcc's columns (-s: sequence numbers)", async () => {
    const r = await traceWhile("tcpretrans", ["-s"], () => unansweredConnect(4441));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "Tracing retransmits ... Hit Ctrl-C to end");
    assert.match(
      r.lines[1] as string,
      /^TIME {5}PID {5}IP LADDR:LPORT {10}T> RADDR:RPORT {10}STATE {8}SEQ {7}$/,
    );
    assert.ok(
      r.lines.some((l) =>
        /^\d\d:\d\d:\d\d \d+ +4 {2}10\.99\.0\.1:\d+ +R> 10\.99\.0\.2:4441 +SYN_SENT {5}\d+$/.test(l),
      ),
      r.stdout,
    );
  });

  it("--json: one record per retransmit", async () => {
    const r = await traceWhile("tcpretrans", ["--json", "-4"], () => unansweredConnect(4442));
    assert.equal(r.code, 0, r.stderr);
    const mine = r.records.filter((e) => e.raddr === DST && e.rport === 4442);
    assert.ok(mine.length >= 1, JSON.stringify(r.records));
    const e = mine[0] as Record<string, unknown>;
    assert.deepEqual(
      { ip: e.ip, laddr: e.laddr, type: e.type, state: e.state },
      { ip: 4, laddr: "10.99.0.1", type: "R", state: "SYN_SENT" },
    );
    assert.equal(typeof e.seq, "number");
    assert.equal(typeof e.lport, "number");
    assert.equal(typeof e.time, "string");
    const six = await traceWhile("tcpretrans", ["--json", "-6"], () => unansweredConnect(4443));
    assert.ok(!six.records.some((x) => x.rport === 4443), JSON.stringify(six.records));
  });

  it("-c counts retransmits per flow; -l needs kprobes", async () => {
    const r = await traceWhile("tcpretrans", ["-c"], () => unansweredConnect(4444));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[2], "LADDR:LPORT               RADDR:RPORT               RETRANSMITS");
    assert.ok(
      r.lines.some((l) => /^\[10\.99\.0\.1\]#\d+ +<-> \[10\.99\.0\.2\]#4444 +\d+$/.test(l)),
      r.stdout,
    );
    const l = await traceWhile("tcpretrans", ["-l"], () => 0);
    assert.equal(l.code, 1);
    assert.match(l.stderr, /NotSupportedError: tcpretrans -l\/--lossprobe .*needs kprobes or fentry/);
  });
});
