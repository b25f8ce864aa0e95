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
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { BPF } from "../../../src/index.js";
import { kprobeSupport } from "../../../src/kernel/features.js";
import { skipUnlessRoot, testTempDir } from "../../helpers.js";
import { fileIo, rawSocket } from "./activity.js";
import { traceWhile } from "./run_tool.js";
import { connectAndSend, listen } from "./tcp_helpers.js";

const kprobes = kprobeSupport() === "yes";
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
      const l4 = await listen("127.0.0.1", (s) => {
        let got = 0;
        s.on("data", (d: Buffer) => {
          got += d.length;
          if (got >= 50000) s.end(Buffer.alloc(20000, 0x62));
        });
      });
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
