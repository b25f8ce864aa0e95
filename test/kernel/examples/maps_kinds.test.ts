/**
 * Chapter 13, Maps, the map kinds beyond hashes and arrays, end to end as a
 * user runs them: stack traces of a C program's mallocs, a perf array read
 * around getuid(), tail calls through a program array, an LPM trie over
 * connects, maps of maps counting shells' execve calls, and the XDP drafts on
 * veth pairs whose other ends sit in a network namespace this file creates
 * and removes (tsbpf-m2-PID; its traffic never leaves the pairs).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  repoRoot,
  runChild,
  sameOnEveryKernel,
  skipUnlessRoot,
  testTempDir,
  waitFor,
} from "../../helpers.js";
import { ip, netToolsMissing, sendIcmp as sendIcmpFrom, setSysctl } from "../../net.js";
import { assertMechanism, kernelHas, runExample, runExampleSync } from "./run_example.js";

/** Lines of stdout as an array (without the empty last one). */
function lines(out: string): string[] {
  return out.split("\n").filter((l, i, a) => i < a.length - 1 || l !== "");
}

/** The fallback notices an example printed on stderr. */
function notices(stderr: string): string[] {
  return stderr.split("\n").filter((l) => /not available on this kernel/.test(l));
}

// ---- map_stack_trace: a C program that mallocs 1000 bytes per request ----

const TARGET_C = `
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) void *grow_once(void)
{
    return malloc(1000);
}

__attribute__((noinline)) void grow(int n)
{
    for (int i = 0; i < n; i++) {
        void *p = grow_once();
        __asm__ volatile("" : : "r"(p) : "memory");
        free(p);
    }
}

int main(void)
{
    char line[64];
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("ready\\n");
    while (fgets(line, sizeof(line), stdin)) {
        grow(atoi(line));
        printf("done\\n");
    }
    return 0;
}
`;

const hasCc = spawnSync("cc", ["--version"]).status === 0 ? false : "needs a C compiler (cc)";

/** Builds the malloc target with frame pointers (the user stack walk follows them). */
function buildTarget(dir: string): string {
  const src = join(dir, "grow.c");
  const exe = join(dir, "grow");
  writeFileSync(src, TARGET_C);
  const r = spawnSync("cc", ["-O0", "-fno-omit-frame-pointer", "-o", exe, src], { encoding: "utf8" });
  assert.equal(r.status, 0, `cc failed: ${r.stderr}`);
  return exe;
}

// ---- the network namespace and veth pairs of the XDP drafts ----

const ns = `tsbpf-m2-${process.pid}`;
const h1 = `m2${process.pid}a`;
const n1 = `m2${process.pid}b`;
const h2 = `m2${process.pid}c`;
const n2 = `m2${process.pid}d`;
const net = `10.214.${(process.pid % 250) + 1}`;

/** Sets a sysctl here or in the namespace (written to /proc/sys: procps is not on every machine). */
function sysctl(key: string, value: string, inNs = false): void {
  if (inNs) setSysctl(key, value, ns);
  else setSysctl(key, value);
}

/** A veth pair: host end in our namespace (no address, IPv6 off), peer in ns (address given, or none). */
function vethPair(host: string, peer: string, addr?: string): void {
  ip("link", "add", host, "type", "veth", "peer", "name", peer);
  ip("link", "set", peer, "netns", ns);
  sysctl(`net.ipv6.conf.${host}.disable_ipv6`, "1");
  sysctl(`net.ipv4.conf.${host}.forwarding`, "0");
  sysctl(`net.ipv6.conf.${peer}.disable_ipv6`, "1", true);
  if (addr) ip("-n", ns, "addr", "add", addr, "dev", peer);
  ip("-n", ns, "link", "set", peer, "up");
  ip("link", "set", host, "up");
}

/**
 * Sends n ICMP echo requests (TTL 1) to dst from inside the namespace (out
 * of n1 to the host end h1 through a static neighbour entry, or to its lo).
 */
function sendIcmp(dst: string, n: number): void {
  sendIcmpFrom(dst, n, ns);
}

/** The "N pkt/s" lines of the XDP redirect examples, summed (optionally only "proto P: N pkt/s"). */
function redirected(stdout: string, proto?: number): number {
  const re = proto === undefined ? /^(\d+) pkt\/s$/gm : new RegExp(`^proto ${proto}: (\\d+) pkt/s$`, "gm");
  let sum = 0;
  for (const m of stdout.matchAll(re)) sum += Number(m[1]);
  return sum;
}

/** Runs fn once (the first time the returned function is called), remembering when it is done. */
function once(fn: () => unknown): { run: () => Promise<void>; done: () => boolean } {
  let started = false;
  let finished = false;
  return {
    run: async () => {
      if (started) return;
      started = true;
      await fn();
      finished = true;
    },
    done: () => finished,
  };
}

describe("maps", { skip: skipUnlessRoot }, () => {
  it("maps/map_stack_trace: the bytes malloc'd per user stack, frames resolved to the target's functions", {
    skip: hasCc,
  }, async () => {
    const dir = testTempDir("tsbpf-m2");
    let target: ChildProcess | undefined;
    try {
      const exe = buildTarget(dir);
      target = spawn(exe, [], { stdio: ["pipe", "pipe", "ignore"] });
      let tout = "";
      target.stdout?.on("data", (b: Buffer) => {
        tout += b.toString();
      });
      assert.ok(await waitFor(() => tout.includes("ready"), 5000), "the target started");
      const pid = target.pid as number;
      const grow = once(async () => {
        target?.stdin?.write("5\n");
        assert.ok(await waitFor(() => tout.includes("done"), 5000), "the target allocated");
      });
      const r = await runExample("maps/map_stack_trace", {
        args: [String(pid)],
        ready: (out) => out.includes("Attaching to malloc"),
        activity: grow.run,
        until: grow.done,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
      const out = lines(r.stdout);
      assert.equal(out[0], `Attaching to malloc in pid ${pid}, Ctrl+C to quit.`);
      // grow() called grow_once() 5 times, each malloc(1000): one stack, 5000 bytes.
      // The walk starts at malloc itself. At malloc's first instruction the
      // return address into grow_once is only at the top of the stack, which a
      // frame-pointer walk does not read: the next frame is grow, then main.
      assert.match(
        r.stdout,
        /^5000 bytes allocated at:\n\tmalloc\+0x0\n\tgrow\+0x[0-9a-f]+\n\tmain\+0x[0-9a-f]+\n/m,
      );
      // Every block: a "N bytes allocated at:" line, then tab-indented frames; biggest first.
      const sizes: number[] = [];
      for (const l of out.slice(1)) {
        const m = /^(\d+) bytes allocated at:$/.exec(l);
        if (m) sizes.push(Number(m[1]));
        else assert.match(l, /^\t\S+/, `a frame line: ${JSON.stringify(l)}`);
      }
      assert.deepEqual(
        sizes,
        [...sizes].sort((a, b) => b - a),
        "sorted by bytes, biggest first",
      );
    } finally {
      target?.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("maps/map_stack_trace: says how to call it without a PID", () => {
    const r = runExampleSync("maps/map_stack_trace", []);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^map_stack_trace: usage: maps\/map_stack_trace .*PID\n$/);
  });

  it("maps/map_perf_array_simple: a log2 histogram of the counter read around getuid()", async () => {
    let calls = 0;
    const r = await runExample("maps/map_perf_array_simple", {
      ready: (out) => out.includes("Tracing getuid()"),
      // This process calls getuid(2) itself (glibc does not cache it).
      activity: () => {
        for (let i = 0; i < 100; i++) process.getuid?.();
        calls += 100;
      },
      everyMs: 50,
      until: () => calls >= 300,
    });
    assert.equal(r.code, 0, r.stderr);
    const out = lines(r.stdout);
    assert.equal(out[0], "Tracing getuid()... Hit Ctrl-C to end.");
    const unit = kernelHas("perf_event:hardware") ? "cycles" : "nsecs";
    const header = out.findIndex((l) => l.trimStart().startsWith(unit));
    assert.ok(header > 0, `a histogram of ${unit}:\n${r.stdout}`);
    assert.match(out[header] as string, new RegExp(`^\\s+${unit}\\s+: count\\s+distribution$`));
    let total = 0;
    for (const l of out.slice(header + 1)) {
      const m = /^\s+(\d+) -> (\d+)\s+: (\d+)\s+\|[* ]{40}\|$/.exec(l);
      assert.ok(m, `a histogram row: ${JSON.stringify(l)}`);
      total += Number(m[3]);
    }
    // Each return from getuid adds one (other processes' calls may add more).
    assert.ok(total >= 300, `counted ${total} of our 300 calls`);

    const n = notices(r.stderr);
    assert.equal(
      n.length,
      (kernelHas("perf_event:hardware") ? 0 : 1) + (kernelHas("kprobe") ? 0 : 1),
      r.stderr,
    );
    for (const l of n)
      assert.match(l, /^map_perf_array_simple: .* not available on this kernel \(.+\); using .+ instead$/);
    if (!kernelHas("perf_event:hardware"))
      assert.ok(
        n.some((l) => /PERF_COUNT_HW_CPU_CYCLES .*using the software clock PERF_COUNT_SW_CPU_CLOCK/.test(l)),
      );
    if (!kernelHas("kprobe"))
      assert.ok(
        n.some((l) =>
          /kprobes .*using tracepoints syscalls:sys_enter_getuid and syscalls:sys_exit_getuid instead$/.test(
            l,
          ),
        ),
      );
  });

  it("maps/map_perf_array_simple: --strict fails with the typed error of what the kernel lacks", (t) => {
    if (kernelHas("perf_event:hardware") && kernelHas("kprobe")) {
      t.skip("this kernel has hardware counters and kprobes: --strict runs the original");
      return;
    }
    const r = runExampleSync("maps/map_perf_array_simple", ["--strict"]);
    assert.equal(r.status, 1);
    const what = kernelHas("perf_event:hardware")
      ? /^map_perf_array_simple: NotSupportedError: kprobes are not available on this kernel/m
      : /^map_perf_array_simple: NotSupportedError: hardware perf event PERF_COUNT_HW_CPU_CYCLES is not available on this kernel/m;
    assert.match(r.stderr, what);
  });

  it("maps/map_prog_array_simple: execve tail-calls bar and foo in turn", async () => {
    const pids = new Set<number>();
    // Each child calls execve four times in one process (exec keeps the pid).
    const chain = ["/bin/sh", "-c", "exec /bin/sh -c 'exec /bin/sh -c \"exec /bin/true\"'"];
    const mine = (out: string): Array<{ pid: number; msg: string }> =>
      lines(out)
        .slice(1)
        .map((l) => ({ pid: Number(l.slice(0, 6)), msg: l.slice(20) }))
        .filter((x) => pids.has(x.pid));
    const r = await runExample("maps/map_prog_array_simple", {
      ready: (out) => out.startsWith("PID    COMM         OUTPUT\n"),
      activity: () => pids.add(runChild(chain)),
      everyMs: 300,
      until: (out) => mine(out).length >= 8,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(lines(r.stdout)[0], "PID    COMM         OUTPUT");
    const rows = mine(r.stdout);
    assert.ok(rows.length >= 8, r.stdout.slice(-2000));
    for (const x of rows)
      assert.ok(x.msg === "I'm bar" || x.msg === "I'm foo", `the tail-called program: ${x.msg}`);
    // One shared counter picks the slot: our own calls see both programs.
    assert.ok(rows.some((x) => x.msg === "I'm bar"));
    assert.ok(rows.some((x) => x.msg === "I'm foo"));
    const row = lines(r.stdout).find((l) => pids.has(Number(l.slice(0, 6)))) as string;
    // "%-6d %-12.12s %s". The task is whatever trace_pipe names: the caller's comm (node, sh)
    // at the execve kprobe, or <...> when the kernel's comm cache no longer has the pid.
    assert.match(row.slice(0, 7), /^\d+ +$/, row);
    assert.match(row.slice(7, 20), /^\S+ +$/, row);
    assert.match(row.slice(20), /^I'm (bar|foo)$/, row);
    assertMechanism(
      "map_prog_array_simple",
      r.stderr,
      "kprobe",
      /tracepoint syscalls:sys_enter_execve \(foo and bar loaded as BPF\.TRACEPOINT\)/,
    );
  });

  it("maps/map_prog_array_simple: --strict fails with the typed error without kprobes", (t) => {
    if (kernelHas("kprobe")) {
      t.skip("this kernel has kprobes: --strict runs the kprobe (covered by the kernel matrix)");
      return;
    }
    const r = runExampleSync("maps/map_prog_array_simple", ["--strict"]);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /^map_prog_array_simple: NotSupportedError: kprobes are not available on this kernel/,
    );
  });

  it("maps/map_lpm_trie: each connect counted on the longest prefix holding its destination", async () => {
    // A listener on every local address: 127.77.x.y are all loopback addresses.
    const server: Server = createServer((s) => s.destroy());
    await new Promise<void>((res) => server.listen(0, "0.0.0.0", res));
    const port = (server.address() as { port: number }).port;
    const connectTo = (host: string): Promise<void> =>
      new Promise((res, rej) => {
        const s = tcpConnect(port, host, () => {
          s.destroy();
          res();
        });
        s.on("error", rej);
      });
    const connects = once(async () => {
      for (const host of ["127.77.0.2", "127.77.0.2", "127.77.0.2", "127.77.1.5", "127.77.200.9"])
        await connectTo(host);
    });
    try {
      const r = await runExample("maps/map_lpm_trie", {
        args: ["127.77.0.2/32", "127.77.0.0/16", "127.78.0.0/16"],
        ready: (out) => out.includes("Hit Ctrl-C"),
        activity: connects.run,
        until: connects.done,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
      assert.deepEqual(lines(r.stdout).slice(-4), [
        "PREFIX               CONNECTS",
        "127.77.0.2/32               3",
        "127.77.0.0/16               2",
        "127.78.0.0/16               0",
      ]);
    } finally {
      server.close();
    }
  });

  for (const id of ["maps/map_array_of_maps_sample", "maps/map_hash_of_maps_sample"]) {
    const program = id.slice("maps/".length);
    it(`${id}: root and non-root execve calls of bash and sh in their inner arrays`, async () => {
      const nobody = { uid: 65534, gid: 65534, stdio: "ignore" as const, cwd: "/" };
      const execs = once(() => {
        // Each shell forks for all but its last command and execs that one: one execve per command.
        spawnSync("/bin/bash", ["-c", "/bin/true; /bin/true"], { stdio: "ignore" });
        spawnSync("/bin/bash", ["-c", "/bin/true; /bin/true; /bin/true"], nobody);
        spawnSync("/bin/sh", ["-c", "/bin/true; /bin/true"], { stdio: "ignore" });
        spawnSync("/bin/sh", ["-c", "/bin/true; /bin/true"], nobody);
      });
      const r = await runExample(id, {
        ready: (out) => out.includes("Hit Ctrl-C"),
        activity: execs.run,
        until: execs.done,
      });
      assert.equal(r.code, 0, r.stderr);
      const out = lines(r.stdout);
      const block = out.indexOf("---- results ----");
      assert.ok(block > 0, r.stdout);
      assert.equal(out[block + 1], "SHELL        ROOT   NON-ROOT");
      const row = (name: string): [number, number] => {
        const l = out[block + (name === "bash" ? 2 : 3)] as string;
        const m = new RegExp(`^${name.padEnd(6)} +(\\d+) +(\\d+)$`).exec(l);
        assert.ok(m, `the ${name} row: ${JSON.stringify(l)}`);
        assert.equal(l.length, 6 + 1 + 10 + 1 + 10, "%-6s %10d %10d");
        return [Number(m[1]), Number(m[2])];
      };
      const [bashRoot, bashOther] = row("bash");
      const [shRoot, shOther] = row("sh");
      // Root shells run elsewhere too; nothing else runs shells as another user meanwhile.
      assert.ok(bashRoot >= 2, `bash root ${bashRoot}`);
      assert.ok(shRoot >= 2, `sh root ${shRoot}`);
      assert.deepEqual([bashOther, shOther], [3, 2], "non-root: the calls of our uid 65534 shells");
      assertMechanism(program, r.stderr, "kprobe", /using tracepoint syscalls:sys_enter_execve instead$/);
    });

    it(`${id}: --strict fails with the typed error without kprobes`, (t) => {
      if (kernelHas("kprobe")) {
        t.skip("this kernel has kprobes: --strict runs the kprobe (covered by the kernel matrix)");
        return;
      }
      const r = runExampleSync(id, ["--strict"]);
      assert.equal(r.status, 1);
      assert.match(
        r.stderr,
        new RegExp(`^${program}: NotSupportedError: kprobes are not available on this kernel`),
      );
    });
  }

  describe("XDP drafts", { skip: netToolsMissing || sameOnEveryKernel }, () => {
    before(() => {
      ip("netns", "add", ns);
      vethPair(h1, n1, `${net}.1/24`);
      vethPair(h2, n2);
      const mac = readFileSync(`/sys/class/net/${h1}/address`, "utf8").trim();
      ip("-n", ns, "neigh", "add", `${net}.2`, "lladdr", mac, "dev", n1);
    });
    after(() => {
      spawnSync("ip", ["netns", "del", ns]);
      // Deleting the namespace deletes the peers, and with them the pairs.
      for (const dev of [h1, h2])
        if (existsSync(`/sys/class/net/${dev}`)) spawnSync("ip", ["link", "del", dev]);
    });

    it("maps/xdp_icmp_count: ICMP packets per source address on a veth end, then removed", async () => {
      const send = once(() => sendIcmp(`${net}.2`, 3));
      const row = new RegExp(`^${net.replace(/\./g, "\\.")}\\.1 +3$`, "m");
      const r = await runExample("maps/xdp_icmp_count", {
        args: [h1],
        ready: (out) => out.includes("SOURCE"),
        activity: send.run,
        until: (out) => send.done() && row.test(out),
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
      const out = lines(r.stdout);
      assert.deepEqual(out.slice(0, 2), [
        `Counting ICMP packets on ${h1}, hit Ctrl-C to end.`,
        "SOURCE           PACKETS",
      ]);
      const removed = out.indexOf(`Removed XDP from ${h1}; totals:`);
      assert.ok(removed > 0, r.stdout);
      assert.deepEqual(out.slice(removed + 1), [`${`${net}.1`.padEnd(16)} 3`]);
      assert.doesNotMatch(ip("link", "show", h1), /xdp/);
    });

    it("maps/xdp_icmp_count: lo by default", async () => {
      // The namespace's lo, not the host's: a test killed midway leaves
      // nothing attached where it outlives the namespace.
      ip("-n", ns, "link", "set", "lo", "up");
      let sent = 0;
      const r = await runExample("maps/xdp_icmp_count", {
        netns: ns,
        ready: (out) => out.includes("SOURCE"),
        activity: () => {
          if (sent === 0) sendIcmp("127.0.0.1", 2);
          sent = 2;
        },
        // Two echo requests and the kernel's two replies, all from 127.0.0.1.
        until: (out) => sent > 0 && /^127\.0\.0\.1 +([4-9]|\d\d+)$/m.test(out),
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(lines(r.stdout)[0], "Counting ICMP packets on lo, hit Ctrl-C to end.");
      assert.ok(r.matched, r.stdout);
      assert.doesNotMatch(ip("-n", ns, "link", "show", "lo"), /xdp/);
    });

    for (const mode of ["native", "generic"] as const) {
      it(`maps/xdp_devmap: frames arriving on one veth end leave by the other (${mode} XDP)`, async () => {
        // The receiving end in the namespace runs xdp_icmp_count too: it counts
        // what arrives there, and native redirection into a veth needs an XDP
        // program on the peer that receives.
        const watcher = spawn(
          "ip",
          ["netns", "exec", ns, process.execPath, join(repoRoot, "dist/examples/maps/xdp_icmp_count.js"), n2],
          { stdio: ["ignore", "pipe", "pipe"] },
        );
        let wout = "";
        let werr = "";
        watcher.stdout?.on("data", (b: Buffer) => {
          wout += b.toString();
        });
        watcher.stderr?.on("data", (b: Buffer) => {
          werr += b.toString();
        });
        const watcherExited = new Promise((res) => watcher.on("exit", res));
        try {
          assert.ok(await waitFor(() => wout.includes("SOURCE"), 20_000), `the watcher on ${n2}: ${werr}`);
          const send = once(() => sendIcmp(`${net}.2`, 4));
          const r = await runExample("maps/xdp_devmap", {
            args: mode === "generic" ? ["-S", h1, h2] : [h1, h2],
            ready: (out) => out.includes("Redirecting"),
            activity: send.run,
            until: (out) => send.done() && redirected(out, 1) >= 4,
          });
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stderr, "");
          assert.equal(lines(r.stdout)[0], `Redirecting ${h1} -> ${h2}, hit Ctrl-C to stop.`);
          assert.equal(redirected(r.stdout, 1), 4, "4 ICMP frames redirected");
          assert.deepEqual(
            [...r.stdout.matchAll(/^proto (\d+):/gm)].map((m) => m[1]).filter((p) => p !== "1"),
            [],
            "nothing but ICMP",
          );
          // They went out of the other pair: its peer in the namespace received them.
          const row = new RegExp(`^${net.replace(/\./g, "\\.")}\\.1 +4$`, "m");
          assert.ok(await waitFor(() => row.test(wout), 3000), `received on ${n2}:\n${wout}`);
          assert.doesNotMatch(ip("link", "show", h1) + ip("link", "show", h2), /xdp/);
        } finally {
          watcher.kill("SIGINT");
          await watcherExited;
        }
      });
    }

    for (const mode of ["native", "generic"] as const) {
      it(`maps/xdp_cpumap: frames redirected to a CPU's queue (${mode} XDP)`, async () => {
        const send = once(() => sendIcmp(`${net}.2`, 4));
        const r = await runExample("maps/xdp_cpumap", {
          args: mode === "generic" ? ["-S", h1, "0"] : [h1, "0"],
          ready: (out) => out.includes("Redirecting"),
          activity: send.run,
          until: (out) => send.done() && redirected(out) >= 4,
        });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, "");
        assert.equal(lines(r.stdout)[0], `Redirecting packets of ${h1} to CPU 0, hit Ctrl-C to stop.`);
        assert.equal(redirected(r.stdout), 4);
        assert.doesNotMatch(ip("link", "show", h1), /xdp/);
      });
    }
  });
});
