/**
 * Chapter 14: turning addresses into names. ksymname(name) gives a kernel
 * symbol's address and ksym(addr) the kernel function containing an
 * address; sym(addr, pid) does the same for an address in a user process
 * (its executable and shared libraries); numOpenKprobes() says how many
 * kprobes the program has attached.
 *
 * The program counts the openat calls of process PID by kernel and user
 * stack (BPF_STACK_TRACE); every second user space prints each stack, the
 * kernel frames through ksym and the user frames through sym, and clears
 * the counts.
 *
 * On a kernel without kprobes it says so in one line on stderr and attaches
 * the same function to the syscalls:sys_enter_openat tracepoint instead
 * (numOpenKprobes() is then 0); with --strict it fails with the
 * NotSupportedError.
 *
 *   tsbpf example python_api/symbols [--duration SECONDS] [--strict] PID
 */

import { printf } from "../../src/format/printf.js";
import { BPF, type StackTrace, stackIdErr } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

/** The C text; PID_FILTER is replaced before loading. */
export const bpfText = `
#include <uapi/linux/ptrace.h>
#include <linux/sched.h>

struct key_t {
    u32 pid;
    int user_stack_id;
    int kernel_stack_id;
    char comm[TASK_COMM_LEN];
};

BPF_STACK_TRACE(stack_traces, 1024);
BPF_HASH(counts, struct key_t, u64);

int trace_openat(struct pt_regs *ctx)
{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    if (pid != PID_FILTER)
        return 0;

    struct key_t key = {};
    key.pid = pid;
    key.user_stack_id = stack_traces.get_stackid(ctx, BPF_F_USER_STACK);
    key.kernel_stack_id = stack_traces.get_stackid(ctx, 0);
    bpf_get_current_comm(&key.comm, sizeof(key.comm));
    counts.increment(key);
    return 0;
}
`;

interface Key {
  pid: number;
  user_stack_id: number;
  kernel_stack_id: number;
  comm: string;
}

export const example = defineExample({ name: "python_api/symbols", usage: "PID" }, async (ctx) => {
  const pid = Number(ctx.args[0]);
  if (ctx.args.length !== 1 || !Number.isInteger(pid) || pid <= 0)
    throw new Error("usage: python_api/symbols [--duration SECONDS] [--strict] PID");

  await using b = await BPF.load({ text: bpfText.replace("PID_FILTER", String(pid)) });
  const openat = b.getSyscallFnname("openat");
  await ctx.fallback(
    () => b.attachKprobe({ event: openat, fnName: "trace_openat" }),
    "tracepoint syscalls:sys_enter_openat",
    () => b.attachTracepoint({ tp: "syscalls:sys_enter_openat", fnName: "trace_openat" }),
  );

  // A kernel symbol both ways.
  const addr = b.ksymname(openat);
  if (addr === undefined) printf("ksymname(%s) = (not found)\n", openat);
  else {
    printf("ksymname(%s) = 0x%x\n", openat, addr);
    printf("ksym(0x%x) = %s\n", addr, b.ksym(addr));
    printf("ksym(0x%x, showOffset) = %s\n", addr + 4n, b.ksym(addr + 4n, { showOffset: true }));
  }
  printf("numOpenKprobes() = %d\n", b.numOpenKprobes());
  printf("Tracing openat of PID %d... Hit Ctrl-C to end.\n", pid);

  const counts = b.table("counts");
  const stacks = b.table<StackTrace>("stack_traces");
  while (await ctx.sleep(1000)) {
    for (const [k, v] of counts.items()) {
      const key = k as Key;
      printf("\n");
      // Innermost frame first: the kernel part, then the user part.
      if (key.kernel_stack_id >= 0) {
        for (const a of stacks.walk(key.kernel_stack_id)) printf("    %s\n", b.ksym(a, { showOffset: true }));
      } else if (stackIdErr(key.kernel_stack_id)) {
        // get_stackid failed (EEXIST: another stack holds its hash bucket), as bcc's tools print it.
        printf("    [Missed Kernel Stack]\n");
      }
      printf("    --\n");
      if (key.user_stack_id >= 0) {
        for (const a of stacks.walk(key.user_stack_id))
          printf("    %s\n", b.sym(a, key.pid, { showOffset: true, showModule: true }));
      } else if (stackIdErr(key.user_stack_id)) printf("    [Missed User Stack]\n");
      printf("    %s [%d]\n        %d\n", key.comm, key.pid, v as bigint);
    }
    counts.clear();
  }
});

runIfMain(import.meta.url, example);
