/**
 * Chapter 3, kprobe / kretprobe: bcc's tcpv4connect_args. The kprobe function
 * declares tcp_v4_connect's own arguments after ctx (struct sock *sk, struct
 * sockaddr *uaddr, int addr_len); bcc (and tsbpf) read them from the
 * registers of the calling convention, so the C uses addr_len directly and
 * prints it for every IPv4 TCP connect.
 *
 * On a kernel without kprobes, loading the original fails (its auto-attach
 * needs them): the example says so in one line on stderr and loads an
 * equivalent instead. syscalls:sys_enter_connect has the same addrlen (the
 * kernel passes connect()'s own to tcp_v4_connect), kept per thread, and
 * sock:inet_sock_set_state prints it when the socket enters SYN_SENT inside
 * tcp_v4_connect, so only IPv4 TCP connects print, as with the kprobe.
 * --strict makes it fail with the NotSupportedError instead.
 *
 *   tsbpf example kprobe/tcpv4connect_args [--duration SECONDS] [--strict]
 */

import { printf } from "../../src/format/printf.js";
import { BPF } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

/** The C text, as a bcc user writes it. */
export const bpfText = `
#include <uapi/linux/ptrace.h>
#include <net/sock.h>

int kprobe__tcp_v4_connect(struct pt_regs *ctx, struct sock *sk,
                           struct sockaddr *uaddr, int addr_len)
{
    bpf_trace_printk("tcp_v4_connect: addr_len = %d\\n", addr_len);
    return 0;
}
`;

/** The equivalent on tracepoints: addrlen from connect(), printed inside tcp_v4_connect. */
export const tracepointText = `
#include <net/sock.h>

BPF_HASH(addrlens, u32, int);

TRACEPOINT_PROBE(syscalls, sys_enter_connect)
{
    u32 tid = bpf_get_current_pid_tgid();
    int addr_len = args->addrlen;
    addrlens.update(&tid, &addr_len);
    return 0;
}

TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
    if (args->protocol != IPPROTO_TCP || args->family != AF_INET)
        return 0;
    if (args->oldstate != TCP_CLOSE || args->newstate != TCP_SYN_SENT)
        return 0;
    u32 tid = bpf_get_current_pid_tgid();
    int *addr_len = addrlens.lookup(&tid);
    if (!addr_len)
        return 0;
    bpf_trace_printk("tcp_v4_connect: addr_len = %d\\n", *addr_len);
    return 0;
}

TRACEPOINT_PROBE(syscalls, sys_exit_connect)
{
    u32 tid = bpf_get_current_pid_tgid();
    addrlens.delete(&tid);
    return 0;
}
`;

export const example = defineExample({ name: "kprobe/tcpv4connect_args" }, async (ctx) => {
  await using b = await ctx.fallback(
    () => BPF.load({ text: bpfText }),
    "tracepoints syscalls:sys_enter_connect and sock:inet_sock_set_state",
    () => BPF.load({ text: tracepointText }),
  );

  printf("%-6s %-12s %s\n", "PID", "COMM", "OUTPUT");
  for await (const { task, pid, msg } of b.traceFields({ signal: ctx.signal })) {
    printf("%-6d %-12.12s %s\n", pid, task, msg);
  }
});

runIfMain(import.meta.url, example);
