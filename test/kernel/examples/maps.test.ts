/**
 * Chapter 13, Maps, end to end: each example runs as a child while the test
 * makes the activity it counts (execve as root and as nobody, bursts of execs
 * under a known comm, O_DIRECT writes of known sizes to a loop device, TCP
 * connects on loopback), then the test reads back what it printed.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { createServer, type Server, connect as tcpConnect } from "node:net";
import { describe, it, type TestContext } from "node:test";
import { onlineCpus } from "../../../src/index.js";
import { skipUnlessRoot } from "../../helpers.js";
import { assertMechanism, kernelHas, runExample, runExampleSync } from "./run_example.js";

const EXECVE_TP = /tracepoint syscalls:sys_enter_execve/;

/** Runs argv to completion as uid/gid `id` (root when undefined). */
function execAs(argv: string[], id?: number): void {
  const r = spawnSync(argv[0] as string, argv.slice(1), {
    stdio: "ignore",
    ...(id === undefined ? {} : { uid: id, gid: id }),
  });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `${argv.join(" ")} failed`);
}

/** A comm of our own (at most 15 characters, as TASK_COMM_LEN allows). */
function uniqueComm(tag: string): string {
  return `${tag}${process.pid % 100000}`.slice(0, 15);
}

/**
 * Runs `n` execs of /bin/true whose caller has comm `comm`: a shell renames
 * itself, then forks the children, which inherit the name until they exec.
 */
function execBurst(comm: string, n: number): void {
  execAs([
    "/bin/sh",
    "-c",
    `printf %s '${comm}' > /proc/self/comm; i=0; while [ $i -lt ${n} ]; do /bin/true; i=$((i+1)); done`,
  ]);
}

/** The rounds printed by the map_hash_* examples: [count, comm] rows per round. */
function hashRounds(stdout: string): Array<Array<[number, string]>> {
  const rounds: Array<Array<[number, string]>> = [];
  let cur: Array<[number, string]> | undefined;
  for (const line of stdout.split("\n")) {
    if (line === "--- counter : program name-----") cur = [];
    else if (line === "--- end of round -----") {
      if (cur) rounds.push(cur);
      cur = undefined;
    } else if (cur) {
      const m = /^( {0,9}\d+) : "(.*)"$/.exec(line);
      assert.ok(m && (m[1] as string).length >= 10, `a row is %10d : "comm": ${JSON.stringify(line)}`);
      cur.push([Number(m[1]), m[2] as string]);
    }
  }
  return rounds;
}

/** `%10d : "comm"` */
const hashRow = (count: number, comm: string): string => `${String(count).padStart(10)} : "${comm}"`;

function assertSortedRounds(rounds: Array<Array<[number, string]>>): void {
  for (const r of rounds) {
    const counts = r.map(([c]) => c);
    assert.deepEqual(
      counts,
      [...counts].sort((a, b) => a - b),
      "rows are sorted by count",
    );
  }
}

/** Runs a map_hash_* example with 1 s rounds until `row` is printed, bursting `n` execs as `comm`. */
async function runHash(id: string, comm: string, n: number, row: string) {
  const r = await runExample(id, {
    args: ["1"],
    ready: (out) => out.includes("--- end of round -----\n"),
    activity: () => execBurst(comm, n),
    // A burst in each round at most: bursts closer than a round could add up.
    everyMs: 1500,
    until: (out) => out.split("\n").includes(row),
    timeoutMs: 60_000,
  });
  assert.ok(r.matched, `no row ${JSON.stringify(row)} in:\n${r.stdout.slice(-3000)}\n${r.stderr}`);
  assert.equal(r.code, 0, r.stderr);
  return r;
}

/** A loop device over a file in /dev/shm (so the backing file makes no block I/O of its own). */
function withLoopDevice(t: TestContext): { dev: string; close: () => void } | undefined {
  const file = `/dev/shm/tsbpf-maps-test-${process.pid}.img`;
  spawnSync("truncate", ["-s", "16M", file]);
  let r = spawnSync("losetup", ["--find", "--show", file], { encoding: "utf8" });
  if (r.status !== 0) {
    // The loop driver may be a module not loaded yet (the kernel matrix's guest has busybox's modprobe only).
    if (spawnSync("modprobe", ["loop"]).status !== 0) spawnSync("busybox", ["modprobe", "loop"]);
    r = spawnSync("losetup", ["--find", "--show", file], { encoding: "utf8" });
  }
  if (r.status !== 0) {
    rmSync(file, { force: true });
    t.skip(`no loop device here (losetup: ${r.stderr?.trim() || r.error?.message})`);
    return undefined;
  }
  const dev = r.stdout.trim();
  return {
    dev,
    close: () => {
      spawnSync("losetup", ["-d", dev]);
      rmSync(file, { force: true });
    },
  };
}

/** O_DIRECT writes to the loop device: each one is a single request of that size. */
const WRITES: Array<{ kb: number; times: number }> = [
  { kb: 12, times: 3 },
  { kb: 40, times: 2 },
  { kb: 128, times: 1 },
];

function writeDirect(dev: string): void {
  let seek = 0;
  for (const { kb, times } of WRITES) {
    for (let i = 0; i < times; i++) {
      const r = spawnSync(
        "dd",
        [
          "if=/dev/zero",
          `of=${dev}`,
          `bs=${kb}K`,
          "count=1",
          `seek=${seek}`,
          "oflag=direct,seek_bytes",
          "status=none",
        ],
        { encoding: "utf8" },
      );
      assert.equal(r.status, 0, `dd failed: ${r.stderr}`);
      seek += kb * 1024;
    }
  }
}

/** Parses the two histograms that map_hist and map_hist2 print at the end. */
function parseHists(stdout: string): { linear: Map<number, number>; log2: Map<string, number> } {
  const at = stdout.indexOf("\nLinear histogram\n");
  const lg = stdout.indexOf("\nlog2 histogram\n");
  assert.ok(at >= 0 && lg > at, `both histograms are printed:\n${stdout}`);
  const linearText = stdout.slice(at + "\nLinear histogram\n".length, lg);
  const log2Text = stdout.slice(lg + "\nlog2 histogram\n".length);
  // bcc's headers: print_linear_hist and print_log2_hist with val_type "kbytes"
  assert.ok(linearText.startsWith("     kbytes        : count     distribution\n"), linearText);
  assert.ok(log2Text.startsWith("     kbytes              : count     distribution\n"), log2Text);
  const linear = new Map<number, number>();
  for (const line of linearText.split("\n").slice(1)) {
    if (line === "") continue;
    const m = /^ {8}(\d+) +: (\d+) +\|[* ]{40}\|$/.exec(line);
    assert.ok(m, `linear row: ${JSON.stringify(line)}`);
    assert.equal(line.indexOf(":"), 19, `linear row layout: ${JSON.stringify(line)}`);
    linear.set(Number(m[1]), Number(m[2]));
  }
  const log2 = new Map<string, number>();
  for (const line of log2Text.split("\n").slice(1)) {
    if (line === "") continue;
    const m = /^ *(\d+) -> (\d+) +: (\d+) +\|[* ]{40}\|$/.exec(line);
    assert.ok(m, `log2 row: ${JSON.stringify(line)}`);
    assert.equal(line.indexOf(":"), 25, `log2 row layout: ${JSON.stringify(line)}`);
    log2.set(`${m[1]} -> ${m[2]}`, Number(m[3]));
  }
  return { linear, log2 };
}

async function runHist(t: TestContext, id: string): Promise<{ stdout: string; stderr: string } | undefined> {
  const loop = withLoopDevice(t);
  if (!loop) return undefined;
  try {
    let written = false;
    const r = await runExample(id, {
      ready: (out) => out.includes("Tracing block I/O... Hit Ctrl-C to end.\n"),
      activity: () => {
        if (written) return;
        writeDirect(loop.dev);
        written = true;
      },
      // Stopped (SIGINT) once the writes are done: the histograms print at the end.
      until: () => written,
      timeoutMs: 60_000,
    });
    assert.ok(written, `the example did not start: ${r.stderr}`);
    assert.equal(r.code, 0, r.stderr);
    const { linear, log2 } = parseHists(r.stdout);
    // Each write is one request of that many kbytes (other I/O on the machine may add to any slot).
    assert.ok((linear.get(12) ?? 0) >= 3, `linear slot 12:\n${r.stdout}`);
    assert.ok((linear.get(40) ?? 0) >= 2, `linear slot 40:\n${r.stdout}`);
    assert.ok(Math.max(...linear.keys()) < 64, "BPF_HISTOGRAM(dist) has 64 slots: 128 kbytes is not in it");
    assert.ok((log2.get("8 -> 15") ?? 0) >= 3, `log2 8 -> 15:\n${r.stdout}`);
    assert.ok((log2.get("32 -> 63") ?? 0) >= 2, `log2 32 -> 63:\n${r.stdout}`);
    assert.ok((log2.get("128 -> 255") ?? 0) >= 1, `log2 128 -> 255:\n${r.stdout}`);
    return r;
  } finally {
    loop.close();
  }
}

function assertStrict(t: TestContext, id: string): void {
  if (kernelHas("kprobe")) {
    t.skip("this kernel has kprobes: --strict runs the kprobe (covered by the kernel matrix)");
    return;
  }
  const r = runExampleSync(id, ["--strict", "--duration", "1"]);
  const program = id.slice(id.indexOf("/") + 1);
  assert.equal(r.status, 1, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(
      `^${program}: NotSupportedError: kprobes are not available on this kernel \\(.*CONFIG_KPROBES is off\\)`,
    ),
  );
}

describe("maps", { skip: skipUnlessRoot }, () => {
  for (const form of ["BPF_TABLE", "BPF_ARRAY"] as const) {
    it(`maps/map_table_sample (${form}): counts execve by root and by a non-root user`, async () => {
      const rounds = (out: string): Array<[number, number]> => {
        const lines = out.split("\n");
        const res: Array<[number, number]> = [];
        for (let i = 0; i + 1 < lines.length; i++) {
          const a = /^root {5}: (\d+)$/.exec(lines[i] as string);
          const b = /^non-root : (\d+)$/.exec(lines[i + 1] as string);
          if (a && b) res.push([Number(a[1]), Number(b[1])]);
        }
        return res;
      };
      let nonRoot = 0;
      const r = await runExample("maps/map_table_sample", {
        args: form === "BPF_ARRAY" ? ["--array", "1"] : ["1"],
        ready: (out) => out.includes("Hit Ctrl-C to end."),
        activity: () => {
          for (let i = 0; i < 3; i++) {
            execAs(["/bin/true"]);
            execAs(["/bin/true"], 65534);
            nonRoot++;
          }
        },
        everyMs: 100,
        until: (out) => rounds(out).some(([root, other]) => root >= 3 && other >= 3),
        timeoutMs: 60_000,
      });
      assert.ok(r.matched, `no round with both counters grown:\n${r.stdout}\n${r.stderr}`);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.split("\n");
      assert.equal(
        lines[0],
        `Counting execve calls of root and non-root users (${form === "BPF_ARRAY" ? "BPF_ARRAY" : 'BPF_TABLE("array")'})... Hit Ctrl-C to end.`,
      );
      // Every round prints the two counters, in key order, and nothing else.
      const body = lines.slice(1).filter((l) => l !== "");
      assert.equal(body.length % 2, 0, r.stdout);
      assert.equal(rounds(r.stdout).length, body.length / 2, r.stdout);
      // Only this test execs as a non-root user here: no round counts more than its execs as uid 65534.
      for (const [, other] of rounds(r.stdout))
        assert.ok(other <= nonRoot, `non-root ${other} > the test's ${nonRoot} execs:\n${r.stdout}`);
      assertMechanism("map_table_sample", r.stderr, "kprobe", EXECVE_TP);
    });
  }

  it("maps/map_table_sample fails with the typed error under --strict when the kernel has no kprobes", (t) =>
    assertStrict(t, "maps/map_table_sample"));

  it('maps/map_hash_simple: a round counts each comm\'s execs, rows sorted as %10d : "comm"', async () => {
    const comm = uniqueComm("tsbpf-hs");
    const row = hashRow(7, comm);
    const r = await runHash("maps/map_hash_simple", comm, 7, row);
    const rounds = hashRounds(r.stdout);
    assert.ok(rounds.length >= 1);
    assertSortedRounds(rounds);
    const mine = rounds.find((x) => x.some(([c, n]) => c === 7 && n === comm)) as Array<[number, string]>;
    assert.equal(mine.filter(([, n]) => n === comm).length, 1, "one row per comm");
    // The table is cleared after each round: a later round never carries the 7 over.
    const idx = rounds.indexOf(mine);
    for (const later of rounds.slice(idx + 1))
      for (const [c, n] of later) if (n === comm) assert.ok(c <= 7, `${c} after a clear`);
    assertMechanism("map_hash_simple", r.stderr, "kprobe", EXECVE_TP);
  });

  it("maps/map_hash_simple fails with the typed error under --strict when the kernel has no kprobes", (t) =>
    assertStrict(t, "maps/map_hash_simple"));

  it("maps/map_hash_sample: past 10 the entry is deleted, so 13 execs in a round show as 2", async () => {
    const comm = uniqueComm("tsbpf-hd");
    const r = await runHash("maps/map_hash_sample", comm, 13, hashRow(2, comm));
    const rounds = hashRounds(r.stdout);
    assertSortedRounds(rounds);
    for (const round of rounds)
      for (const [c, n] of round) assert.ok(c <= 10, `no count above 10 survives: ${c} "${n}"`);
    assertMechanism("map_hash_sample", r.stderr, "kprobe", EXECVE_TP);
  });

  it("maps/map_hash_sample fails with the typed error under --strict when the kernel has no kprobes", (t) =>
    assertStrict(t, "maps/map_hash_sample"));

  it("maps/map_hash_update: update() counts, past 10 delete() and insert() leave the entry at 0", async () => {
    const comm = uniqueComm("tsbpf-hu");
    const r = await runHash("maps/map_hash_update", comm, 11, hashRow(0, comm));
    const rounds = hashRounds(r.stdout);
    assertSortedRounds(rounds);
    for (const round of rounds)
      for (const [c, n] of round) assert.ok(c <= 10, `no count above 10 survives: ${c} "${n}"`);
    assertMechanism("map_hash_update", r.stderr, "kprobe", EXECVE_TP);
  });

  it("maps/map_hash_update fails with the typed error under --strict when the kernel has no kprobes", (t) =>
    assertStrict(t, "maps/map_hash_update"));

  it("maps/map_hist: linear and log2 histograms of O_DIRECT writes of known sizes to a loop device", async (t) => {
    const r = await runHist(t, "maps/map_hist");
    if (r) assertMechanism("map_hist", r.stderr, "kprobe", /raw tracepoint block_rq_complete/);
  });

  it("maps/map_hist fails with the typed error under --strict when the kernel has no kprobes", (t) =>
    assertStrict(t, "maps/map_hist"));

  it("maps/map_hist2: the same histograms from the block:block_rq_complete tracepoint", async (t) => {
    const r = await runHist(t, "maps/map_hist2");
    if (r) assert.equal(r.stderr, "", "the tracepoint variant needs no fallback");
  });

  it("maps/map_cpu_array_simple: loopback TCP connects, total and per online CPU", async () => {
    const server: Server = createServer((s) => s.destroy());
    await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
    const port = (server.address() as { port: number }).port;
    let made = 0;
    const connectOnce = (): Promise<void> =>
      new Promise((res, rej) => {
        const s = tcpConnect(port, "127.0.0.1", () => {
          made++;
          s.destroy();
          res();
        });
        s.on("error", rej);
      });
    const rowRe = new RegExp(`^${process.pid} +\\S.{0,11} start of tcp4connect$`, "m");
    try {
      const r = await runExample("maps/map_cpu_array_simple", {
        ready: (out) => out.startsWith("PID    COMM         OUTPUT\n"),
        activity: async () => {
          for (let i = 0; i < 3; i++) await connectOnce();
        },
        until: (out) => rowRe.test(out) && made >= 3,
        timeoutMs: 60_000,
      });
      assert.ok(r.matched, `no trace row of our connects:\n${r.stdout}\n${r.stderr}`);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.split("\n");
      assert.equal(lines[0], "PID    COMM         OUTPUT");
      const totalAt = lines.findIndex((l) => /^tcp connects total {2}\d+ {2}times$/.test(l));
      assert.ok(totalAt > 0, r.stdout);
      const total = Number(/\d+/.exec(lines[totalAt] as string)?.[0]);
      assert.ok(total >= made, `total ${total} < ${made} connects made`);
      const cpus = onlineCpus();
      const vals = lines.slice(totalAt + 1, totalAt + 1 + cpus.length).map((l, i) => {
        const m = /^val\[ (\d+) \] = {2}(\d+)$/.exec(l);
        assert.ok(m, `per-CPU line: ${JSON.stringify(l)}`);
        assert.equal(Number(m[1]), cpus[i], "one line per online CPU, by CPU number");
        return Number(m[2]);
      });
      assert.equal(lines.slice(totalAt + 1 + cpus.length).join(""), "", "nothing after the per-CPU lines");
      // getvalue(0) is read after sum(0): the counters only grow.
      assert.ok(
        vals.reduce((a, b) => a + b, 0) >= total,
        `per-CPU values ${vals} add up to at least the total ${total}`,
      );
      assertMechanism("map_cpu_array_simple", r.stderr, "kprobe", /tracepoint sock:inet_sock_set_state/);
    } finally {
      server.close();
    }
  });

  it("maps/map_cpu_array_simple fails with the typed error under --strict when the kernel has no kprobes", (t) =>
    assertStrict(t, "maps/map_cpu_array_simple"));
});
