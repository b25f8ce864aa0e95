import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { kprobeSupport } from "../../../src/kernel/features.js";
import { CTargets, ccPresent, sdtHeaderPresent } from "../../c_targets.js";
import { cgroup2Root } from "../../cgroup.js";
import { assertNothingLeft, kernelObjects, skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

/*
 * On each SIGUSR1, one round of known calls: work(16) x3, work(32) x5 (it
 * returns n*2; each fires the USDT probe tsbpf:work(n, tag) where
 * <sys/sdt.h> is installed), nap(20) x2 (sleeps 20 ms), close(123) x4, close(124) x2,
 * and 3 failing opens of a known path; then it prints "done".
 */
const TARGET = `
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#if __has_include(<sys/sdt.h>)
#include <sys/sdt.h>
#else
#define DTRACE_PROBE2(provider, name, a, b)
#endif
static volatile sig_atomic_t go;
static void on_usr1(int s) { (void)s; go = 1; }
__attribute__((noinline)) long work(long n, const char *tag) {
  __asm__ volatile("" ::: "memory");
  DTRACE_PROBE2(tsbpf, work, n, tag);
  return tag[0] ? n * 2 : 0;
}
__attribute__((noinline)) int nap(int ms) { usleep(ms * 1000); return ms; }
int main(void) {
  sigset_t block, empty;
  sigemptyset(&block);
  sigemptyset(&empty);
  sigaddset(&block, SIGUSR1);
  sigprocmask(SIG_BLOCK, &block, 0);
  signal(SIGUSR1, on_usr1);
  printf("%d\\n", getpid());
  fflush(stdout);
  for (;;) {
    while (!go) sigsuspend(&empty);
    go = 0;
    for (int i = 0; i < 3; i++) work(16, "sixteen");
    for (int i = 0; i < 5; i++) work(32, "thirty-two");
    for (int i = 0; i < 2; i++) nap(20);
    for (int i = 0; i < 4; i++) close(123);
    for (int i = 0; i < 2; i++) close(124);
    for (int i = 0; i < 3; i++) open("/nonexistent/argdist-known-path", O_RDONLY);
    printf("done\\n");
    fflush(stdout);
  }
}
`;

const skip = skipUnlessRoot || (ccPresent ? false : "no C compiler");

/** The rows of the -C section titled `title` (until the next section or interval). */
function section(lines: string[], title: string): string[] {
  const at = lines.indexOf(title);
  assert.ok(at >= 0, `no section ${title} in:\n${lines.join("\n")}`);
  assert.equal(lines[at + 1], "\tCOUNT      EVENT");
  const rows: string[] = [];
  for (const l of lines.slice(at + 2)) {
    if (!l.startsWith("\t")) break;
    rows.push(l);
  }
  return rows;
}

/** A log2 histogram's non-zero buckets: "lo -> hi" → count. */
function buckets(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^ +(\d+) -> (\d+) +: (\d+) +\|/gm)) {
    if (m[3] !== "0") out[`${m[1]} -> ${m[2]}`] = Number(m[3]);
  }
  return out;
}

describe("argdist", { skip }, () => {
  const targets = new CTargets("tsbpf-argdist");
  let exe = "";
  let pid = 0;
  let round: () => Promise<void> = async () => {};

  before(async () => {
    exe = targets.build("argtarget", TARGET);
    const child = targets.run(exe);
    let out = "";
    const waiters: Array<() => void> = [];
    let dones = 0;
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      const n = out.split("\n").filter((l) => l === "done").length;
      while (dones < n) {
        dones++;
        waiters.shift()?.();
      }
    });
    pid = await new Promise<number>((resolve) => {
      const check = (): void => {
        const nl = out.indexOf("\n");
        if (nl >= 0) resolve(Number(out.slice(0, nl)));
        else setTimeout(check, 10);
      };
      check();
    });
    round = () =>
      new Promise<void>((resolve) => {
        waiters.push(resolve);
        process.kill(pid, "SIGUSR1");
      });
  });
  after(() => targets.cleanup());

  it("-C: the count of each distinct value (a number and a string), bcc's layout, sorted by count", async () => {
    const spec = `p:${exe}:work(long n, const char *tag):long,char*:n,tag`;
    const before = kernelObjects();
    const r = await traceWhile("argdist", ["-p", String(pid), "-C", spec], round);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.match(r.lines[0] as string, /^\[\d\d:\d\d:\d\d\]$/);
    assert.deepEqual(section(r.lines, spec), [
      "\t3          n = 16, tag = sixteen",
      "\t5          n = 32, tag = thirty-two",
    ]);
    await assertNothingLeft(before);
  });

  it("a filter keeps one value (STRCMP too); a label titles the section; -T keeps the top rows", async () => {
    const r = await traceWhile(
      "argdist",
      [
        "-C",
        `p:${exe}:work(long n):long:n:n==32#thirty-twos`,
        "-T",
        "1",
        "-C",
        `p:${exe}:work(long n):long:n`,
      ],
      round,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(section(r.lines, "thirty-twos"), ["\t5          n = 32"]);
    assert.deepEqual(section(r.lines, `p:${exe}:work(long n):long:n`), ["\t5          n = 32"]);
    // bcc's STRCMP("literal", expr): the string at expr is the literal
    const str = `p:${exe}:work(long n, const char *tag):long:n:STRCMP("sixteen", tag)`;
    const s = await traceWhile(
      "argdist",
      ["-C", str, "-C", `${str.replace("sixteen", "sixtee")}#prefix`],
      round,
    );
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(section(s.lines, str), ["\t3          n = 16"]);
    assert.deepEqual(section(s.lines, "prefix"), []);
  });

  it("-H: a log2 histogram of the values, the expression as the value column", async () => {
    const r = await traceWhile("argdist", ["-p", String(pid), "-H", `p:${exe}:work(long n):long:n`], round);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {5}n {19}: count {5}distribution$/m);
    assert.deepEqual(buckets(r.stdout), { "16 -> 31": 3, "32 -> 63": 5 });
  });

  it("r: $retval, and a bare r: spec counting the return values", async () => {
    const r = await traceWhile(
      "argdist",
      ["-p", String(pid), "-C", `r:${exe}:work():long:$retval`, "-C", `r:${exe}:nap()`],
      round,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(section(r.lines, `r:${exe}:work():long:$retval`), [
      "\t3          $retval = 32",
      "\t5          $retval = 64",
    ]);
    assert.deepEqual(section(r.lines, `r:${exe}:nap()`), ["\t2          retval = 20"]);
  });

  it("$entry(param) on a return probe, with $retval and a filter on both", async () => {
    const spec = `r:${exe}:work(long n, const char *tag):long,long,char*:$entry(n),$retval,$entry(tag):$retval > $entry(n) && $entry(n) < 20`;
    const r = await traceWhile("argdist", ["-p", String(pid), "-C", spec], round);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(section(r.lines, spec), ["\t3          n = 16, $retval = 32, tag = sixteen"]);
  });

  it("$latency: a 20 ms sleep lands in the 2^24 ns bucket (16.8-33.6 ms)", async () => {
    const r = await traceWhile(
      "argdist",
      ["-p", String(pid), "-H", `r:${exe}:nap(int ms):u64:$latency#nap ns`],
      round,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {5}nap ns {14}: count {5}distribution$/m);
    assert.deepEqual(buckets(r.stdout), { "16777216 -> 33554431": 2 });
  });

  it("u: a USDT probe's arguments as arg1, arg2 (typed by its note), in a filter, -C and -H", {
    skip: sdtHeaderPresent ? false : "needs <sys/sdt.h> (systemtap-sdt-dev)",
  }, async () => {
    const count = `u:${exe}:work():long,char*:arg1,arg2:arg1==32`;
    const r = await traceWhile(
      "argdist",
      ["-p", String(pid), "-C", count, "-H", `u:${exe}:work():long:arg1`],
      round,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(section(r.lines, count), ["\t5          arg1 = 32, arg2 = thirty-two"]);
    assert.deepEqual(buckets(r.lines.join("\n")), { "16 -> 31": 3, "32 -> 63": 5 });
  });

  it("t: a tracepoint's fields (args->fd, a char* filename), -p PID; -I a header of the user's", async () => {
    const header = join(targets.path, "argdist_limits.h");
    writeFileSync(header, "#define ARGDIST_MIN_FD 100\n");
    const fd = "t:syscalls:sys_enter_close():int:args->fd:args->fd >= ARGDIST_MIN_FD";
    const path = "t:syscalls:sys_enter_openat():char*:args->filename";
    const r = await traceWhile("argdist", ["-p", String(pid), "-I", header, "-C", fd, "-C", path], round);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(section(r.lines, fd), ["\t2          args->fd = 124", "\t4          args->fd = 123"]);
    assert.deepEqual(section(r.lines, path), [
      "\t3          args->filename = /nonexistent/argdist-known-path",
    ]);
  });

  it("-i 1 -n 2 ends by itself after two outputs; -c keeps the counts; -v prints the program", async () => {
    const spec = `p:${exe}:work(long n):long:n`;
    const r = await traceWhile(
      "argdist",
      ["-v", "-c", "-i", "1", "-n", "2", "-p", String(pid), "-C", spec],
      round,
      {
        untilExit: true,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^int argdist_probe0\(struct pt_regs \*ctx, long n\) \{$/m);
    assert.match(r.stdout, /^ {2}if \(__tgid != \d+\) return 0;$/m);
    assert.ok(r.lines.includes("open uprobes: 1"), r.stdout);
    const stamps = r.lines.filter((l) => /^\[\d\d:\d\d:\d\d\]$/.test(l));
    assert.equal(stamps.length, 2, r.stdout);
    const second = r.lines.slice(r.lines.lastIndexOf(stamps[1] as string));
    assert.deepEqual(section(second, spec), ["\t3          n = 16", "\t5          n = 32"]);
  });

  it("--json: a record per counted value, bcc's histogram records", async () => {
    const r = await traceWhile(
      "argdist",
      [
        "--json",
        "-p",
        String(pid),
        "-C",
        `p:${exe}:work(long n, const char *tag):long,char*:n,tag`,
        "-H",
        `p:${exe}:work(long n):long:n#sizes`,
      ],
      round,
    );
    assert.equal(r.code, 0, r.stderr);
    const counts = r.records.filter((x) => x.count !== undefined);
    assert.deepEqual(
      counts.map((x) => [x.count, x.values]),
      [
        [3, { n: 16, tag: "sixteen" }],
        [5, { n: 32, tag: "thirty-two" }],
      ],
    );
    const h = r.records.find((x) => x.probe === "sizes");
    assert.equal(h?.val_type, "sizes");
    const data = h?.data as Array<Record<string, number>>;
    assert.deepEqual(
      data.filter((d) => d.count).map((d) => [d["interval-start"], d["interval-end"], d.count]),
      [
        [16, 31, 3],
        [32, 63, 5],
      ],
    );
  });

  it("-d ends the run by itself; --cgroup counts only the processes in the cgroup", async () => {
    const d = await traceWhile("argdist", ["-d", "1.5", "-C", "t:sched:sched_switch()"], () => 0, {
      untilExit: true,
    });
    assert.equal(d.code, 0, d.stderr);
    assert.ok(
      d.lines.some((l) => /^\[\d\d:\d\d:\d\d\]$/.test(l)),
      d.stdout,
    );
    const dir = join(cgroup2Root(), `tsbpf-argdist-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const closer = (fd: number, cg?: string): void => {
      const py = `import os\ntry: os.close(${fd})\nexcept OSError: pass`;
      const enter = cg ? `echo $$ > ${cg}/cgroup.procs && ` : "";
      spawnSync("/bin/sh", ["-c", `${enter}exec /usr/bin/python3 -c "$PY"`], {
        env: { ...process.env, PY: py },
      });
    };
    try {
      const spec = "t:syscalls:sys_enter_close():int:args->fd:args->fd == 321 || args->fd == 654";
      const r = await traceWhile("argdist", ["--cgroup", dir, "-C", spec], () => {
        closer(654);
        closer(321, dir);
      });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(section(r.lines, spec), ["\t1          args->fd = 321"]);
    } finally {
      rmdirSync(dir);
    }
  });

  it("user errors: no specifier, a bad one, an unknown library or tracepoint", async () => {
    const none = await traceWhile("argdist", [], () => 0);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /at least one specifier is required/);
    const mism = await traceWhile("argdist", ["-C", "p:c:malloc(size_t n):size_t,int:n"], () => 0);
    assert.equal(mism.code, 2);
    assert.match(
      mism.stderr,
      /error parsing probe 'p:c:malloc\(size_t n\):size_t,int:n': mismatched # of exprs and types/,
    );
    const lib = await traceWhile("argdist", ["-C", "p:no-such-lib-xyz:f()"], () => 0);
    assert.equal(lib.code, 2);
    assert.match(lib.stderr, /unable to find library no-such-lib-xyz/);
    const tp = await traceWhile("argdist", ["-C", "t:syscalls:sys_enter_no_such_call()"], () => 0);
    assert.equal(tp.code, 2);
    assert.match(tp.stderr, /error parsing probe .*: no tracepoint syscalls:sys_enter_no_such_call/);
  });

  it("kernel functions need kprobes: a typed error naming tracepoints", {
    skip: kprobeSupport() === "yes" && "this kernel has kprobes (tested in argdist_kprobe.test.ts)",
  }, async () => {
    const r = await traceWhile("argdist", ["-C", "p::__do_sys_getppid()"], () => 0);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /NotSupportedError: .*no kprobes.*-C 't:syscalls:sys_enter_getppid\(\)'/);
  });
});
