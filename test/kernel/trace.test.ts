/**
 * trace_pipe readers, the tsbpf command, and the README's example.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, constants, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import ts from "typescript";
import { BPF, DEBUG_SOURCE } from "../../src/index.js";
import { repoRoot, runChild, skipUnlessRoot, startNode, waitFor } from "../helpers.js";

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
    const r = startNode("bundle/tsbpf.mjs", ["printk-sample", "--duration", "2"]);
    await waitFor(() => r.stdout().includes("PID    COMM         OUTPUT"), 20_000);
    const pid = runChild();
    await waitFor(() => r.stdout().includes(`pid = ${pid},`), 5000);
    const { code } = await r.exited;
    assert.equal(code, 0, r.stderr());
    assert.match(r.stdout(), new RegExp(`^${pid}\\s`, "m"));

    const tp = spawnSync(
      process.execPath,
      [join(repoRoot, "dist/bundle/tsbpf.mjs"), "tplist", "^sched:sched_switch$"],
      {
        encoding: "utf8",
      },
    );
    assert.equal(tp.stdout, "sched:sched_switch\n");
    const bad = spawnSync(process.execPath, [join(repoRoot, "dist/bundle/tsbpf.mjs"), "nope"], {
      encoding: "utf8",
    });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /unknown command "nope"/);
  });

  it("the README's example runs as written", () => {
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const block = /## Using it\s+```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, "README has a ts block under 'Using it'");
    // Runs from inside the package so that `import "tsbpf"` resolves to itself.
    const path = join(repoRoot, "dist", "readme-example.mjs");
    // Node 20 has no `await using` syntax: compile the snippet as tsc would.
    const js = ts.transpileModule(block.replace("AbortSignal.timeout(10_000)", "AbortSignal.timeout(1500)"), {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
    }).outputText;
    writeFileSync(path, js);
    const r = spawnSync(process.execPath, [path], { encoding: "utf8", timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
  });
});
