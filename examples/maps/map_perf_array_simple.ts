/**
 * Chapter 13, Maps: BPF_PERF_ARRAY and perf_read. The array holds one
 * counting perf event per CPU (openPerfEvent: CPU cycles); a kprobe on the
 * getuid syscall stores the counter of its CPU, the kretprobe reads it again
 * and adds log2(difference) to a histogram: the cycles spent in getuid().
 * On Ctrl-C it prints the histogram.
 *
 * Two fallbacks here, each announced in one line on stderr (--strict fails
 * with the typed error instead):
 * - no hardware counters (a VM without a PMU): the software CPU clock
 *   (PERF_COUNT_SW_CPU_CLOCK) is counted instead, so the histogram is in
 *   nanoseconds rather than cycles;
 * - no kprobes: the same two functions run on the tracepoints
 *   syscalls:sys_enter_getuid and syscalls:sys_exit_getuid.
 *
 *   tsbpf example maps/map_perf_array_simple [--duration SECONDS] [--strict]
 */

import { printf } from "../../src/format/printf.js";
import {
  BPF,
  type PerfEventArray,
  PerfHWConfig,
  PerfSWConfig,
  PerfType,
  possibleCpus,
} from "../../src/index.js";
import { defineExample, runIfMain } from "../lib/example.js";

export const bpfText = (numCpus: number): string => `
#include <uapi/linux/ptrace.h>

BPF_PERF_ARRAY(cnt1, ${numCpus});
BPF_ARRAY(prev, u64, ${numCpus});
BPF_HISTOGRAM(dist);

int do_sys_getuid(struct pt_regs *ctx)
{
    u32 cpu = bpf_get_smp_processor_id();
    u64 val = cnt1.perf_read(CUR_CPU_IDENTIFIER);
    if (((s64)val < 0) && ((s64)val > -256))
        return 0;
    prev.update(&cpu, &val);
    return 0;
}

int do_ret_sys_getuid(struct pt_regs *ctx)
{
    u32 cpu = bpf_get_smp_processor_id();
    u64 val = cnt1.perf_read(CUR_CPU_IDENTIFIER);
    if (((s64)val < 0) && ((s64)val > -256))
        return 0;
    u64 *prevp = prev.lookup(&cpu);
    if (prevp) {
        u64 delta = val - *prevp;
        dist.increment(bpf_log2l(delta));
    }
    return 0;
}
`;

export const example = defineExample({ name: "maps/map_perf_array_simple" }, async (ctx) => {
  await using b = await BPF.load({ text: bpfText(possibleCpus()) });
  const cnt1 = b.getTable<PerfEventArray>("cnt1");
  const unit = await ctx.fallback(
    () => {
      cnt1.openPerfEvent(PerfType.HARDWARE, PerfHWConfig.CPU_CYCLES);
      return "cycles";
    },
    "the software clock PERF_COUNT_SW_CPU_CLOCK (nanoseconds)",
    () => {
      cnt1.openPerfEvent(PerfType.SOFTWARE, PerfSWConfig.CPU_CLOCK);
      return "nsecs";
    },
  );

  const getuid = b.getSyscallFnname("getuid");
  await ctx.fallback(
    () => {
      b.attachKprobe({ event: getuid, fnName: "do_sys_getuid" });
      b.attachKretprobe({ event: getuid, fnName: "do_ret_sys_getuid" });
    },
    "tracepoints syscalls:sys_enter_getuid and syscalls:sys_exit_getuid",
    () => {
      b.attachTracepoint({ tp: "syscalls:sys_enter_getuid", fnName: "do_sys_getuid" });
      b.attachTracepoint({ tp: "syscalls:sys_exit_getuid", fnName: "do_ret_sys_getuid" });
    },
  );

  printf("Tracing getuid()... Hit Ctrl-C to end.\n");
  while (await ctx.sleep(1000));
  printf("\n");
  b.getTable("dist").printLog2Hist(unit);
});

runIfMain(import.meta.url, example);
