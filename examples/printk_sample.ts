/**
 * The seed: bcc's printk_sample in TypeScript. A kprobe on the execve syscall
 * prints "start of execve ..." with bpf_trace_printk; user space reads
 * trace_pipe and prints one row per execve.
 *
 * On a kernel without kprobes (CONFIG_KPROBES off) it says so in one line on
 * stderr and attaches the same function to the syscalls:sys_enter_execve
 * tracepoint instead; with --strict it fails with the NotSupportedError.
 *
 *   node dist/examples/printk_sample.js [--duration SECONDS] [--strict]
 */
import { BPF, NotSupportedError, printf } from "../src/index.js";

/** The C text of the original, unchanged. */
export const bpfText = `
#include <linux/sched.h>

struct data_t {
    u32 pid;
    char comm[TASK_COMM_LEN];
    u64 time;
};

int syscall__execve(struct pt_regs *ctx)
{
    struct data_t data = {};

    data.time = bpf_ktime_get_ns();
    data.pid = bpf_get_current_pid_tgid();
    bpf_get_current_comm(&data.comm, sizeof(data.comm));

    bpf_trace_printk("start of execve time = %ld , pid = %u, comm = %s\\n", data.time, data.pid, data.comm);
    return 0;
}
`;

export interface PrintkSampleOptions {
  /** Stop after this many seconds (default: until Ctrl-C). */
  duration?: number;
  /** Fail with the typed error instead of falling back to the tracepoint. */
  strict?: boolean;
  /** Stop when aborted. */
  signal?: AbortSignal;
}

/** Runs printk_sample; resolves when it stops (duration, signal, SIGINT or SIGTERM). */
export async function printkSample(opts: PrintkSampleOptions = {}): Promise<void> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  opts.signal?.addEventListener("abort", onSignal);
  const timer = opts.duration === undefined ? undefined : setTimeout(onSignal, opts.duration * 1000);

  await using b = await BPF.load({ text: bpfText, srcFile: undefined });
  const execve = b.getSyscallFnname("execve");
  try {
    b.attachKprobe({ event: execve, fnName: "syscall__execve" });
  } catch (err) {
    if (!(err instanceof NotSupportedError) || opts.strict) throw err;
    process.stderr.write(
      `printk_sample: ${err.feature} are not available on this kernel (${err.reason}); using tracepoint syscalls:sys_enter_execve instead\n`,
    );
    b.attachTracepoint({ tp: "syscalls:sys_enter_execve", fnName: "syscall__execve" });
  }

  printf("%-6s %-12s %s\n", "PID", "COMM", "OUTPUT");
  try {
    for await (const { task, pid, msg } of b.traceFields({ signal: stop.signal })) {
      printf("%-6d %-12.12s %s\n", pid, task, msg);
    }
  } finally {
    if (timer) clearTimeout(timer);
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}

/** Parses [--duration S] [--strict]. */
export function parseArgs(argv: string[]): PrintkSampleOptions {
  const opts: PrintkSampleOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--strict") opts.strict = true;
    else if (a === "--duration" || a === "-d") opts.duration = Number(argv[++i]);
    else if (a?.startsWith("--duration=")) opts.duration = Number(a.slice("--duration=".length));
    else throw new Error(`unknown argument ${a}; usage: printk_sample [--duration SECONDS] [--strict]`);
  }
  if (opts.duration !== undefined && !(opts.duration > 0))
    throw new Error("--duration needs a number of seconds > 0");
  return opts;
}

// Run when this file is the program (not when imported by the tsbpf CLI or bundled into it).
if (process.argv[1] && /printk_sample\.[cm]?js$/.test(process.argv[1])) {
  printkSample(parseArgs(process.argv.slice(2))).catch((err: unknown) => {
    process.stderr.write(
      `printk_sample: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}\n`,
    );
    process.exit(1);
  });
}
