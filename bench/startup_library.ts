/**
 * The library's start, for bench/startup.ts: a script as a user writes one.
 * It imports the package by its name ("tsbpf", i.e. package.json's exports:
 * dist/bundle/index.mjs, which runs the library bundle through V8's code
 * cache), compiles a bcc program that reports each execve's first argument
 * through a perf buffer, and prints one row per event until it is killed.
 */
import type * as Tsbpf from "../src/index.js";

// (a variable: given the literal, tsc would resolve the package's types at build time,
// before dist/src/index.d.ts exists)
const PACKAGE = "tsbpf";
const { BPF } = (await import(PACKAGE)) as typeof Tsbpf;

const b = await BPF.load({
  text: `
struct data_t { u32 pid; char arg[32]; };
BPF_PERF_OUTPUT(events);
TRACEPOINT_PROBE(syscalls, sys_enter_execve)
{
    struct data_t d = {};
    const char *arg = NULL;
    d.pid = bpf_get_current_pid_tgid() >> 32;
    bpf_probe_read_user(&arg, sizeof(arg), &args->argv[1]);
    if (arg)
        bpf_probe_read_user_str(d.arg, sizeof(d.arg), arg);
    events.perf_submit(args, &d, sizeof(d));
    return 0;
}`,
});
const events = b.getTable<Tsbpf.PerfEventArray>("events");
events.openPerfBuffer((_cpu, data) => {
  const e = events.event(data) as { pid: number; arg: string };
  process.stdout.write(`${e.pid} ${e.arg}\n`);
});
