/**
 * compile: cold and warm compile of a bcc program with implicit kernel reads,
 * against the same program written with BPF_CORE_READ and compiled by clang.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { native } from "../src/native.js";
import { median, report, round } from "./lib.js";

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
  const { compileBcc } = await import("../src/compile/compile.js");
  const runs = Math.max(3, Math.min(RUNS, 7));
  const cold: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-bench-cc-"));
    process.env.TSBPF_CACHE_DIR = dir;
    let t = performance.now();
    await compileBcc({ text: IMPLICIT, fileName: "implicit.c" });
    cold.push(performance.now() - t);
    t = performance.now();
    await compileBcc({ text: IMPLICIT, fileName: "implicit.c" });
    warm.push(performance.now() - t);
    rmSync(dir, { recursive: true, force: true });
  }
  delete process.env.TSBPF_CACHE_DIR;
  const work = mkdtempSync(join(tmpdir(), "tsbpf-bench-core-"));
  writeFileSync(join(work, "vmlinux.h"), native().btfDumpHeader("/sys/kernel/btf/vmlinux"));
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
    baseline_name: "BPF_CORE_READ by hand, clang with full vmlinux.h",
  };
  report({
    name: "compile bcc program with implicit kernel reads, cold (empty cache)",
    value: round(median(cold)),
    unit: "ms",
    ...base,
    runs,
  });
  report({
    name: "compile bcc program with implicit kernel reads, warm (cached)",
    value: round(median(warm), 2),
    unit: "ms",
    ...base,
    runs,
  });
}
