/**
 * Chapter 3, kprobe / kretprobe: bcc's tcpv4connect_simple. Two functions
 * named after the kernel function they probe, kprobe__tcp_v4_connect and
 * kretprobe__tcp_v4_connect, are attached by BPF() itself; the first prints a
 * line as an IPv4 TCP connect starts, the second the function's return value
 * (PT_REGS_RC). User space prints trace_pipe's lines as chapter 1 does.
 *
 * On a kernel without kprobes, loading the original already fails (its
 * auto-attach needs them): the example says so in one line on stderr and
 * loads an equivalent made of two tracepoints instead. sock:inet_sock_set_state
 * fires inside tcp_v4_connect as the socket enters SYN_SENT (an IPv4 TCP
 * connect starting), and syscalls:sys_exit_connect gives that connect's
 * return value. The latter is connect()'s result, which differs from
 * tcp_v4_connect's for a non-blocking socket (-EINPROGRESS instead of 0).
 * --strict makes it fail with the NotSupportedError instead.
 *
 *   tsbpf example kprobe/tcpv4connect_simple [--duration SECONDS] [--strict]
 */

import { printf } from "../../src/format/printf.js";
import { BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

/** The C text, as a bcc user writes it. */
export const bpfText = `
#include <uapi/linux/ptrace.h>

int kprobe__tcp_v4_connect(struct pt_regs *ctx)
{
    bpf_trace_printk("tcp_v4_connect: called\\n");
    return 0;
}

int kretprobe__tcp_v4_connect(struct pt_regs *ctx)
{
    int ret = PT_REGS_RC(ctx);

    bpf_trace_printk("tcp_v4_connect: returned %d\\n", ret);
    return 0;
}
`;

/**
 * The equivalent on tracepoints, printing the same two lines: the first when
 * an IPv4 TCP socket goes from CLOSE to SYN_SENT (which tcp_v4_connect does),
 * the second when that thread's connect() returns.
 */
export const tracepointText = `
#include <net/sock.h>

BPF_HASH(connecting, u32, u8);

TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
    if (args->protocol != IPPROTO_TCP || args->family != AF_INET)
        return 0;
    if (args->oldstate != TCP_CLOSE || args->newstate != TCP_SYN_SENT)
        return 0;
    u32 tid = bpf_get_current_pid_tgid();
    u8 one = 1;
    connecting.update(&tid, &one);
    bpf_trace_printk("tcp_v4_connect: called\\n");
    return 0;
}

TRACEPOINT_PROBE(syscalls, sys_exit_connect)
{
    u32 tid = bpf_get_current_pid_tgid();
    if (!connecting.lookup(&tid))
        return 0;
    connecting.delete(&tid);
    bpf_trace_printk("tcp_v4_connect: returned %d\\n", (int)args->ret);
    return 0;
}
`;

export const example = defineExample({ name: "kprobe/tcpv4connect_simple" }, async (ctx) => {
  await using b = await ctx.fallback(
    () => BPF.load({ text: bpfText }),
    "tracepoints sock:inet_sock_set_state and syscalls:sys_exit_connect",
    () => BPF.load({ text: tracepointText }),
  );

  printf("%-6s %-12s %s\n", "PID", "COMM", "OUTPUT");
  for await (const { task, pid, msg } of b.traceFields({ signal: ctx.signal })) {
    printf("%-6d %-12.12s %s\n", pid, task, msg);
  }
});

runIfMain(import.meta.url, example);
