/**
 * Programs on cgroups and socket maps: a cgroup_sock_addr program that
 * refuses connects from a test cgroup (libbpf section and bcc style), and
 * sock_ops + sk_msg with a sockhash redirecting what one TCP connection
 * sends into another's receive queue. Each test makes a cgroup of its own
 * under the cgroup v2 mount (mounting one in a temporary directory when the
 * system has none) and runs its processes there.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, rmdirSync, statSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  AttachError,
  BPF,
  BPFAttachType,
  type CgroupArray,
  type HashTable,
  type PerCpuHash,
} from "../../src/index.js";
import { cgroup2Root, runInCgroup } from "../cgroup.js";
import { assertNothingLeft, kernelObjects, skipUnlessRoot } from "../helpers.js";

const CONNECT = (port: number) => `
const s = require("net").connect(${port}, "127.0.0.1");
s.on("connect", () => { console.log("connected"); process.exit(0); });
s.on("error", (e) => { console.log(e.code); process.exit(0); });`;

describe("cgroup and socket-map programs", { skip: skipUnlessRoot }, () => {
  let cg = "";
  let server: Server;
  let port = 0;
  before(async () => {
    cg = join(cgroup2Root(), `tsbpf-test-${process.pid}`);
    mkdirSync(cg, { recursive: true });
    server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  after(() => {
    server.close();
    try {
      rmdirSync(cg);
    } catch {
      // a process may still be leaving it
    }
  });

  it('refuses connects from the cgroup with a SEC("cgroup/connect4") program, until closed', async () => {
    const before = kernelObjects();
    const b = await BPF.load({
      text: `
BPF_ARRAY(refused, u64, 1);
SEC("cgroup/connect4")
int no_connect(struct bpf_sock_addr *ctx)
{
    if (ctx->user_port != bpf_htons(${port}))
        return 1;
    refused.increment(0);
    return 0;
}`,
    });
    try {
      b.attachCgroup({ fnName: "no_connect", cgroup: cg });
      assert.equal(runInCgroup(cg, CONNECT(port)).trim(), "EPERM");
      assert.equal(b.getTable("refused").get(0), 1n);
      // Outside the cgroup, nothing changes.
      assert.equal(
        spawnSync(process.execPath, ["-e", CONNECT(port)], { encoding: "utf8" }).stdout.trim(),
        "connected",
      );
      b.detachCgroup({ cgroup: cg, fnName: "no_connect" });
      assert.equal(runInCgroup(cg, CONNECT(port)).trim(), "connected");
      b.attachCgroup({ fnName: "no_connect", cgroup: cg });
    } finally {
      b.close();
    }
    assert.equal(runInCgroup(cg, CONNECT(port)).trim(), "connected", "close() detached it");
    await assertNothingLeft(before);
  });

  it("attaches a bcc-style function by attach type, and says what is wrong", async () => {
    await using b = await BPF.load({
      text: `
int no_connect(struct bpf_sock_addr *ctx) { return ctx->user_port != bpf_htons(${port}); }
int plain(void *ctx) { return 0; }`,
    });
    assert.throws(
      () => b.attachCgroup({ fnName: "no_connect", cgroup: cg }),
      /does not say how it attaches: pass attachType/,
    );
    b.attachCgroup({ fnName: "no_connect", cgroup: cg, attachType: BPFAttachType.CGROUP_INET4_CONNECT });
    assert.equal(runInCgroup(cg, CONNECT(port)).trim(), "EPERM");
    assert.throws(
      () =>
        b.attachCgroup({ fnName: "no_connect", cgroup: join(cg, "missing"), attachType: "cgroup/connect4" }),
      (err: unknown) => err instanceof AttachError && /no such cgroup/.test(err.message),
    );
    assert.throws(
      () => b.attachCgroup({ fnName: "plain", cgroup: cg, attachType: "connect5" }),
      /unknown attach type connect5/,
    );
    assert.throws(
      () => b.attachCgroup({ fnName: "plain", cgroup: cg, attachType: "sk_msg" }),
      /attach to a socket map \(attachFunc\), not a cgroup/,
    );
  });

  it("BPF_CGROUP_STORAGE: a cgroup_skb program counts the cgroup's packets in its storage, read from JS by cgroup and attach type", async () => {
    await using b = await BPF.load({
      text: `
BPF_CGROUP_STORAGE(packets, u64);
BPF_PERCPU_CGROUP_STORAGE(bytes, u64);
SEC("cgroup_skb/egress")
int count(struct __sk_buff *skb)
{
    u64 *n = packets.get_local_storage(0);
    __sync_fetch_and_add(n, 1);
    u64 *b = bytes.get_local_storage(0);
    *b += skb->len;
    return 1;
}`,
    });
    b.attachCgroup({ fnName: "count", cgroup: cg });
    assert.equal(runInCgroup(cg, CONNECT(port)).trim(), "connected");
    type Key = { cgroup_inode_id: bigint; attach_type: number };
    const packets = [...b.getTable<HashTable<Key, bigint>>("packets").items()];
    assert.equal(packets.length, 1);
    const [key, n] = packets[0] as [Key, bigint];
    assert.equal(key.cgroup_inode_id, BigInt(statSync(cg).ino));
    assert.equal(key.attach_type, BPFAttachType.CGROUP_INET_EGRESS);
    assert.ok(n >= 2n, `${n} packets (at least the SYN and the ACK)`);
    const perCpu = b.getTable<PerCpuHash<Key, bigint>>("bytes").get(key) as bigint[];
    assert.ok(perCpu.reduce((a, x) => a + x, 0n) >= 40n * n, "per-CPU byte counts");
  });

  it("CgroupArray.set(i, path) puts a cgroup where check_current_task looks", async () => {
    await using b = await BPF.load({
      text: `
BPF_CGROUP_ARRAY(cgroups, 1);
BPF_ARRAY(execs, u64, 1);
TRACEPOINT_PROBE(sched, sched_process_exec)
{
    if (cgroups.check_current_task(0) == 1)
        execs.increment(0);
    return 0;
}`,
    });
    b.getTable<CgroupArray>("cgroups").set(0, cg);
    spawnSync("/bin/true");
    assert.equal(b.getTable("execs").get(0), 0n, "an exec outside the cgroup");
    runInCgroup(cg, "0");
    assert.equal(b.getTable("execs").get(0), 1n, "the exec of node inside it");
    assert.throws(() => b.getTable<CgroupArray>("cgroups").set(0, join(cg, "missing")), /cannot open cgroup/);
  });

  it("sock_ops fills a sockhash, and an sk_msg program redirects one connection's sends into another's receive queue", async () => {
    const before = kernelObjects();
    const b = await BPF.load({
      text: `
BPF_SOCKHASH(socks, u32, 16);
BPF_ARRAY(counts, u64, 2);
int add_sock(struct bpf_sock_ops *skops)
{
    if (skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
        return 0;
    // the server's sockets, numbered in the order their connections are established
    u32 zero = 0;
    u64 *n = counts.lookup(&zero);
    if (!n)
        return 0;
    u32 key = __sync_fetch_and_add(n, 1);
    socks.sock_hash_update(skops, &key, BPF_ANY);
    return 0;
}
int redirect(struct sk_msg_md *msg)
{
    u32 one = 1;
    counts.increment(one);
    return socks.msg_redirect_hash(msg, &one, BPF_F_INGRESS);
}`,
    });
    try {
      b.attachCgroup({ fnName: "add_sock", cgroup: cg, attachType: "sockops" });
      b.attachFunc("redirect", "socks", BPFAttachType.SK_MSG_VERDICT);
      // In the cgroup: two connections to one server; the server's socket of the first writes.
      const out = runInCgroup(
        cg,
        `
const net = require("net");
const seen = [];
const server = net.createServer((s) => {
  seen.push(s);
  const me = seen.length === 1 ? "server-a" : "server-b";
  s.on("data", (d) => console.log(JSON.stringify({ at: me, data: d.toString() })));
  if (seen.length === 2) seen[0].write("sent on connection A");
});
server.listen(0, "127.0.0.1", () => {
  const port = server.address().port;
  const a = net.connect(port, "127.0.0.1", () => {
    a.on("data", (d) => console.log(JSON.stringify({ at: "client-a", data: d.toString() })));
    net.connect(port, "127.0.0.1");
  });
});
setTimeout(() => process.exit(0), 1000);`,
      );
      const events = out
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { at: string; data: string });
      assert.deepEqual(events, [{ at: "server-b", data: "sent on connection A" }]);
      assert.equal(b.getTable("counts").get(0), 2n, "both server sockets went into the sockhash");
      assert.equal(b.getTable("counts").get(1), 1n, "the sk_msg program saw the one send");
      b.detachFunc("redirect", "socks", "sk_msg");
    } finally {
      b.close();
    }
    await assertNothingLeft(before);
  });
});
