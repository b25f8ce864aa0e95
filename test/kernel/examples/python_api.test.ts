/**
 * Chapter 14, the Python API: trace_print (raw and formatted), trace_fields,
 * task_switch's (prev, next) counts, keys() and values() of a table, and
 * symbol lookups, each checked against processes the test spawns.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { runChild, skipUnlessRoot } from "../../helpers.js";
import { assertMechanism, kernelHas, runExample, runExampleSync } from "./run_example.js";

/** The pids of processes an activity spawned, and a test for lines naming one of them. */
function spawned(): { pids: Set<number>; run: (argv: string[], uid?: number) => void } {
  const pids = new Set<number>();
  return {
    pids,
    run: (argv, uid) => {
      if (uid === undefined) pids.add(runChild(argv));
      else {
        const c = spawnSync(argv[0] as string, argv.slice(1), { uid, gid: uid, stdio: "ignore" });
        if (c.pid) pids.add(c.pid);
      }
    },
  };
}

describe("python_api", { skip: skipUnlessRoot }, () => {
  it("python_api/trace_print copies trace_pipe's raw lines", async () => {
    const { pids, run } = spawned();
    // "comm-PID [cpu] flags ts: bpf_trace_printk: msg" (an optional "(tgid)" column; comm may be <...>).
    const raw = (out: string): string | undefined =>
      out.split("\n").find((l) => {
        const m =
          /^\s*.+-(\d+)\s+(\(\s*[\d-]+\)\s+)?\[\d{3}\] \S+ +\d+\.\d+: (bpf_trace_printk|0): Hello, execve!$/.exec(
            l,
          );
        return m !== null && pids.has(Number(m[1]));
      });
    const r = await runExample("python_api/trace_print", {
      ready: () => true,
      activity: () => run(["/bin/true"]),
      until: (out) => raw(out) !== undefined,
    });
    assert.ok(r.matched, `no raw line for ${[...pids].join(", ")}:\n${r.stdout.slice(-2000)}\n${r.stderr}`);
    assert.equal(r.stderr, "");
  });

  it('python_api/trace_print --fmt "{1} {5}" prints the PID and the message', async () => {
    const { pids, run } = spawned();
    const line = (out: string): string | undefined =>
      out.split("\n").find((l) => pids.has(Number(l.split(" ")[0])));
    const r = await runExample("python_api/trace_print", {
      args: ["--fmt", "{1} {5}"],
      ready: () => true,
      activity: () => run(["/bin/true"]),
      until: (out) => line(out) !== undefined,
    });
    assert.ok(r.matched, `no line for ${[...pids].join(", ")}:\n${r.stdout.slice(-2000)}\n${r.stderr}`);
    assert.match(line(r.stdout) as string, /^\d+ Hello, execve!$/);
    for (const l of r.stdout.split("\n").filter(Boolean)) assert.match(l, /^\d+ Hello, execve!$/);
  });

  it("python_api/trace_fields prints TIME(s) COMM PID MESSAGE from the fields", async () => {
    const { pids, run } = spawned();
    const header = "TIME(s)            COMM             PID    MESSAGE";
    const row = (out: string): string | undefined =>
      out.split("\n").find((l) => pids.has(Number(l.slice(36, 42))));
    const r = await runExample("python_api/trace_fields", {
      ready: (out) => out.includes(header),
      activity: () => run(["/bin/true"]),
      until: (out) => row(out) !== undefined,
    });
    assert.ok(r.matched, `no row for ${[...pids].join(", ")}:\n${r.stdout.slice(-2000)}\n${r.stderr}`);
    assert.equal(r.stdout.split("\n")[0], header);
    // "%-18.9f %-16s %-6d %s"
    const l = row(r.stdout) as string;
    assert.match(l.slice(0, 19), /^\d+\.\d{9} +$/);
    assert.match(l.slice(19, 36), /^\S.{15} $/);
    assert.equal(l.slice(43), "Hello, trace_fields!");
  });

  it("python_api/task_switch counts (prev, next) pairs, ours among them, and prints them from items()", async () => {
    const { pids, run } = spawned();
    // The example prints once, at its end; sleeping children switch out with their own pid as prev.
    const r = await runExample("python_api/task_switch", {
      ready: () => true,
      activity: () => run(["/bin/sleep", "0.01"]),
      everyMs: 50,
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n").filter(Boolean);
    assert.ok(lines.length > 0, "some pairs");
    const pairs = lines.map((l) => {
      // "task_switch[%5d->%5d]=%u"
      const m = /^task_switch\[( *\d+)->( *\d+)\]=(\d+)$/.exec(l);
      assert.ok(m, l);
      assert.ok((m[1] as string).length >= 5 && (m[2] as string).length >= 5, l);
      assert.ok(Number(m[3]) > 0, l);
      return { prev: Number(m[1]), next: Number(m[2]) };
    });
    assert.equal(
      new Set(lines.map((l) => l.slice(0, l.indexOf("=")))).size,
      lines.length,
      "one line per pair",
    );
    assert.ok(
      pairs.some((p) => pids.has(p.prev)),
      `no switch away from ${[...pids].join(", ")} in:\n${lines.slice(0, 50).join("\n")}`,
    );
    assertMechanism("task_switch", r.stderr, "kprobe", /using tracepoint sched:sched_switch instead$/);
  });

  it("python_api/map_values_sample prints keys() and values() of the root / non-root counters", async () => {
    const { run } = spawned();
    const last = (out: string): number[] | undefined => {
      const v = out
        .split("\n")
        .filter((l) => l.startsWith("values(): "))
        .pop();
      return v ? (JSON.parse(v.slice("values(): ".length)) as number[]) : undefined;
    };
    let nonRoot = 0;
    const r = await runExample("python_api/map_values_sample", {
      ready: () => true,
      activity: () => {
        run(["/bin/true"]);
        run(["/bin/true"], 65534);
        nonRoot++;
      },
      until: (out) => {
        const v = last(out);
        return v !== undefined && (v[0] ?? 0) > 0 && (v[1] ?? 0) > 0;
      },
    });
    assert.ok(r.matched, `${r.stdout}\n${r.stderr}`);
    const lines = r.stdout.split("\n").filter(Boolean);
    for (let k = 0; k < lines.length; k += 2) {
      assert.equal(lines[k], "keys():   [0, 1]");
      assert.match(lines[k + 1] ?? "", /^values\(\): \[\d+, \d+\]$/);
      // Only this test execs as a non-root user here: the counter never exceeds its execs.
      const v = JSON.parse((lines[k + 1] as string).slice("values(): ".length)) as number[];
      assert.ok(
        (v[1] as number) <= nonRoot,
        `non-root counter ${v[1]} > the test's ${nonRoot} execs as uid 65534`,
      );
    }
    assertMechanism(
      "map_values_sample",
      r.stderr,
      "kprobe",
      /using tracepoint syscalls:sys_enter_execve instead$/,
    );
  });

  it("python_api/symbols resolves kernel symbols both ways and the stacks of a process's openat calls", async () => {
    // The kernel and user stacks share one stack map, whose bucket is the stack's hash modulo its
    // size: when both land in one bucket, get_stackid fails with EEXIST for the second one and the
    // example prints "[Missed Kernel Stack]" for as long as that process runs. The user stack's
    // addresses move with ASLR, so a new target process draws a new bucket (about 1 run in 1,000).
    for (let attempt = 1; ; attempt++) {
      const collided = await symbolsRun(attempt === 3);
      if (!collided) break;
    }
  });

  /** One run against a new target; true when its stack collided with the other in the map (and `last` is false). */
  async function symbolsRun(last: boolean): Promise<boolean> {
    const target = spawn("/bin/sh", ["-c", "while :; do : < /etc/hostname; sleep 0.1; done"], {
      stdio: "ignore",
    });
    const pid = target.pid as number;
    try {
      const stack = new RegExp(`^    sh \\[${pid}\\]\\n        \\d+$`, "m");
      const r = await runExample("python_api/symbols", {
        args: [String(pid)],
        until: (out) => stack.test(out),
      });
      assert.ok(r.matched, `${r.stdout}\n${r.stderr}`);
      const out = r.stdout;
      const m = /^ksymname\((\w+)\) = 0x([0-9a-f]+)$/m.exec(out);
      assert.ok(m, out);
      const [, fn, hex] = m as unknown as [string, string, string];
      assert.match(fn, /^(__\w+_)?sys_openat$/);
      // The address /proc/kallsyms has for it.
      const kallsyms = readFileSync("/proc/kallsyms", "utf8");
      assert.match(kallsyms, new RegExp(`^0*${hex} [tT] ${fn}$`, "m"));
      assert.match(out, new RegExp(`^ksym\\(0x${hex}\\) = ${fn}$`, "m"));
      const plus4 = (BigInt(`0x${hex}`) + 4n).toString(16);
      assert.match(out, new RegExp(`^ksym\\(0x${plus4}, showOffset\\) = ${fn}\\+0x4$`, "m"));
      assert.match(out, new RegExp(`^numOpenKprobes\\(\\) = ${kernelHas("kprobe") ? 1 : 0}$`, "m"));
      assert.match(out, new RegExp(`^Tracing openat of PID ${pid}\\.\\.\\. Hit Ctrl-C to end\\.$`, "m"));
      // One stack block: kernel frames (ksym with offsets), "--", user frames (sym with module), comm [pid], count.
      const frames = out.slice(0, out.search(stack)).split("\n\n").pop()?.split("\n").filter(Boolean) ?? [];
      const sep = frames.indexOf("    --");
      if (!last && frames[0] === "    [Missed Kernel Stack]" && sep === 1) return true;
      assert.ok(sep > 0, `kernel frames, then "--":\n${frames.join("\n")}`);
      assert.ok(!frames.includes("    [Missed Kernel Stack]"), frames.join("\n"));
      for (const f of frames.slice(0, sep)) assert.match(f, /^ {4}\w[\w.]*\+0x[0-9a-f]+$/);
      assert.ok(
        frames.slice(0, sep).some((f) => /do_syscall_64|entry_SYSCALL/.test(f)),
        frames.join("\n"),
      );
      // The innermost user frame is libc's open wrapper (the shell's redirection).
      assert.match(frames[sep + 1] ?? "", /^ {4}\w*open\w*\+0x[0-9a-f]+ \[libc\.so\.6\]$/);
      assertMechanism("symbols", r.stderr, "kprobe", /using tracepoint syscalls:sys_enter_openat instead$/);
      return false;
    } finally {
      target.kill();
    }
  }

  for (const id of ["python_api/task_switch", "python_api/map_values_sample", "python_api/symbols"]) {
    it(`${id} --strict fails with the typed error where kprobes are missing`, (t) => {
      if (kernelHas("kprobe")) {
        t.skip("this kernel has kprobes: --strict runs the original");
        return;
      }
      const program = id.slice(id.indexOf("/") + 1);
      const r = runExampleSync(id, id.endsWith("symbols") ? ["--strict", "1"] : ["--strict"]);
      assert.equal(r.status, 1);
      assert.match(
        r.stderr,
        new RegExp(
          `^${program}: NotSupportedError: kprobes are not available on this kernel \\(.*CONFIG_KPROBES is off\\)`,
        ),
      );
    });
  }
});
