/**
 * compile: cold and warm compile of a bcc program with implicit kernel reads,
 * against the same program written with BPF_CORE_READ and compiled by clang.
 * Each cold sample is a fresh Node process (bench/compile_once.ts), as each
 * clang sample is a fresh clang process: nothing a previous sample parsed
 * (the kernel's BTF, loaded modules) is left in memory.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { native } from "../src/native.js";
import { median, report, round } from "./lib.js";

const once = fileURLToPath(new URL("./compile_once.js", import.meta.url));

/** compile_once.js's line (ms). */
interface OnceResult {
  node_ms: number;
  import_ms: number;
  cold_ms: number;
}

/** Runs compile_once.js with cache as TSBPF_CACHE_DIR: its line, and the wall time from spawn() to its exit. */
function compileOnce(text: string, cache: string): Promise<OnceResult & { wall_ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [once, text], {
      env: { ...process.env, TSBPF_CACHE_DIR: cache },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on("data", (b: Buffer) => {
      err += b.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      const wall = performance.now() - t0;
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (code !== 0 || !line) reject(new Error(`compile_once.js exited ${code}: ${err}`));
      else resolve({ ...(JSON.parse(line) as OnceResult), wall_ms: wall });
    });
  });
}

const IMPLICIT = `
#include <linux/sched.h>
RAW_TRACEPOINT_PROBE(sched_process_exec)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    u32 ppid = t->real_parent->tgid;
    u32 uid = t->cred->uid.val;
    bpf_trace_printk("ppid %d uid %d", ppid, uid);
    return 0;
}`;

const CORE_READ = `
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
SEC("raw_tracepoint/sched_process_exec")
int on_exec(void *ctx)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    u32 ppid = BPF_CORE_READ(t, real_parent, tgid);
    u32 uid = BPF_CORE_READ(t, cred, uid.val);
    bpf_printk("ppid %d uid %d", ppid, uid);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";`;

/**
 * The cost of bcc's implicit kernel reads: compiling a bcc program that
 * dereferences kernel pointers directly (tsbpf rewrites them into probe
 * reads, driven by clang's AST), cold (empty cache) and warm (cached),
 * against the same program written by hand with BPF_CORE_READ and compiled
 * straight with clang against the full vmlinux.h (libbpf's usual workflow).
 */
export async function compileBench(RUNS: number): Promise<void> {
  const runs = Math.max(3, Math.min(RUNS, 7));
  // cold: a fresh process per sample, twice: with an empty cache (the first compile on a machine,
  // which also fills the cache's per-machine tables: macro names, shims), then with that cache less
  // the compiled object (a program not compiled before, on a machine where tsbpf has run)
  const first: Array<OnceResult & { wall_ms: number }> = [];
  const fresh: Array<OnceResult & { wall_ms: number }> = [];
  for (let i = 0; i < runs; i++) {
    const cache = mkdtempSync(join(tmpdir(), "tsbpf-bench-cc-"));
    first.push(await compileOnce(IMPLICIT, cache));
    rmSync(join(cache, "objects"), { recursive: true, force: true });
    fresh.push(await compileOnce(IMPLICIT, cache));
    rmSync(cache, { recursive: true, force: true });
  }
  // warm, in this process: an empty cache, a compile (this process's cold samples: kept for
  // comparison, the first loads what the later ones find in memory), then the same again (cached)
  const { compileBcc } = await import("../src/compile/compile.js");
  const sameProcess: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-bench-cc-"));
    process.env.TSBPF_CACHE_DIR = dir;
    let t = performance.now();
    await compileBcc({ text: IMPLICIT, fileName: "implicit.c" });
    sameProcess.push(performance.now() - t);
    t = performance.now();
    await compileBcc({ text: IMPLICIT, fileName: "implicit.c" });
    warm.push(performance.now() - t);
    rmSync(dir, { recursive: true, force: true });
  }
  delete process.env.TSBPF_CACHE_DIR;
  const work = mkdtempSync(join(tmpdir(), "tsbpf-bench-core-"));
  // once per machine in libbpf's workflow too (bpftool btf dump): timed, not part of the baseline
  const tDump = performance.now();
  writeFileSync(join(work, "vmlinux.h"), native().btfDumpHeader("/sys/kernel/btf/vmlinux"));
  const dumpMs = performance.now() - tDump;
  writeFileSync(join(work, "prog.bpf.c"), CORE_READ);
  const clangRuns: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    execFileSync("clang", [
      "-target",
      "bpf",
      "-O2",
      "-g",
      "-D__TARGET_ARCH_x86",
      `-I${work}`,
      "-c",
      join(work, "prog.bpf.c"),
      "-o",
      join(work, "prog.bpf.o"),
    ]);
    clangRuns.push(performance.now() - t);
  }
  rmSync(work, { recursive: true, force: true });
  const base = {
    baseline: round(median(clangRuns)),
    baseline_name: "BPF_CORE_READ by hand, clang with full vmlinux.h (a clang process)",
    baseline_samples: clangRuns.map((x) => round(x)),
  };
  const fields = (rs: Array<OnceResult & { wall_ms: number }>): Record<string, number | number[]> => ({
    samples: rs.map((r) => round(r.cold_ms)),
    // the whole process, as clang's baseline is: Node's start, loading the modules, the compile, the exit
    process_ms: round(median(rs.map((r) => r.wall_ms))),
    process_samples: rs.map((r) => round(r.wall_ms)),
    node_start_ms: round(median(rs.map((r) => r.node_ms))),
    import_ms: round(median(rs.map((r) => r.import_ms))),
  });
  report({
    name: "compile bcc program with implicit kernel reads, first compile (empty cache), fresh process: compileBcc call",
    value: round(median(first.map((r) => r.cold_ms))),
    unit: "ms",
    ...base,
    ...fields(first),
    baseline_vmlinux_h_ms: round(dumpMs),
    runs,
  });
  report({
    name: "compile bcc program with implicit kernel reads, cold (object not cached, the first compile's machine caches filled), fresh process: compileBcc call",
    value: round(median(fresh.map((r) => r.cold_ms))),
    unit: "ms",
    ...base,
    ...fields(fresh),
    // empty caches, one process compiling again and again (the old figure: only its first sample
    // extracts the macros and parses the kernel's BTF; the later ones find them in memory)
    same_process_samples: sameProcess.map((x) => round(x)),
    runs,
  });
  report({
    name: "compile bcc program with implicit kernel reads, warm (cached), in-process",
    value: round(median(warm), 2),
    unit: "ms",
    ...base,
    samples: warm.map((x) => round(x, 2)),
    runs,
  });
}
