/**
 * Chapter 13, Maps: BPF_CPUMAP and redirect_map, after bcc's
 * xdp_redirect_cpu. An XDP program on a device counts each frame and
 * redirects it through a CPU map to the CPU given on the command line, where
 * the kernel builds the socket buffer and the frame continues up the stack.
 * User space sets that CPU's entry (the queue size). Every second it prints
 * the packets redirected in that second.
 *
 * -S: generic (skb) XDP instead of native. XDP runs natively here.
 *
 *   tsbpf example maps/xdp_cpumap [--duration SECONDS] [-S] IN_IFACE CPU
 */

import { printf } from "../../src/format/printf.js";
import { type ArrayTable, BPF, type PerCpuArray, possibleCpus, XDP_FLAGS_SKB_MODE } from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const bpfText = (maxCpu: number): string => `
#include <uapi/linux/bpf.h>

BPF_CPUMAP(cpumap, ${maxCpu});
BPF_ARRAY(dest, uint32_t, 1);
BPF_PERCPU_ARRAY(rxcnt, long, 1);

int xdp_redirect_cpu(struct xdp_md *ctx)
{
    uint32_t key = 0;
    long *value;
    uint32_t *cpu_dest;

    cpu_dest = dest.lookup(&key);
    if (!cpu_dest)
        return XDP_PASS;

    value = rxcnt.lookup(&key);
    if (value)
        *value += 1;

    return cpumap.redirect_map(*cpu_dest, 0);
}
`;

export const example = defineExample({ name: "maps/xdp_cpumap", usage: "[-S] IN_IFACE CPU" }, async (ctx) => {
  const skb = ctx.args.includes("-S");
  const [inIf, cpuArg] = ctx.args.filter((a) => a !== "-S");
  const cpu = Number(cpuArg);
  const maxCpu = possibleCpus();
  if (!inIf || !Number.isInteger(cpu) || cpu < 0 || cpu >= maxCpu)
    throw new Error(`usage: maps/xdp_cpumap [--duration SECONDS] [-S] IN_IFACE CPU (0..${maxCpu - 1})`);
  const flags = skb ? XDP_FLAGS_SKB_MODE : 0;

  await using b = await BPF.load({ text: bpfText(maxCpu) });
  // The CPU's entry: the size of its queue of frames waiting to become skbs.
  b.getTable("cpumap").set(cpu, 192);
  b.getTable<ArrayTable<number>>("dest").set(0, cpu);
  b.attachXdp(inIf, b.loadFunc("xdp_redirect_cpu", BPF.XDP), flags);

  const rxcnt = b.getTable<PerCpuArray<bigint>>("rxcnt");
  let prev = 0n;
  printf("Redirecting packets of %s to CPU %d, hit Ctrl-C to stop.\n", inIf, cpu);
  while (await ctx.sleep(1000)) {
    const sum = BigInt(rxcnt.sum(0));
    if (sum > prev) printf("%d pkt/s\n", sum - prev);
    prev = sum;
  }

  b.removeXdp(inIf, flags);
});

runIfMain(import.meta.url, example);
