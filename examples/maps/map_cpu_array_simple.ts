/**
 * Chapter 13, Maps: map_cpu_array_simple. A BPF_PERCPU_ARRAY with one entry
 * counts IPv4 TCP connects (kprobe on tcp_v4_connect), a counter per CPU;
 * each connect also prints a line with bpf_trace_printk, shown as the
 * trace_fields rows of chapter 1. When the program stops it prints the total
 * over all CPUs (sum(0)) and then the value of each online CPU (getvalue(0)).
 *
 * The original indexes getvalue(0) with 0..len(get_online_cpus())-1, which is
 * wrong when the online CPUs are not numbered contiguously (a CPU taken
 * offline): here it walks the online CPU numbers themselves.
 *
 * On a kernel without kprobes (CONFIG_KPROBES off) it says so in one line on
 * stderr and counts on the sock:inet_sock_set_state tracepoint instead,
 * keeping its CLOSE -> SYN_SENT transitions of IPv4 TCP sockets: that change
 * is made inside tcp_v4_connect, by the connecting task. With --strict it
 * fails with the NotSupportedError.
 *
 *   tsbpf example maps/map_cpu_array_simple [--duration S] [--strict]
 */

import { printf } from "../../src/format/printf.js";
import { BPF, onlineCpus, type PerCpuArray } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const bpfText = `
#include <uapi/linux/ptrace.h>
#include <net/sock.h>

BPF_PERCPU_ARRAY(connect_cnt, long, 1);

int kprobe__tcp_v4_connect(struct pt_regs *ctx, struct sock *sk)
{
    int zero = 0;

    bpf_trace_printk("start of tcp4connect\\n");
    connect_cnt.increment(zero);
    return 0;
}
`;

/** The equivalent on the tracepoint, for kernels without kprobes. */
export const tracepointText = `
#include <net/sock.h>

BPF_PERCPU_ARRAY(connect_cnt, long, 1);

TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
    int zero = 0;

    if (args->protocol != IPPROTO_TCP || args->family != AF_INET)
        return 0;
    if (args->oldstate != TCP_CLOSE || args->newstate != TCP_SYN_SENT)
        return 0;
    bpf_trace_printk("start of tcp4connect\\n");
    connect_cnt.increment(zero);
    return 0;
}
`;

export const example = defineExample({ name: "maps/map_cpu_array_simple" }, async (ctx) => {
  await using b = await ctx.fallback(
    () => BPF.load({ text: bpfText }),
    "tracepoint sock:inet_sock_set_state",
    () => BPF.load({ text: tracepointText }),
  );

  printf("%-6s %-12s %s\n", "PID", "COMM", "OUTPUT");
  for await (const { task, pid, msg } of b.traceFields({ signal: ctx.signal })) {
    printf("%-6d %-12.12s %s\n", pid, task, msg);
  }

  const connectCnt = b.getTable<PerCpuArray<bigint>>("connect_cnt");
  printf("tcp connects total  %d  times\n", connectCnt.sum(0));
  const val = connectCnt.getValue(0);
  for (const i of onlineCpus()) {
    printf("val[ %d ] =  %d\n", i, val[i] ?? 0n);
  }
});

runIfMain(import.meta.url, example);
