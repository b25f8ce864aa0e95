/**
 * Chapter 5, bcc's USDT probe sample: attaches do_trace to the USDT probe
 * test-probe of a running process (USDT({ pid }), enableProbe, then the
 * context handed to BPF.load), reads the probe's two arguments, a counter
 * and the address of a string, with bpf_usdt_readarg, and prints them with
 * bpf_trace_printk; user space prints the trace lines.
 *
 * Start the target first (tsbpf example usdt/target_sample prints its pid), then:
 *
 *   tsbpf example usdt/probe_sample [--duration SECONDS] PID
 */

import { printf } from "../../src/format/printf.js";
import { BPF, USDT } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

/**
 * The C text. The string is user memory: read with bpf_probe_read_user
 * (Linux 5.5+), where the original's bpf_probe_read works on x86 only.
 */
export const bpfText = `
#include <uapi/linux/ptrace.h>

int do_trace(struct pt_regs *ctx)
{
    uint64_t counter = 0;
    uint64_t addr = 0;
    char text[64] = {};

    bpf_usdt_readarg(1, ctx, &counter);
    bpf_usdt_readarg(2, ctx, &addr);
    bpf_probe_read_user(&text, sizeof(text), (void *)addr);
    bpf_trace_printk("counter:%d  text:%s\\n", counter, text);
    return 0;
}
`;

export const example = defineExample({ name: "usdt/probe_sample", usage: "PID" }, async (ctx) => {
  const arg = ctx.args[0];
  if (arg === undefined || !/^[1-9]\d*$/.test(arg))
    throw new Error(`give the PID of the traced process; usage: usdt/probe_sample PID`);
  const u = new USDT({ pid: Number(arg) });
  u.enableProbe({ probe: "test-probe", fnName: "do_trace" });
  await using b = await BPF.load({ text: bpfText, usdtContexts: [u] });

  printf("%-18s %-16s %-6s %s\n", "TIME(s)", "COMM", "PID", "MESSAGE");
  for await (const { task, pid, ts, msg } of b.traceFields({ signal: ctx.signal })) {
    printf("%-18.9f %-16s %-6d %s\n", ts, task, pid, msg);
  }
});

runIfMain(import.meta.url, example);
