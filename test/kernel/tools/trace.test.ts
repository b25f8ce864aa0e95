/**
 * trace against C targets built here: a function called ten times with
 * known arguments each time the test sends SIGUSR1 (uprobes, uretprobes,
 * signatures, STRCMP), the openat() it makes then (tracepoints), a USDT
 * probe; the rows bcc prints, with the targets' PIDs, and the flags. This
 * kernel has no kprobes: kernel functions end in a typed error here and are
 * traced in the kernel matrix (trace_kprobe.test.ts).
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { after, describe, it } from "node:test";
import { kprobeSupport, uprobeSupport } from "../../../src/kernel/features.js";
import { CTargets, ccPresent, sdtHeaderPresent } from "../../c_targets.js";
import { skipUnlessRoot } from "../../helpers.js";
import { traceWhile } from "./run_tool.js";

const targets = new CTargets("tsbpf-trace");
after(() => targets.cleanup());

const skip =
  skipUnlessRoot ||
  (ccPresent ? false : "needs a C compiler to build the traced programs") ||
  (uprobeSupport() === "yes" ? false : "this kernel has no uprobes (CONFIG_UPROBES)");

/**
 * On each SIGUSR1: traced(i, 100 * i, i odd ? "odd" : "even") for i = 1..10
 * (through caller_fn), then openat() of /tmp/tsbpf-trace-<pid>-known (absent),
 * then "done" on stdout. With USDT, the probe tsbpf:tick(i, 3 * i, "hello-usdt") each time too.
 */
const TARGET_C = (usdt: boolean) => `
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
${usdt ? "#include <sys/sdt.h>" : ""}
static volatile sig_atomic_t go;
static void on_usr1(int s) { (void)s; go = 1; }
volatile long sink;
__attribute__((noinline, noclone)) int traced(int i, long x, const char *s) {
  __asm__ volatile("" : : "r"(x), "r"(s) : "memory");
  return i * 3;
}
__attribute__((noinline, noclone)) void caller_fn(int i) {
  sink += traced(i, 100L * i, i % 2 ? "odd" : "even");
  ${usdt ? 'DTRACE_PROBE3(tsbpf, tick, i, 3L * i, "hello-usdt");' : ""}
}
int main(void) {
  char path[64];
  sigset_t block, old;
  snprintf(path, sizeof(path), "/tmp/tsbpf-trace-%d-known", getpid());
  signal(SIGUSR1, on_usr1);
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigprocmask(SIG_BLOCK, &block, &old);
  printf("%d\\n", getpid());
  fflush(stdout);
  for (;;) {
    while (!go) sigsuspend(&old);
    go = 0;
    for (int i = 1; i <= 10; i++) caller_fn(i);
    int fd = open(path, O_RDONLY);
    if (fd >= 0) close(fd);
    printf("done\\n");
    fflush(stdout);
  }
}
`;

/** A running target: its pid, and a function that makes it call traced() ten times and waits for it. */
interface Target {
  pid: number;
  go: () => Promise<void>;
}

async function startTarget(exe: string): Promise<Target> {
  const child: ChildProcess = targets.run(exe);
  const lines: string[] = [];
  let buf = "";
  const waiters: Array<() => void> = [];
  child.stdout?.on("data", (b: Buffer) => {
    buf += b.toString();
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      waiters.shift()?.();
    }
  });
  const nextLine = (): Promise<string> =>
    lines.length
      ? Promise.resolve(lines.shift() as string)
      : new Promise((r) => waiters.push(() => r(lines.shift() as string)));
  const exited = once(child, "exit").then(() => {
    throw new Error(`${exe} exited`);
  });
  exited.catch(() => {});
  const pid = Number(await Promise.race([nextLine(), exited]));
  return {
    pid,
    go: async () => {
      process.kill(pid, "SIGUSR1");
      assert.equal(await Promise.race([nextLine(), exited]), "done");
    },
  };
}

let plainExe = "";
const exe = (): string => {
  plainExe ||= targets.build("trace_target", TARGET_C(false), ["-fno-omit-frame-pointer"]);
  return plainExe;
};

/** bcc's row of traced() in a target: PID, TID, COMM, FUNC, the message. */
const row = (pid: number, msg: string): string =>
  `${String(pid).padEnd(7)} ${String(pid).padEnd(7)} trace_target    traced           ${msg}`;

/** The rows of a run that a process printed (PID column). */
const rowsOf = (lines: string[], pid: number): string[] => lines.filter((l) => l.startsWith(`${pid} `));

describe("trace", { skip }, () => {
  it('p:EXE:func (filter) "format", argN: bcc\'s header and the rows of the calls that pass, exact values', async () => {
    const t = await startTarget(exe());
    const r = await traceWhile(
      "trace",
      [`p:${exe()}:traced (arg1 > 6) "i=%d x=%ld s=%s", arg1, arg2, arg3`],
      t.go,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.equal(r.lines[0], "PID     TID     COMM            FUNC             -");
    assert.deepEqual(rowsOf(r.lines, t.pid), [
      row(t.pid, "i=7 x=700 s=odd"),
      row(t.pid, "i=8 x=800 s=even"),
      row(t.pid, "i=9 x=900 s=odd"),
      row(t.pid, "i=10 x=1000 s=even"),
    ]);
  });

  it("r:EXE:func with retval, and two probes in one run, in call order", async () => {
    const t = await startTarget(exe());
    const r = await traceWhile(
      "trace",
      [`p:${exe()}:traced (arg1 <= 2) "in %d", arg1`, `r:${exe()}:traced (retval <= 6) "ret=%d", retval`],
      t.go,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      rowsOf(r.lines, t.pid).map((l) => l.slice(l.indexOf("traced") + 17)),
      ["in 1", "ret=3", "in 2", "ret=6"],
    );
  });

  it("a signature names the arguments; STRCMP; -M stops after M events", async () => {
    const t = await startTarget(exe());
    const r = await traceWhile(
      "trace",
      ["-M", "3", `p:${exe()}:traced(int i, long x, const char *s) (STRCMP("odd", s)) "%d %s %lx", i, s, x`],
      t.go,
      { untilExit: true },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.lines.slice(1).map((l) => l.slice(l.indexOf("traced") + 17)),
      ["1 odd 64", "3 odd 12c", "5 odd 1f4"],
    );
  });

  it("-B: STRCMP compares the literal's bytes only (no terminator)", async () => {
    const t = await startTarget(exe());
    const probe = `${exe()}:traced (STRCMP("ev", arg3)) "%d", arg1`;
    const bin = await traceWhile("trace", ["-B", "-p", String(t.pid), probe], t.go);
    assert.equal(bin.code, 0, bin.stderr);
    assert.deepEqual(
      rowsOf(bin.lines, t.pid),
      ["2", "4", "6", "8", "10"].map((m) => row(t.pid, m)),
    );
    const text = await traceWhile("trace", ["-p", String(t.pid), probe], t.go);
    assert.deepEqual(rowsOf(text.lines, t.pid), []);
  });

  it("-p PID: only that process's calls; -f MSG_FILTER; -n NAME", async () => {
    const [a, b] = [await startTarget(exe()), await startTarget(exe())];
    const r = await traceWhile(
      "trace",
      ["-p", String(a.pid), "-f", "s=odd", `${exe()}:traced "i=%d s=%s", arg1, arg3`],
      async () => {
        await a.go();
        await b.go();
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(rowsOf(r.lines, b.pid).length, 0);
    assert.deepEqual(
      rowsOf(r.lines, a.pid).map((l) => l.slice(l.indexOf("traced") + 17)),
      ["i=1 s=odd", "i=3 s=odd", "i=5 s=odd", "i=7 s=odd", "i=9 s=odd"],
    );
    const n = await traceWhile("trace", ["-n", "no-such-comm", `${exe()}:traced`], a.go);
    assert.equal(n.code, 0, n.stderr);
    assert.deepEqual(n.lines, ["PID     TID     COMM            FUNC             "]);
  });

  it("-L TID, --uid UID: the thread's and the user's calls only", async () => {
    const t = await startTarget(exe());
    const probe = `${exe()}:traced (arg1 == 4) "%d", arg1`;
    const mine = await traceWhile("trace", ["-L", String(t.pid), "--uid", "0", probe], t.go);
    assert.equal(mine.code, 0, mine.stderr);
    assert.deepEqual(rowsOf(mine.lines, t.pid), [row(t.pid, "4")]);
    const other = await traceWhile("trace", ["-L", "1", probe], t.go);
    assert.deepEqual(rowsOf(other.lines, t.pid), []);
    const otherUser = await traceWhile("trace", ["--uid", "12345", probe], t.go);
    assert.deepEqual(rowsOf(otherUser.lines, t.pid), []);
  });

  it("-U: the user stack under each row, the target's functions named", async () => {
    const t = await startTarget(exe());
    // A return probe: the stack starts at the return address, in the caller
    // (at a function's entry, frame pointers skip the caller, in bcc too).
    const r = await traceWhile("trace", ["-U", "-M", "1", `r:${exe()}:traced`], t.go, { untilExit: true });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.lines[1] as string, new RegExp(`^${t.pid} +${t.pid} +trace_target +traced +$`));
    assert.match(r.lines[2] as string, /^ {8}caller_fn\+0x[0-9a-f]+ \[trace_target\]$/);
    assert.match(r.lines[3] as string, /^ {8}main\+0x[0-9a-f]+ \[trace_target\]$/);
    assert.equal(r.lines.at(-1), "");
    const a = await traceWhile("trace", ["-U", "-a", "-M", "1", `p:${exe()}:traced`], t.go, {
      untilExit: true,
    });
    assert.match(a.lines[2] as string, /^ {8}[ 0-9a-f]{16} traced\+0x0 \[trace_target\]$/);
  });

  it("t:syscalls:sys_enter_openat with args->filename and args->flags; -t and -C columns", async () => {
    const t = await startTarget(exe());
    const r = await traceWhile(
      "trace",
      [
        "-t",
        "-C",
        "-p",
        String(t.pid),
        't:syscalls:sys_enter_openat "%s flags=%d", args->filename, args->flags',
      ],
      t.go,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0], "TIME     CPU PID     TID     COMM            FUNC             -");
    const rows = r.lines.filter((l) => l.includes(`/tmp/tsbpf-trace-${t.pid}-known`));
    assert.equal(rows.length, 1, r.stdout);
    assert.match(
      rows[0] as string,
      new RegExp(
        `^\\d\\.\\d{6} \\d +${t.pid} +${t.pid} +trace_target +sys_enter_openat +/tmp/tsbpf-trace-${t.pid}-known flags=0$`,
      ),
    );
    // -T: wall-clock time; -K: the kernel stack (JSON: its frames)
    const k = await traceWhile(
      "trace",
      [
        "-T",
        "-K",
        "-p",
        String(t.pid),
        't:syscalls:sys_enter_openat (args->flags == 0) "%s", args->filename',
      ],
      t.go,
    );
    assert.equal(k.code, 0, k.stderr);
    assert.equal(k.lines[0], "TIME     PID     TID     COMM            FUNC             -");
    const at = k.lines.findIndex((l) => l.endsWith(`/tmp/tsbpf-trace-${t.pid}-known`));
    assert.match(k.lines[at] as string, new RegExp(`^\\d\\d:\\d\\d:\\d\\d +${t.pid} `));
    const frames = k.lines.slice(at + 1, k.lines.indexOf("", at));
    assert.ok(
      frames.some((f) => /^ {8}do_syscall_64\+0x[0-9a-f]+ \[kernel\]$/.test(f)),
      k.stdout,
    );
  });

  it("--json: one record per event, with the values", async () => {
    const t = await startTarget(exe());
    const r = await traceWhile(
      "trace",
      [
        "--json",
        `r:${exe()}:traced (retval == 30) "ret=%d", retval`,
        `p:${exe()}:traced (arg1 == 10) "%s", arg3`,
      ],
      t.go,
    );
    assert.equal(r.code, 0, r.stderr);
    const mine = r.records.filter((x) => x.pid === t.pid);
    assert.deepEqual(
      mine.map((x) => ({ tid: x.tid, comm: x.comm, func: x.func, msg: x.msg, values: x.values })),
      [
        { tid: t.pid, comm: "trace_target", func: "traced", msg: "even", values: ["even"] },
        { tid: t.pid, comm: "trace_target", func: "traced", msg: "ret=30", values: [30] },
      ],
    );
    assert.equal(typeof mine[0]?.ts, "number");
    assert.equal(typeof mine[0]?.time, "string");
  });

  it("-A with -M: identical rows counted", async () => {
    const t = await startTarget(exe());
    const r = await traceWhile("trace", ["-A", "-M", "10", `p:${exe()}:traced "%s", arg3`], t.go, {
      untilExit: true,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      `PID     TID     COMM            FUNC             -\n${row(t.pid, "odd")}\n-->COUNT 5\n\n${row(t.pid, "even")}\n-->COUNT 5\n\n`,
    );
  });

  it("trace's own process is left out unless -S; -t -u: UNIX timestamps", async () => {
    const calls = () => {
      for (let i = 0; i < 5; i++) void process.ppid; // a getppid() each
    };
    const probe = 't:syscalls:sys_enter_getppid "%d", $tgid';
    const without = await traceWhile("trace", [probe], calls);
    assert.equal(without.code, 0, without.stderr);
    assert.deepEqual(rowsOf(without.lines, process.pid), []);
    const self = await traceWhile("trace", ["-S", "-t", "-u", probe], calls);
    assert.equal(self.code, 0, self.stderr);
    assert.equal(self.lines[0], "TIME              PID     TID     COMM            FUNC             -");
    const mine = self.lines.filter((l) => l.slice(18).startsWith(`${process.pid} `));
    assert.ok(mine.length >= 5, self.stdout);
    const unix = Number(mine[0]?.slice(0, 17));
    assert.ok(Math.abs(unix - Date.now() / 1000) < 60, mine[0]);
    assert.match(
      mine[0] as string,
      new RegExp(`^\\d{10}\\.\\d{6} +${process.pid} .* sys_enter_getppid +${process.pid}$`),
    );
  });

  it("a full ring buffer: the events lost are counted and said, as bcc says them", async () => {
    const t = await startTarget(exe());
    // one page a CPU, 4 KiB strings: room for about one record a CPU while ten come at once
    const r = await traceWhile("trace", ["-b", "1", "-Z", "4096", `${exe()}:traced "%s", arg3`], t.go);
    assert.equal(r.code, 0, r.stderr);
    const lost = Number(/^trace: Possibly lost (\d+) samples/.exec(r.stderr)?.[1]);
    assert.ok(lost > 0, r.stderr);
    assert.equal(rowsOf(r.lines, t.pid).length + lost, 10);
  });

  it("u:EXE:probe: USDT arguments", {
    skip: sdtHeaderPresent ? false : "needs <sys/sdt.h> (systemtap-sdt-dev)",
  }, async () => {
    const usdtExe = targets.build("trace_usdt", TARGET_C(true));
    const t = await startTarget(usdtExe);
    const r = await traceWhile(
      "trace",
      [`u:${usdtExe}:tsbpf:tick (arg1 >= 9) "i=%d x=%ld s=%s", arg1, arg2, arg3`],
      t.go,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      rowsOf(r.lines, t.pid).map((l) => l.slice(l.indexOf("tsbpf:tick") + 17)),
      ["i=9 x=27 s=hello-usdt", "i=10 x=30 s=hello-usdt"],
    );
  });

  it("kernel functions need kprobes: a NotSupportedError naming tracepoints", {
    skip: kprobeSupport() === "yes" && "this kernel has kprobes (trace_kprobe.test.ts)",
  }, async () => {
    const r = await traceWhile("trace", ['p::do_sys_openat2 "%d", arg1'], () => 0);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^trace: NotSupportedError: .*do_sys_openat2.*no kprobes.*t:syscalls:sys_enter_openat'.*syscalls:sys_enter_openat2/,
    );
  });

  it("a C expression that does not compile: clang's error, and the probe it came from", async () => {
    const r = await traceWhile("trace", ["t:sched:sched_switch", `${exe()}:traced "%d", nosuch`], () => 0);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^trace: CompileError: .*undeclared identifier 'nosuch'.*\n\(in the C generated for probe '.*:traced "%d", nosuch'; -v prints the program\)\n$/s,
    );
  });

  it("bad probes and flags: usage errors, status 2", async () => {
    for (const [argv, re] of [
      [["x:c:malloc"], /probe type must be/],
      [['c:malloc "%d %d", arg1'], /the format has 2 placeholders but 1 argument/],
      [["c:malloc (arg1 > 2"], /unmatched end of predicate/],
      [["t:sched:no_such_event_xyz"], /this kernel has no tracepoint sched:no_such_event_xyz/],
      [["no_such_library_xyz:func"], /unable to find library no_such_library_xyz/],
      [["-p", "1", "-L", "1", "c:malloc"], /only one of -p and -L/],
      [["-A", "c:malloc"], /-M\/--max-events should be specified with -A/],
    ] as Array<[string[], RegExp]>) {
      const r = await traceWhile("trace", argv, () => 0);
      assert.equal(r.code, 2, `${argv.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  });
});
