/**
 * startup: printk_sample from process start to attached (the header line is
 * printed right after the attach), cold and warm, with peak RSS (VmHWM of the
 * process at that moment), against bpftrace running the equivalent one-liner
 * (time to its BEGIN probe, which fires once every probe is attached).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { max, median, report, round, type Sample, timeToMarker } from "./lib.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

export async function startupBench(RUNS: number): Promise<void> {
  // What `npm start` runs: the tsbpf command, bundled into one file.
  const sample = [process.execPath, join(root, "dist/bundle/tsbpf.mjs"), "printk-sample"];
  const header = "PID    COMM         OUTPUT";

  const bpftraceVersion = spawnSync("bpftrace", ["--version"], { encoding: "utf8" });
  const haveBpftrace = bpftraceVersion.status === 0;
  const bt: Sample[] = [];
  if (haveBpftrace) {
    const prog =
      'BEGIN { printf("ready\\n"); } tracepoint:syscalls:sys_enter_execve ' +
      '{ printf("start of execve time = %ld , pid = %u, comm = %s\\n", nsecs, pid, comm); }';
    for (let i = 0; i < RUNS; i++) bt.push(await timeToMarker(["bpftrace", "-e", prog], "ready"));
  } else {
    process.stderr.write("bench: bpftrace is not installed (scripts/bootstrap.sh --bench installs it)\n");
  }
  const btName = haveBpftrace
    ? `bpftrace ${bpftraceVersion.stdout.trim().replace(/^bpftrace /, "")}`
    : "bpftrace";
  const btMs = bt.length ? round(median(bt.map((s) => s.ms))) : null;
  const btRss = bt.length ? round(max(bt.map((s) => s.rssKb)) / 1024) : null;

  // Cold: nothing cached (vmlinux subset, compile, object).
  const cold: Sample[] = [];
  for (let i = 0; i < Math.max(3, Math.floor(RUNS / 2)); i++) {
    const dir = mkdtempSync(join(tmpdir(), "tsbpf-bench-"));
    cold.push(await timeToMarker(sample, header, { TSBPF_CACHE_DIR: dir }));
    rmSync(dir, { recursive: true, force: true });
  }
  // Warm: everything cached (one run first fills the cache).
  const dir = mkdtempSync(join(tmpdir(), "tsbpf-bench-"));
  await timeToMarker(sample, header, { TSBPF_CACHE_DIR: dir });
  const warm: Sample[] = [];
  for (let i = 0; i < RUNS; i++) warm.push(await timeToMarker(sample, header, { TSBPF_CACHE_DIR: dir }));
  rmSync(dir, { recursive: true, force: true });

  const base = { baseline: btMs, baseline_name: btName };
  report({
    name: "startup printk_sample cold, median",
    value: round(median(cold.map((s) => s.ms))),
    unit: "ms",
    ...base,
    target: "<= 300",
    runs: cold.length,
  });
  report({
    name: "startup printk_sample warm, median",
    value: round(median(warm.map((s) => s.ms))),
    unit: "ms",
    ...base,
    target: "<= 80",
    runs: warm.length,
  });
  report({
    name: "startup printk_sample peak RSS",
    value: round(max([...cold, ...warm].map((s) => s.rssKb)) / 1024),
    unit: "MB",
    baseline: btRss,
    baseline_name: btName,
    target: "<= 70",
  });
}
