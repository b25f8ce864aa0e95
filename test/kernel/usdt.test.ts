/**
 * USDT probes in programs built here with cc and <sys/sdt.h>: a probe
 * without a semaphore (provider "target-sample": sdt.h allows dashes when
 * there is no semaphore) and one with a semaphore (provider "target_sample":
 * the semaphore variable's name is made from the provider's), through
 * USDT({ path }) and USDT({ pid }); bpf_usdt_readarg / bpf_usdt_readarg_p,
 * the kernel counting the semaphore while the probe is attached, and the
 * kernel left as it was found.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, openSync, readSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { elfFile } from "../../src/elf/elf.js";
import { readProcMaps } from "../../src/elf/procmaps.js";
import { AttachError, BPF, type TraceLine, USDT } from "../../src/index.js";
import { uprobeSupport } from "../../src/kernel/features.js";
import { CTargets, ccPresent, sdtHeaderPresent } from "../c_targets.js";
import { assertNothingLeft, kernelObjects, repoRoot, skipUnlessRoot, waitFor } from "../helpers.js";

const targets = new CTargets("tsbpf-usdt");

const skip =
  skipUnlessRoot ||
  (ccPresent && sdtHeaderPresent ? false : "needs a C compiler and <sys/sdt.h> (systemtap-sdt-dev)") ||
  (uprobeSupport() === "yes" ? false : "this kernel has no uprobes (CONFIG_UPROBES)");

const PLAIN_C = `
#include <stdio.h>
#include <unistd.h>
#include <sys/sdt.h>
int main(void) {
  printf("%d\\n", getpid());
  fflush(stdout);
  for (int counter = 1;; counter++) {
    DTRACE_PROBE2(target-sample, test-probe, counter, "text");
    DTRACE_PROBE2(target-sample, swapped, "swap", counter * 100L);
    usleep(10000);
  }
}
`;

/** Fires only while the semaphore is non-zero, i.e. while a tracer is attached. */
const SEMAPHORE_C = `
#define _SDT_HAS_SEMAPHORES 1
#include <stdio.h>
#include <unistd.h>
#include <sys/sdt.h>
__extension__ unsigned short target_sample_test_probe_semaphore
    __attribute__((unused)) __attribute__((section(".probes")));
int main(void) {
  printf("%d\\n", getpid());
  fflush(stdout);
  for (int counter = 1;; counter++) {
    if (target_sample_test_probe_semaphore)
      DTRACE_PROBE2(target_sample, test_probe, counter, "text");
    usleep(10000);
  }
}
`;

const PROGRAM = `
int do_trace(struct pt_regs *ctx) {
    int counter = 0;
    char buf[64] = {};
    bpf_usdt_readarg(1, ctx, &counter);
    bpf_usdt_readarg_p(2, ctx, &buf, sizeof(buf));
    bpf_trace_printk("counter:%d  text:%s", counter, buf);
    return 0;
}`;

async function linesOf(b: BPF, pid: number, want: number, ms = 5000): Promise<TraceLine[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  const out: TraceLine[] = [];
  try {
    for await (const l of b.traceFields({ signal: ac.signal })) {
      if (l.pid !== pid) continue;
      out.push(l);
      if (out.length >= want) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}

/** Lines "counter:N  text:text" with N going up by one. */
function assertCounting(lines: TraceLine[], want: number): void {
  assert.ok(lines.length >= want, `got ${lines.length} lines: ${lines.map((l) => l.msg).join(" | ")}`);
  const counters = lines.map((l) => {
    const m = /^counter:(\d+) {2}text:text$/.exec(l.msg);
    assert.ok(m, `unexpected line ${l.msg}`);
    return Number(m[1]);
  });
  assert.ok((counters[0] as number) >= 1);
  for (let k = 1; k < counters.length; k++) assert.equal(counters[k], (counters[k - 1] as number) + 1);
}

/** The semaphore's value in process pid (read from its memory). */
function semaphoreOf(pid: number, exe: string): number {
  const elf = elfFile(exe);
  const note = elf.usdt.find((n) => n.name === "test_probe");
  assert.ok(note && note.semaphoreOffset !== undefined);
  const m = readProcMaps(pid).find((e) => e.path === exe && e.offset === 0n);
  assert.ok(m, "the executable's first mapping");
  // PIE: the first mapping is at link-time address 0.
  const addr = m.start + note.semaphoreAddress;
  const fd = openSync(`/proc/${pid}/mem`, "r");
  try {
    const buf = Buffer.alloc(2);
    readSync(fd, buf, 0, 2, addr);
    return buf.readUInt16LE(0);
  } finally {
    closeSync(fd);
  }
}

describe("USDT", { skip }, () => {
  const open: BPF[] = [];
  let plain = "";
  let withSemaphore = "";
  before(() => {
    plain = targets.build("usdt_plain", PLAIN_C);
    withSemaphore = targets.build("usdt_semaphore", SEMAPHORE_C);
  });
  after(() => {
    for (const b of open) b.close();
    targets.cleanup();
  });

  it("enumerates the probes of a binary and of a process", async () => {
    const u = new USDT({ path: plain });
    const probes = u.enumerateProbes();
    assert.deepEqual(probes.map((p) => p.name).sort(), ["swapped", "test-probe"]);
    assert.deepEqual(
      { ...probes.find((p) => p.name === "test-probe"), args: undefined },
      {
        provider: "target-sample",
        name: "test-probe",
        shortName: "target-sample:test-probe",
        path: plain,
        semaphore: 0n,
        semaphoreOffset: undefined,
        locations: 1,
        numArguments: 2,
        args: undefined,
      },
    );
    const pid = await targets.start(withSemaphore);
    const inProcess = new USDT({ pid }).enumerateProbes();
    const mine = inProcess.find((p) => p.provider === "target_sample" && p.name === "test_probe");
    assert.ok(mine, `probes of ${pid}: ${inProcess.map((p) => `${p.provider}:${p.name}`).join(", ")}`);
    assert.equal(mine.path, withSemaphore);
    assert.ok(mine.semaphore !== 0n && mine.semaphoreOffset !== undefined);
  });

  it("getProbeArgCtype names each argument's C type from its size; enableProbeOrBail exits 1 for a missing probe", async () => {
    const u = new USDT({ path: plain });
    const probe = u.enumerateProbes().find((p) => p.name === "test-probe");
    const expected = (probe?.args ?? []).map((a) => {
      const size = Number(/^(-?\d+)@/.exec(a)?.[1]);
      return `${size < 0 ? "int" : "uint"}${Math.abs(size) * 8}_t`;
    });
    assert.equal(expected.length, 2);
    assert.deepEqual(
      [0, 1].map((i) => u.getProbeArgCtype("target-sample:test-probe", i)),
      expected,
    );
    assert.match(expected[1] ?? "", /^uint64_t$/, "the string argument is a pointer");
    assert.throws(() => u.getProbeArgCtype("test-probe", 2), /it has no argument 2/);
    assert.throws(() => u.getProbeArgCtype("nope", 0), /no such probe/);
    const r = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { USDT } from ${JSON.stringify(join(repoRoot, "dist/src/index.js"))};
         const u = new USDT({ path: ${JSON.stringify(plain)} });
         u.enableProbeOrBail({ probe: "test-probe", fnName: "f" });
         u.enableProbeOrBail({ probe: "no-such-probe", fnName: "f" });
         console.log("not reached");`,
      ],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /Error attaching USDT probes: .*no-such-probe.*enumerateProbes/);
  });

  it("USDT({ path }): reads an integer and a string argument (provider:probe)", async () => {
    const pid = await targets.start(plain);
    const u = new USDT({ path: plain });
    u.enableProbe({ probe: "target-sample:test-probe", fnName: "do_trace" });
    const b = await BPF.load({ text: PROGRAM, usdtContexts: [u] });
    open.push(b);
    assert.equal(b.numOpenUprobes(), 1);
    assertCounting(await linesOf(b, pid, 8), 8);
    b.close();
  });

  it("probeLocations parses each site's arguments; attachUsdtIgnorePid traces every process running the binary", async () => {
    const u0 = new USDT({ path: plain });
    const locs = u0.probeLocations("target-sample:test-probe");
    assert.equal(locs.length, 1);
    const [counter, text] = locs[0]?.args ?? [];
    assert.deepEqual([counter?.size, counter?.signed, text?.size], [4, true, 8]);
    assert.ok(counter?.register !== undefined || counter?.constant !== undefined, JSON.stringify(counter));
    assert.deepEqual(
      locs[0]?.args.map((a) => a.spec),
      u0.enumerateProbes().find((p) => p.name === "test-probe")?.args,
    );
    assert.throws(() => u0.probeLocations("nope"), /no such probe/);
    u0.enableProbe({ probe: "test-probe", fnName: "count" });
    assert.deepEqual(u0.activeProbes(), [
      { binary: plain, fnName: "count", address: locs[0]?.address, pid: -1 },
    ]);

    const pidA = await targets.start(plain);
    const pidB = await targets.start(plain);
    const u = new USDT({ pid: pidA });
    u.enableProbe({ probe: "test-probe", fnName: "count" });
    const b = await BPF.load({
      text: `
BPF_HASH(by_pid, u32, u64);
int count(struct pt_regs *ctx) { u32 pid = bpf_get_current_pid_tgid() >> 32; by_pid.increment(pid); return 0; }`,
      usdtContexts: [u],
      attachUsdtIgnorePid: true,
    });
    open.push(b);
    const byPid = b.getTable("by_pid");
    assert.ok(await waitFor(() => byPid.get(pidA) !== undefined && byPid.get(pidB) !== undefined, 5000));
    b.close();
  });

  it("enableProbe's cookie is what bpf_usdt_cookie returns, per probe", async () => {
    const pid = await targets.start(plain);
    const u = new USDT({ pid });
    u.enableProbe({ probe: "test-probe", fnName: "by_cookie", cookie: 7 });
    u.enableProbe({ probe: "swapped", fnName: "by_cookie", cookie: 0xffff_0000_0000_0001n });
    const b = await BPF.load({
      text: `
BPF_HASH(seen, u64, u64);
int by_cookie(struct pt_regs *ctx) { u64 c = bpf_usdt_cookie(ctx); seen.increment(c); return 0; }`,
      usdtContexts: [u],
    });
    open.push(b);
    const seen = b.getTable("seen");
    assert.ok(await waitFor(() => seen.size === 2, 5000));
    assert.deepEqual(new Set(seen.keys()), new Set([7n, 0xffff_0000_0000_0001n]));
    b.close();
  });

  it("USDT({ pid }) with a semaphore: the kernel counts it while the probe is attached (bare probe name)", async () => {
    const pid = await targets.start(withSemaphore);
    assert.equal(semaphoreOf(pid, withSemaphore), 0);
    const u = new USDT({ pid });
    u.enableProbe({ probe: "test_probe", fnName: "do_trace" });
    const b = await BPF.load({ text: PROGRAM, usdtContexts: [u] });
    open.push(b);
    assert.equal(semaphoreOf(pid, withSemaphore), 1);
    assertCounting(await linesOf(b, pid, 8), 8);
    b.close();
    assert.ok(
      await waitFor(() => semaphoreOf(pid, withSemaphore) === 0, 2000),
      "semaphore back to 0 after close",
    );
  });

  it("USDT({ path }) with a semaphore traces a process started after the attach", async () => {
    const u = new USDT({ path: withSemaphore });
    u.enableProbe({ probe: "target_sample:test_probe", fnName: "do_trace" });
    const b = await BPF.load({ text: PROGRAM, usdtContexts: [u] });
    open.push(b);
    const pid = await targets.start(withSemaphore);
    assertCounting(await linesOf(b, pid, 5), 5);
    b.close();
  });

  // Three functions on probes whose arguments sit in different places: one
  // libbpf USDT manager must hand out their spec ids (src/attach/usdt.ts).
  it("several functions on several probes and contexts each read their own arguments", async () => {
    const pidPlain = await targets.start(plain);
    const pidSem = await targets.start(withSemaphore);
    const u1 = new USDT({ pid: pidPlain });
    u1.enableProbe({ probe: "target-sample:test-probe", fnName: "first" });
    u1.enableProbe({ probe: "swapped", fnName: "second" });
    const u2 = new USDT({ pid: pidSem });
    u2.enableProbe({ probe: "target_sample:test_probe", fnName: "third" });
    // bcc's enabled-probe list: what each context will attach, in the order enabled.
    const enabled = (u: USDT) =>
      u.enabledProbes().map((p) => ({ ...p, paths: p.paths.map((x) => realpathSync(x)) }));
    assert.deepEqual(enabled(u1), [
      {
        provider: "target-sample",
        name: "test-probe",
        fnName: "first",
        paths: [realpathSync(plain)],
        cookie: undefined,
      },
      {
        provider: "target-sample",
        name: "swapped",
        fnName: "second",
        paths: [realpathSync(plain)],
        cookie: undefined,
      },
    ]);
    assert.deepEqual(enabled(u2), [
      {
        provider: "target_sample",
        name: "test_probe",
        fnName: "third",
        paths: [realpathSync(withSemaphore)],
        cookie: undefined,
      },
    ]);
    const b = await BPF.load({
      text: `
int first(struct pt_regs *ctx) {
    long c = 0;
    bpf_usdt_readarg(1, ctx, &c);
    bpf_trace_printk("first %ld", c);
    return 0;
}
int second(struct pt_regs *ctx) {
    char buf[16] = {};
    u64 n = 0;
    bpf_usdt_readarg_p(1, ctx, buf, sizeof(buf));
    bpf_usdt_readarg(2, ctx, &n);
    bpf_trace_printk("second %s %llu", buf, n);
    return 0;
}
int third(struct pt_regs *ctx) {
    char buf[16] = {};
    bpf_usdt_readarg_p(2, ctx, buf, sizeof(buf));
    bpf_trace_printk("third %s", buf);
    return 0;
}`,
      usdtContexts: [u1, u2],
    });
    open.push(b);
    assert.equal(b.numOpenUprobes(), 3);
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 5000);
    const seen: string[] = [];
    const count = (re: RegExp) => seen.filter((m) => re.test(m)).length;
    for await (const l of b.traceFields({ signal: ac.signal })) {
      if (l.pid !== pidPlain && l.pid !== pidSem) continue;
      seen.push(`${l.pid === pidPlain ? "plain" : "sem"} ${l.msg}`);
      if (count(/^plain first/) >= 3 && count(/^plain second/) >= 3 && count(/^sem third/) >= 3) break;
    }
    clearTimeout(timer);
    assert.ok(
      count(/^plain first/) >= 3 && count(/^plain second/) >= 3 && count(/^sem third/) >= 3,
      seen.join(" | "),
    );
    for (const m of seen) {
      const first = /^plain first (\d+)$/.exec(m);
      const second = /^plain second swap (\d+)$/.exec(m);
      assert.ok(first || second || m === "sem third text", `unexpected ${m}`);
      // A counter, not a pointer read with another probe's spec.
      if (first) assert.ok(Number(first[1]) >= 1 && Number(first[1]) < 100000, m);
      if (second) assert.equal(Number(second[1]) % 100, 0, m);
    }
    b.close();
  });

  it("errors: an unknown probe names the closest ones; an unknown binary or process", async () => {
    const u = new USDT({ path: plain });
    assert.throws(
      () => u.enableProbe({ probe: "target-sample:test-prob", fnName: "do_trace" }),
      (err: unknown) =>
        err instanceof AttachError &&
        /no such probe/.test(err.message) &&
        /did you mean target-sample:test-probe/.test(err.message),
    );
    assert.throws(() => new USDT({ path: join(targets.path, "missing") }), AttachError);
    assert.throws(() => new USDT({ pid: 0x3ffffff0 }), /cannot read the mappings of process/);
    u.enableProbe({ probe: "test-probe", fnName: "no_such_function" });
    await assert.rejects(BPF.load({ text: PROGRAM, usdtContexts: [u] }), /no function no_such_function/);
  });

  it("attach and close leave the kernel as they found it", async () => {
    await targets.start(plain);
    const before = kernelObjects();
    const u = new USDT({ path: plain });
    u.enableProbe({ probe: "test-probe", fnName: "do_trace" });
    const b = await BPF.load({
      text: `${PROGRAM}
int probe_func(struct pt_regs *ctx) { return 0; }`,
      usdtContexts: [u],
    });
    b.attachUprobe({ name: "c", sym: "usleep", fnName: "probe_func" });
    assert.equal(b.numOpenUprobes(), 2);
    b.close();
    await assertNothingLeft(before);
  });
});
