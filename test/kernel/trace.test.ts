/**
 * trace_pipe readers, the tsbpf command, and the README's example.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, constants, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import ts from "typescript";
import { BPF, DEBUG_SOURCE } from "../../src/index.js";
import {
  type Running,
  repoRoot,
  runChild,
  skipUnlessRoot,
  startNode,
  testTempDir,
  waitFor,
} from "../helpers.js";

const PROG = `
int on_exec(void *ctx)
{
    bpf_trace_printk("tsbpf-trace pid=%d", (u32)(bpf_get_current_pid_tgid() >> 32));
    return 0;
}`;

describe("trace_pipe and tools", { skip: skipUnlessRoot }, () => {
  it("tracePrint formats fields with bcc's {0}..{5}, traceReadline gives raw lines", async () => {
    await using b = await BPF.load({ text: PROG });
    b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "on_exec" });
    while (b.traceFieldsNonBlocking() !== undefined);
    const pid = runChild();
    const ac = new AbortController();
    const printed: string[] = [];
    const timer = setTimeout(() => ac.abort(), 5000);
    await b.tracePrint({
      fmt: "{1} {5}",
      signal: ac.signal,
      write: (s) => {
        printed.push(s);
        if (s.startsWith(`${pid} `)) ac.abort();
      },
    });
    clearTimeout(timer);
    assert.ok(printed.includes(`${pid} tsbpf-trace pid=${pid}\n`), printed.join(""));

    const pid2 = runChild();
    let raw: string | undefined;
    for (let i = 0; i < 1000; i++) {
      raw = await b.traceReadline({ signal: AbortSignal.timeout(5000) });
      if (raw === undefined || raw.includes(`pid=${pid2}`)) break;
    }
    assert.match(
      raw ?? "",
      new RegExp(`-${pid2}\\s+.*\\[\\d+\\].*: bpf_trace_printk: tsbpf-trace pid=${pid2}$`),
    );
  });

  it("a second reader of trace_pipe gets a clear error, not EBUSY", async () => {
    const fd = openSync("/sys/kernel/tracing/trace_pipe", constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const r = spawnSync(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          `import { BPF } from ${JSON.stringify(join(repoRoot, "dist/src/index.js"))};
           const b = await BPF.load({ text: "int f(void *ctx) { return 0; }" });
           try { b.traceFieldsNonBlocking(); } catch (err) { console.log(err.name + ": " + err.message + " " + err.code); }
           b.close();`,
        ],
        { encoding: "utf8" },
      );
      assert.match(r.stdout, /^BpfError: .*trace_pipe is being read by another process .* EBUSY$/m, r.stderr);
    } finally {
      closeSync(fd);
    }
  });

  it("DEBUG_SOURCE prints the translated C", async () => {
    const r = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { BPF, DEBUG_SOURCE } from ${JSON.stringify(join(repoRoot, "dist/src/index.js"))};
         const b = await BPF.load({ text: "int f(void *ctx) { return 0; }", debug: DEBUG_SOURCE }); b.close();`,
      ],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /__attribute__\(\(section\("tsbpf\/f"\), used\)\) int f\(void \*ctx\)/);
    assert.equal(DEBUG_SOURCE, 8);
  });

  it("passes cflags to clang", async () => {
    await using b = await BPF.load({
      text: "int f(void *ctx) { return VALUE; }\n",
      cflags: ["-DVALUE=0"],
    });
    assert.ok(b.loadFunc("f", BPF.TRACEPOINT).fd > 0);
  });

  it("lists kprobe-able kernel functions", () => {
    const fns = BPF.getKprobeFunctions(/^vfs_read$/);
    assert.deepEqual(fns, ["vfs_read"]);
  });

  it("tsbpf printk-sample runs and stops after --duration; tsbpf tplist lists tracepoints", async () => {
    const r = startNode("bundle/tsbpf.cjs", ["printk-sample", "--duration", "5"]);
    await waitFor(() => r.stdout().includes("PID    COMM         OUTPUT"), 20_000);
    // Execs until one is printed (the window is 5 s; a slow machine prints later, not never).
    const pids: number[] = [];
    const printed = await waitFor(
      () => {
        pids.push(runChild());
        return pids.some((p) => r.stdout().includes(`pid = ${p},`));
      },
      5000,
      100,
    );
    const { code } = await r.exited;
    assert.equal(code, 0, r.stderr());
    assert.ok(printed, r.stdout());
    const pid = pids.find((p) => r.stdout().includes(`pid = ${p},`));
    assert.match(r.stdout(), new RegExp(`^${pid}\\s`, "m"));

    const tp = spawnSync(
      process.execPath,
      [join(repoRoot, "dist/bundle/tsbpf.cjs"), "tplist", "^sched:sched_switch$"],
      {
        encoding: "utf8",
      },
    );
    assert.equal(tp.stdout, "sched:sched_switch\n");
    const bad = spawnSync(process.execPath, [join(repoRoot, "dist/bundle/tsbpf.cjs"), "nope"], {
      encoding: "utf8",
    });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /unknown command "nope"/);
  });

  it("the README's first example runs as written, printing the row of an execve the test causes", async () => {
    const run = startReadmeBlock("## Using it", [
      ["AbortSignal.timeout(10_000)", "AbortSignal.timeout(8000)"],
    ]);
    const pids: number[] = [];
    const row = (): string | undefined =>
      pids
        .map(
          (pid) =>
            new RegExp(`^${pid}\\s+true\\s+start of execve, pid = ${pid}$`, "m").exec(run.stdout())?.[0],
        )
        .find((l) => l !== undefined);
    // Execs until one is printed: the program compiles and attaches meanwhile.
    const found = await waitFor(
      () => {
        pids.push(runChild(["/bin/true"]));
        return row() !== undefined;
      },
      30_000,
      200,
    );
    const { code } = await run.exited;
    assert.ok(
      found,
      `no row for any of ${pids.length} execs of /bin/true:\n${run.stdout()}\n${run.stderr()}`,
    );
    assert.equal(code, 0, run.stderr());
  });

  it("the README's maps example runs as written: events, counts, histogram, folded, SVG and pprof of the test's writes", async () => {
    const dir = testTempDir("tsbpf-readme");
    const run = startReadmeBlock(
      "### Maps and event streams",
      [["setTimeout(r, 10_000)", "setTimeout(r, 4000)"]],
      dir,
    );
    // dd writes five blocks of 1000 bytes (status=none: nothing else), again and again until the run ends.
    const dds: number[] = [];
    let ended = false;
    void run.exited.then(() => {
      ended = true;
    });
    await waitFor(
      () => {
        dds.push(runChild(["/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=1000", "count=5", "status=none"]));
        return ended;
      },
      60_000,
      100,
    );
    const { code } = await run.exited;
    assert.equal(code, 0, run.stderr());
    const out = run.stdout();
    const seen = dds.filter((pid) => out.includes(`{ pid: ${pid}, comm: 'dd' }`));
    assert.ok(seen.length > 0, `no event of the ${dds.length} dd runs:\n${out.slice(0, 2000)}`);
    for (const pid of seen) {
      const n = out.split("\n").filter((l) => l === `{ pid: ${pid}, comm: 'dd' }`).length;
      assert.equal(n, 5, `dd ${pid}: five events`);
      assert.match(out, new RegExp(`^${pid} dd 5n$`, "m"), `dd ${pid}: counted five times`);
    }
    // 1000-byte writes land in the 512 -> 1023 row of the histogram.
    const row = /^\s+512 -> 1023\s+: (\d+)/m.exec(out);
    assert.ok(row && Number(row[1]) >= 5 * seen.length, out.slice(-1500));
    const folded = readFileSync(join(dir, "writes.folded"), "utf8");
    // dd has exited when the stacks are symbolized: its user frames are [unknown]; the kernel's are named
    // (a stack the 1024-entry stack map had no room for is "[Missed Kernel Stack]", as in bcc).
    assert.match(folded, /^dd;.* \d+$/m, `dd's stacks:\n${folded.slice(0, 3000)}`);
    assert.match(folded, /;do_syscall_64;.* \d+$/m, "kernel frames named");
    assert.match(readFileSync(join(dir, "writes.svg"), "utf8"), /<svg[\s\S]*dd[\s\S]*<\/svg>/);
    const pb = gunzipSync(readFileSync(join(dir, "writes.pb.gz")));
    assert.ok(pb.includes(Buffer.from("dd")), "the profile names dd");
  });
});

/**
 * Runs the README's first ts block under heading (after the replacements) as a module inside
 * the package, so that `import "tsbpf"` resolves to itself; cwd: where its files go.
 */
function startReadmeBlock(heading: string, replace: Array<[string, string]>, cwd?: string): Running {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const at = readme.indexOf(`${heading}\n`);
  assert.ok(at >= 0, `README has a section ${heading}`);
  let block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at))?.[1];
  assert.ok(block, `README has a ts block under ${heading}`);
  for (const [from, to] of replace) {
    assert.ok(block.includes(from), `the block says ${from}`);
    block = block.replace(from, to);
  }
  // Node 20 has no `await using` syntax: compile the snippet as tsc would.
  const js = ts.transpileModule(block, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  }).outputText;
  const name = `readme-${heading
    .replace(/[^a-z]+/gi, "-")
    .replace(/^-|-$/g, "")
    .toLowerCase()}.mjs`;
  writeFileSync(join(repoRoot, "dist", name), js);
  return startNode(name, [], {}, undefined, cwd);
}
