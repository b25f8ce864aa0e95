/**
 * The tools' variants on kernel functions, bcc's own hooks: `--hook kprobe`
 * (kprobes, and kretprobes for results) and `--hook fentry` (fentry/fexit),
 * and what `--hook auto` picks. This machine's kernel has neither (no
 * CONFIG_KPROBES; fentry refused): here the errors are tested, and the
 * variants in the kernel matrix (Debian's 6.1, which has both and lacks the
 * capability:cap_capable and sock_send_length tracepoints, so capable and
 * tcptop run there only through these variants).
 * @kernel-matrix kprobes and fentry attach there.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { BPF } from "../../../src/index.js";
import { kprobeSupport } from "../../../src/kernel/features.js";
import { skipUnlessRoot, testTempDir } from "../../helpers.js";
import { ip, netToolsMissing } from "../../net.js";
import { fileIo, getppidCaller, hog, rawSocket, smallMemoryCgroup } from "./activity.js";
import { traceWhile } from "./run_tool.js";
import { answering, connectAndSend } from "./tcp_helpers.js";

const kprobes = kprobeSupport() === "yes";

/** A TCP listener on 10.99.1.2:4450 that reads everything; prints a line once listening. */
const LISTENER = `require("net").createServer((s) => { s.resume(); s.on("error", () => {}); })
  .listen(4450, "10.99.1.2", () => console.log("up"));`;

/** Connects to the listener, takes the peer's address away (from namespace ns2), sends, waits 1.5 s. */
const sender = (ns2: string): string => `
  const s = require("net").connect(4450, "10.99.1.2", () => {
    require("child_process").execFileSync("ip", ["-n", ${JSON.stringify(ns2)}, "addr", "flush", "dev", "vb"]);
    s.write(Buffer.alloc(2000, 1));
    setTimeout(() => process.exit(0), 1500);
  });
  s.on("error", () => {});`;
const fentry = !skipUnlessRoot && BPF.supports("fentry") === "yes";

for (const [hook, here] of [
  ["kprobe", kprobes],
  ["fentry", fentry],
] as const) {
  const skip = skipUnlessRoot || (here ? false : `this kernel has no ${hook}: runs in the kernel matrix`);

  describe(`tools with --hook ${hook}`, { skip }, () => {
    it("capable: bcc's AUDIT and INSETID columns from cap_capable's options, and its result", async () => {
      const r = await traceWhile("capable", ["--hook", hook, "-x"], rawSocket);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, ""); // bcc's hook: nothing to say
      const row = r.lines.find((l) => new RegExp(`^\\S+ +0 +${r.result} +${r.result} +python3 +13 `).test(l));
      assert.ok(row, r.stdout);
      assert.match(row, / CAP_NET_RAW +1 +0$/);
      const j = await traceWhile("capable", ["--hook", hook, "--json"], rawSocket);
      const rec = j.records.find((x) => x.pid === j.result && x.cap === 13);
      assert.deepEqual(
        { name: rec?.name, audit: rec?.audit, insetid: rec?.insetid, ret: rec?.ret, comm: rec?.comm },
        { name: "CAP_NET_RAW", audit: 1, insetid: 0, ret: 0, comm: "python3" },
      );
    });

    it("filetop: each vfs_read()/vfs_write() with the bytes asked for, as bcc counts them", async () => {
      const dir = testTempDir(`tsbpf-filetop-${hook}`);
      const file = join(dir, "known-file");
      const r = await traceWhile("filetop", ["--hook", hook, "--json", "-r", "100000", "30"], () =>
        fileIo(dir, file),
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
      const rec = r.records.find((x) => x.tid === r.result && x.file === "known-file");
      // writev() goes through vfs_writev(), which bcc's filetop does not see; the
      // last pread64() asks for 8 KiB and gets none: four reads of 8 KiB asked
      assert.deepEqual(
        { reads: rec?.reads, writes: rec?.writes, rbytes: rec?.rbytes, wbytes: rec?.wbytes, type: rec?.type },
        { reads: 4, writes: 2, rbytes: 32768, wbytes: 16384, type: "R" },
      );
    });

    it("tcptop: tcp_sendmsg()'s and tcp_cleanup_rbuf()'s bytes per connection", async () => {
      const l4 = await answering("127.0.0.1");
      try {
        const r = await traceWhile(
          "tcptop",
          ["--hook", hook, "--json", "-p", String(process.pid), "2", "1"],
          () => connectAndSend("127.0.0.1", l4.port, 50000, 20000),
          { untilExit: true },
        );
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, "");
        const client = r.records.find((e) => e.lport === r.result.lport);
        const server = r.records.find((e) => e.rport === r.result.lport);
        assert.deepEqual(
          { tx: client?.tx_bytes, rx: client?.rx_bytes, pid: client?.pid, laddr: client?.laddr },
          { tx: 50000, rx: 20000, pid: process.pid, laddr: "127.0.0.1" },
        );
        assert.deepEqual({ tx: server?.tx_bytes, rx: server?.rx_bytes }, { tx: 20000, rx: 50000 });
      } finally {
        await l4.close();
      }
    });

    it("oomkill: bcc's page count, the OOM control's total pages, from oom_kill_process()", async (t) => {
      const cg = smallMemoryCgroup();
      if (!cg) return t.skip("no memory cgroup can be made here");
      try {
        const r = await traceWhile("oomkill", ["--hook", hook, "--json"], () => hog(cg.procs));
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, "");
        const rec = r.records.find((x) => x.tpid === r.result);
        assert.ok(rec, r.stdout);
        assert.deepEqual({ fpid: rec.fpid, tcomm: rec.tcomm }, { fpid: r.result, tcomm: "python3" });
        // a memory cgroup's OOM control counts the cgroup's limit (24 MB: 6144 pages), not the victim's size
        assert.equal(rec.pages, (24 << 20) / 4096);
      } finally {
        rmdirSync(cg.dir);
      }
    });

    it("auto: bcc's hook where the kernel has it", {
      skip: hook !== "kprobe" && "kprobes come first",
    }, async () => {
      const r = await traceWhile("capable", [], rawSocket);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
      assert.ok(
        r.lines.some((l) => new RegExp(`^\\S+ +0 +${r.result} +python3 +13 +CAP_NET_RAW +1 *$`).test(l)),
        r.stdout,
      );
    });

    it("tcpretrans -l: a tail loss probe of a connection whose peer stopped answering", {
      skip: netToolsMissing,
    }, async () => {
      const ns1 = `tsbpf-tlp1-${process.pid}`;
      const ns2 = `tsbpf-tlp2-${process.pid}`;
      ip("netns", "add", ns1);
      ip("netns", "add", ns2);
      let server: ReturnType<typeof spawn> | undefined;
      try {
        ip("-n", ns1, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", ns2);
        ip("-n", ns1, "addr", "add", "10.99.1.1/24", "dev", "va");
        ip("-n", ns2, "addr", "add", "10.99.1.2/24", "dev", "vb");
        ip("-n", ns1, "link", "set", "va", "up");
        ip("-n", ns2, "link", "set", "vb", "up");
        server = spawn("ip", ["netns", "exec", ns2, process.execPath, "-e", LISTENER], {
          stdio: ["ignore", "pipe", "inherit"],
        });
        await once(server.stdout as NodeJS.ReadableStream, "data"); // listening
        const r = await traceWhile("tcpretrans", ["-l", "--hook", hook, "--json"], async () => {
          // connects, then the peer loses its address (its packets are dropped
          // there, ACKs never come) and 2000 bytes are sent: a loss probe follows
          const client = spawn("ip", ["netns", "exec", ns1, process.execPath, "-e", sender(ns2)], {
            stdio: "inherit",
          });
          await once(client, "exit");
        });
        assert.equal(r.code, 0, r.stderr);
        const probe = r.records.find((e) => e.type === "L" && e.rport === 4450);
        assert.ok(probe, JSON.stringify(r.records));
        assert.deepEqual(
          { laddr: probe.laddr, raddr: probe.raddr, state: probe.state, ip: probe.ip },
          { laddr: "10.99.1.1", raddr: "10.99.1.2", state: "ESTABLISHED", ip: 4 },
        );
      } finally {
        server?.kill();
        ip("netns", "del", ns1);
        ip("netns", "del", ns2);
      }
    });

    it("stackcount on a kernel function: the getppid syscall's 1000 calls", {
      skip: hook !== "kprobe" && "kprobes only",
    }, async () => {
      const c = getppidCaller();
      // a wildcard, as bcc users write it: the function getppid() reaches is
      // __do_sys_getppid on Debian's 6.1 (its __x64_ wrapper is not traceable)
      const r = await traceWhile("stackcount", ["-p", String(c.pid), "-f", "*sys_getppid"], c.go);
      c.end();
      assert.equal(r.code, 0, r.stderr);
      const n = r.lines.reduce((k, l) => k + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
      assert.ok(n >= 1000 && n % 1000 === 0, r.stdout);
      assert.ok(
        r.lines.every((l) => /do_syscall_64;.*sys_getppid \d+$/.test(l)),
        r.stdout,
      );
    });

    it("cachestat: hits of a file read twice, from the page cache's own functions", async () => {
      const r = await traceWhile(
        "cachestat",
        ["--hook", hook, "--json", "1", "1"],
        () => {
          readFileSync(process.execPath);
          readFileSync(process.execPath);
        },
        { untilExit: true },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
      assert.equal(r.records.length, 1);
      const rec = r.records[0] as { hits: number; misses: number; hitratio: number };
      // the node binary (tens of MB) is in the page cache after the first read
      assert.ok(rec.hits > 1000 && rec.hitratio > 0.5, JSON.stringify(rec));
    });
  });
}

describe("tools' --hook where the kernel lacks the hook", { skip: skipUnlessRoot }, () => {
  it("kprobe: a NotSupportedError that names what to use", {
    skip: kprobes && "this kernel has kprobes",
  }, async () => {
    const r = await traceWhile("capable", ["--hook", "kprobe"], () => 0);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^capable: NotSupportedError: capable with --hook kprobe is not available on this kernel \(this kernel has no kprobes \(CONFIG_KPROBES is off\)\); use --hook (tracepoint|fentry)/,
    );
  });

  it("fentry: the kernel's refusal, with the tool's error status", {
    skip: fentry && "this kernel has fentry",
  }, async () => {
    const r = await traceWhile("filetop", ["--hook", "fentry"], () => 0);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^filetop: NotSupportedError: kfunc \(fentry\) programs are not available on this kernel/,
    );
  });

  it("auto: falls back from a refused fentry to the tracepoints, saying what they miss", {
    skip: fentry && "this kernel has fentry",
  }, async () => {
    const r = await traceWhile("filetop", ["--json", "-r", "100000", "30"], () => 0);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^filetop: approximate: .*syscall tracepoints/);
  });

  it("a kind that is not one, or that the tool lacks: usage errors", async () => {
    const bad = await traceWhile("capable", ["--hook", "uprobe"], () => 0);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--hook: expected auto, kprobe, fentry or tracepoint, got "uprobe"/);
  });
});
