/**
 * Chapter 14: counting context switches by (previous, next) task. The
 * original puts a kprobe on finish_task_switch(prev), which runs in the
 * task being switched to, keys a BPF_HASH by (prev->pid, current pid),
 * sleeps a hundred times 10 ms to cause switches of its own, then prints
 * every pair with its count from items(). The kernel may have renamed the
 * function (finish_task_switch.isra.0 when gcc specialised it), so the
 * kprobe is attached by regular expression.
 *
 * On a kernel without kprobes it says so in one line on stderr and counts
 * the same pairs on the sched:sched_switch tracepoint instead (it runs in
 * the task being switched from, and names both pids); with --strict it
 * fails with the NotSupportedError.
 *
 *   tsbpf example python_api/task_switch [--strict]
 */

import { printf } from "../../src/format/printf.js";
import { BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const bpfText = `
#include <uapi/linux/ptrace.h>
#include <linux/sched.h>

struct key_t {
    u32 prev_pid;
    u32 curr_pid;
};

BPF_HASH(stats, struct key_t, u64, 1024);

/* kprobe on finish_task_switch(struct task_struct *prev): current is the next task. */
int count_sched(struct pt_regs *ctx, struct task_struct *prev)
{
    struct key_t key = {};
    u64 zero = 0, *val;

    key.curr_pid = bpf_get_current_pid_tgid();
    key.prev_pid = prev->pid;

    val = stats.lookup_or_try_init(&key, &zero);
    if (val)
        (*val)++;
    return 0;
}

/* The same count on tracepoint sched:sched_switch: current is still the previous task. */
int count_sched_tp(struct tracepoint__sched__sched_switch *args)
{
    struct key_t key = {};
    u64 zero = 0, *val;

    key.prev_pid = args->prev_pid;
    key.curr_pid = args->next_pid;

    val = stats.lookup_or_try_init(&key, &zero);
    if (val)
        (*val)++;
    return 0;
}
`;

interface Key {
  prev_pid: number;
  curr_pid: number;
}

export const example = defineExample({ name: "python_api/task_switch" }, async (ctx) => {
  await using b = await BPF.load({ text: bpfText });
  await ctx.fallback(
    () =>
      b.attachKprobe({
        eventRe: /^finish_task_switch$|^finish_task_switch\.isra\.\d+$/,
        fnName: "count_sched",
      }),
    "tracepoint sched:sched_switch",
    () => b.attachTracepoint({ tp: "sched:sched_switch", fnName: "count_sched_tp" }),
  );

  // Cause some switches of our own: a hundred sleeps of 10 ms.
  for (let i = 0; i < 100; i++) if (!(await ctx.sleep(10))) break;

  for (const [k, v] of b.table("stats").items()) {
    const key = k as Key;
    printf("task_switch[%5d->%5d]=%u\n", key.prev_pid, key.curr_pid, v as bigint);
  }
});

runIfMain(import.meta.url, example);
