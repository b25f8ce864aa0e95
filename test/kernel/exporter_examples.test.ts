/**
 * The exporter examples (examples/exporter/: biolatency, runqlat, syscalls,
 * tcp-retransmit, oomkill) on this kernel: each passes --config.check, all
 * five start together in one exporter, and each counts activity caused
 * here: getppid() calls and failed opens, sleeps, direct I/O on a loop
 * device, SYN retransmits in a network namespace of the test's own, and a
 * process killed in a small memory cgroup. Every exporter started is ended,
 * and nothing is left in the kernel.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { readFileSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { assertNothingLeft, kernelObjects, repoRoot, skipUnlessRoot } from "../helpers.js";
import { ip, netToolsMissing } from "../net.js";
import { CLI, type RunningExporter, startExporter, stopExporter } from "./exporter_cli.js";
import { smallMemoryCgroup } from "./tools/activity.js";
import { type LoopDev, loopDevice } from "./tools/loopdev.js";

const DIR = join(repoRoot, "examples", "exporter");
const NAMES = ["biolatency", "runqlat", "syscalls", "tcp-retransmit", "oomkill"];
const PYTHON = "/usr/bin/python3";

/**
 * Runs body with an exporter of `names` and ends it, even when body fails;
 * then asserts that nothing it loaded is left in the kernel.
 */
async function withExporter(names: string[], body: (e: RunningExporter) => Promise<void>): Promise<void> {
  const objects = kernelObjects();
  const e = await startExporter(DIR, names.join(","));
  try {
    await body(e);
  } finally {
    assert.equal(await stopExporter(e), 0);
  }
  await assertNothingLeft(objects);
}

/** One sample of the exposition text: metric name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = l[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

async function scrape(e: RunningExporter): Promise<Sample[]> {
  const res = await fetch(e.url);
  assert.equal(res.status, 200);
  return parse(await res.text());
}

/** The samples of `name` whose labels include `labels`. */
function matching(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/** The value of the one series `name{labels}` (labels exactly), 0 when it is not there yet. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = matching(samples, name, labels).filter(
    (s) => Object.keys(s.labels).length === Object.keys(labels).length,
  );
  assert.ok(found.length <= 1, `${name}: more than one series matches ${JSON.stringify(labels)}`);
  return found[0]?.value ?? 0;
}

/** Runs python3 with a script; asserts it exits as expected. */
function python(script: string): void {
  const r = spawnSync(PYTHON, ["-c", script], { encoding: "utf8", timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
}

describe("exporter examples", { skip: skipUnlessRoot }, () => {
  it("every example passes --config.check, loading nothing", () => {
    const before = kernelObjects();
    const r = spawnSync(
      process.execPath,
      [CLI, "exporter", "--config.dir", DIR, "--config.names", NAMES.join(","), "--config.check"],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    const metrics: Record<string, number> = { syscalls: 2 };
    assert.equal(
      r.stdout,
      NAMES.map(
        (n) => `${n}: ${metrics[n] ?? 1} metrics, program ${join(DIR, `${n}.bpf.c`)} (libbpf)\n`,
      ).join(""),
    );
    assert.deepEqual(kernelObjects().progs, before.progs);
  });

  it("all five start in one exporter and show in /metrics", { timeout: 120_000 }, async () => {
    await withExporter(NAMES, async (e) => {
      const text = await (await fetch(e.url)).text();
      const samples = parse(text);
      for (const name of NAMES)
        assert.equal(value(samples, "tsbpf_exporter_enabled_configs", { name }), 1, name);
      for (const [metric, type] of [
        ["bio_latency_seconds", "histogram"],
        ["run_queue_latency_seconds", "histogram"],
        ["syscalls_total", "counter"],
        ["syscall_errors_total", "counter"],
        ["tcp_retransmits_total", "counter"],
        ["oom_kills_total", "counter"],
      ])
        assert.match(text, new RegExp(`^# TYPE ebpf_exporter_${metric} ${type}$`, "m"));
      // seven programs, each attached and named with its config
      const programs = matching(samples, "tsbpf_exporter_ebpf_program_info").map(
        (s) => `${s.labels.config}/${s.labels.program}`,
      );
      assert.deepEqual(programs.sort(), [
        "biolatency/on_complete",
        "biolatency/on_issue",
        "oomkill/on_mark_victim",
        "runqlat/on_switch",
        "runqlat/on_wakeup",
        "runqlat/on_wakeup_new",
        "syscalls/on_enter",
        "syscalls/on_exit",
        "tcp-retransmit/on_retransmit",
      ]);
      // the machine runs: system calls and scheduling are counted already
      assert.ok(value(samples, "ebpf_exporter_syscalls_total", { syscall: "read" }) > 0);
      assert.ok(value(samples, "ebpf_exporter_run_queue_latency_seconds_count") > 0);
      for (const metric of ["bio_latency_seconds", "syscalls_total", "syscall_errors_total"])
        assert.equal(
          value(samples, "tsbpf_exporter_decoder_errors_total", {
            config: metric.startsWith("bio") ? "biolatency" : "syscalls",
            metric: `ebpf_exporter_${metric}`,
          }),
          0,
          metric,
        );
    });
  });

  it("syscalls: getppid() calls and failed opens of a child, by name and errno", async () => {
    const N = 5000;
    const M = 300;
    await withExporter(["syscalls"], async (e) => {
      const calls = { syscall: "getppid" };
      const enoent = { syscall: "openat", errno: "ENOENT" };
      const before = await scrape(e);
      python(
        `import os\nfor _ in range(${N}): os.getppid()\nfor _ in range(${M}):\n  try: os.open("/tsbpf-no-such-file", os.O_RDONLY)\n  except FileNotFoundError: pass`,
      );
      const after = await scrape(e);
      const grew = (name: string, labels: Record<string, string>) =>
        value(after, name, labels) - value(before, name, labels);
      // other processes call getppid() too (a shell does once at start), rarely
      const getppid = grew("ebpf_exporter_syscalls_total", calls);
      assert.ok(getppid >= N && getppid < N + 1000, `getppid grew by ${getppid}`);
      assert.ok(grew("ebpf_exporter_syscalls_total", { syscall: "openat" }) >= M);
      assert.ok(grew("ebpf_exporter_syscall_errors_total", enoent) >= M);
      // every error is named: no unknown errno or system call among the common ones
      const errors = matching(after, "ebpf_exporter_syscall_errors_total");
      assert.ok(errors.length > 0);
      assert.ok(errors.every((s) => /^E[A-Z0-9]+$|^unknown:/.test(s.labels.errno ?? "")));
      assert.ok(errors.every((s) => !s.labels.syscall?.startsWith("unknown_syscall")));
    });
  });

  it("runqlat: the wakeups of a sleeping child in the run-queue latency histogram", async () => {
    const SLEEPS = 50;
    await withExporter(["runqlat"], async (e) => {
      const name = "ebpf_exporter_run_queue_latency_seconds";
      const before = await scrape(e);
      python(`import time\nfor _ in range(${SLEEPS}): time.sleep(0.002)`);
      const after = await scrape(e);
      const count = value(after, `${name}_count`);
      assert.ok(count - value(before, `${name}_count`) >= SLEEPS, `count ${count}`);
      assert.ok(value(after, `${name}_sum`) > value(before, `${name}_sum`));
      // exp2 buckets 0..26 of microseconds, in seconds, cumulative, then +Inf = count
      const buckets = matching(after, `${name}_bucket`);
      assert.deepEqual(
        buckets.map((s) => s.labels.le),
        [...Array.from({ length: 27 }, (_, i) => String(2 ** i * 0.000001)), "+Inf"],
      );
      for (let i = 1; i < buckets.length; i++)
        assert.ok((buckets[i] as Sample).value >= (buckets[i - 1] as Sample).value);
      assert.equal(buckets.at(-1)?.value, count);
    });
  });

  it("biolatency: direct I/O and a flush on a loop device, under its name", async (t) => {
    let dev: LoopDev;
    try {
      dev = loopDevice();
    } catch (err) {
      t.skip(`no loop device can be set up here (${(err as Error).message.split("\n")[0]})`);
      return;
    }
    try {
      await withExporter(["biolatency"], async (e) => {
        const name = "ebpf_exporter_bio_latency_seconds";
        const count = (s: Sample[], operation: string) =>
          value(s, `${name}_count`, { device: dev.name, operation });
        const before = await scrape(e);
        dev.write(4096, 64);
        dev.read(4096, 16);
        const mid = await scrape(e);
        assert.equal(count(mid, "write") - count(before, "write"), 64);
        assert.equal(count(mid, "read") - count(before, "read"), 16);
        assert.ok(
          value(mid, `${name}_sum`, { device: dev.name, operation: "write" }) > 0,
          "the sum of the latencies",
        );
        // 28 bounds (2^0 .. 2^27 us) + +Inf for each label set
        assert.equal(matching(mid, `${name}_bucket`, { device: dev.name, operation: "write" }).length, 29);
        // a buffered write and fsync: the device has a write cache, so a flush follows
        const cache = readFileSync(`/sys/block/${dev.name}/queue/write_cache`, "utf8").trim();
        const dd = spawnSync("dd", ["if=/dev/zero", `of=${dev.path}`, "bs=4096", "count=3", "conv=fsync"], {
          stdio: "ignore",
        });
        assert.equal(dd.status, 0);
        const end = await scrape(e);
        if (cache === "write back") assert.ok(count(end, "flush") - count(mid, "flush") >= 1);
        assert.ok(count(end, "write") - count(mid, "write") >= 1);
      });
    } finally {
      dev.close();
    }
  });

  describe("tcp-retransmit", { skip: netToolsMissing }, () => {
    // No netem or netfilter here: the retransmits are those of SYNs to
    // addresses on a veth that nobody answers (neither ARP nor neighbour
    // discovery is answered), sent from a network namespace of the test's
    // own; the first retransmit comes after 1 s, the next after 3 s.
    const NS = `tsbpf-exex-${process.pid}`;
    before(() => {
      ip("netns", "add", NS);
      ip("-n", NS, "link", "add", "va", "type", "veth", "peer", "name", "vb");
      ip("-n", NS, "addr", "add", "10.97.0.1/24", "dev", "va");
      ip("-n", NS, "addr", "add", "fd00:97::1/64", "dev", "va", "nodad");
      ip("-n", NS, "link", "set", "va", "up");
      ip("-n", NS, "link", "set", "vb", "up");
    });
    after(() => {
      ip("netns", "del", NS);
    });

    it("one SYN retransmit each, IPv4 from a fixed port and IPv6 from an ephemeral one", async () => {
      await withExporter(["tcp-retransmit"], async (e) => {
        const connects = `
          const net = require("node:net");
          for (const o of [{ host: "10.97.0.2", port: 4461, localPort: 4460 }, { host: "fd00:97::2", port: 4462 }])
            net.connect(o).on("error", () => {});
          setTimeout(() => process.exit(0), 1600);`;
        const child = spawn("ip", ["netns", "exec", NS, process.execPath, "-e", connects], {
          stdio: "ignore",
        });
        const [code] = (await once(child, "exit")) as [number | null];
        assert.equal(code, 0);
        const samples = await scrape(e);
        const name = "ebpf_exporter_tcp_retransmits_total";
        assert.equal(
          value(samples, name, { saddr: "10.97.0.1", daddr: "10.97.0.2", sport: "4460", dport: "4461" }),
          1,
        );
        assert.equal(
          value(samples, name, {
            saddr: "fd00:97::1",
            daddr: "fd00:97::2",
            sport: "ephemeral",
            dport: "4462",
          }),
          1,
        );
      });
    });
  });

  it("oomkill: a process killed in a small memory cgroup, by its command", { timeout: 60_000 }, async (t) => {
    const cg = smallMemoryCgroup();
    if (!cg) {
      t.skip("no memory cgroup (v2 memory.max or v1 memory.limit_in_bytes) can be made here");
      return;
    }
    try {
      await withExporter(["oomkill"], async (e) => {
        const command = `tsbpfoom${process.pid % 100000}`;
        // it names itself, then allocates until the OOM killer ends it
        const r = spawnSync(
          "/bin/sh",
          [
            "-c",
            `echo $$ > ${cg.procs} && exec ${PYTHON} -c 'open("/proc/self/comm", "w").write("${command}")\na = []\nwhile True: a.append(bytearray(1 << 20))'`,
          ],
          { stdio: "ignore", timeout: 30_000 },
        );
        assert.equal(r.signal, "SIGKILL");
        const samples = await scrape(e);
        assert.equal(value(samples, "ebpf_exporter_oom_kills_total", { command }), 1);
      });
    } finally {
      rmdirSync(cg.dir);
    }
  });
});
