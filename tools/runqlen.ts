/**
 * runqlen: the scheduler run queue length as a linear histogram, or its
 * occupancy (-O), sampled 99 times a second on each CPU, bcc's output and
 * options. Hook: a software perf event (cpu-clock) on every online CPU, as
 * bcc's runqlen.
 */
import { type BPF, PerfSWConfig, PerfType, type Table } from "../src/index.js";
import { formatLinearHist } from "../src/maps/histogram.js";
import { UsageError } from "./lib/args.js";
import { readHist } from "./lib/hist.js";
import { hms } from "./lib/output.js";
import type { Tool } from "./lib/runtime.js";

const FREQUENCY = 99;

function pyTs(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${hms(d)}`;
}

export const tool: Tool = {
  name: "runqlen",
  summary: "Summarize scheduler run queue length as a histogram",
  prometheus: true,
  options: [
    { short: "T", long: "timestamp", type: "flag", help: "include timestamp on output" },
    { short: "O", long: "runqocc", type: "flag", help: "report run queue occupancy" },
    { short: "C", long: "cpus", type: "flag", help: "print output for each CPU separately" },
  ],
  positionals: [
    { name: "interval", type: "float", help: "output interval, in seconds" },
    { name: "count", type: "int", help: "number of outputs" },
  ],
  examples: [
    "tsbpf runqlen            # summarize run queue length as a histogram",
    "tsbpf runqlen 1 10       # print 1 second summaries, 10 times",
    "tsbpf runqlen -T 1       # 1s summaries and timestamps",
    "tsbpf runqlen -O         # report run queue occupancy",
    "tsbpf runqlen -C         # show each CPU separately",
  ],
  jsonFields: ["ts", "val_type", "data[runqlen,count]", "runqocc", "cpu"],
  hooks: () => `perf_event software cpu-clock at ${FREQUENCY} Hz on each CPU`,

  async run(ctx) {
    const a = ctx.args;
    const perCpu = a.flag("cpus");
    if (a.cgroup) throw new UsageError("--cgroup: runqlen samples CPUs' run queues, not processes");
    const b: BPF = await ctx.open({ rodata: { per_cpu: perCpu } });
    b.attachPerfEvent({
      evType: PerfType.SOFTWARE,
      evConfig: PerfSWConfig.CPU_CLOCK,
      fnName: "do_perf_event",
      sampleFreq: FREQUENCY,
    });
    const hists = b.getTable<Table>("hists");
    const out = ctx.out;
    ctx.exportMetrics(b, [
      {
        type: "histogram",
        name: "runqlen",
        help: `Run queue length, sampled at ${FREQUENCY} Hz${perCpu ? " on each CPU" : ""}`,
        table: "hists",
        labels: perCpu ? [{ name: "cpu", field: "id" }] : [],
        bucketType: "linear",
        bucketField: "slot",
        bucketMax: 32,
      },
    ]);
    out.line("Sampling run queue length... Hit Ctrl-C to end.");
    await ctx.intervals(a.num("interval") ?? 99999999, a.num("count"), () => {
      const now = new Date();
      out.line("");
      if (a.flag("timestamp")) out.line(hms(now));
      const raw = readHist(hists, true).map(({ key, value }) => ({
        cpu: key.id,
        slot: key.slot,
        value: Number(value),
      }));
      const cpus = perCpu ? [...new Set(raw.map((r) => r.cpu))].sort((x, y) => x - y) : [0];
      if (a.flag("runqocc")) {
        const occ = (cpu: number): number => {
          let idle = 0;
          let queued = 0;
          for (const r of raw) {
            if (r.cpu !== cpu) continue;
            if (r.slot === 0) idle += r.value;
            else queued += r.value;
          }
          return idle + queued > 0 ? queued / (idle + queued) : 0;
        };
        if (perCpu) {
          const max = Math.max(0, ...cpus);
          for (let c = 0; c <= max; c++) {
            out.printf("runqocc, CPU %-3d %6.2f%%", c, 100 * occ(c));
            out.record({ ts: pyTs(now), cpu: c, runqocc: 100 * occ(c) });
          }
        } else {
          out.printf("runqocc: %0.2f%%", 100 * occ(0));
          out.record({ ts: pyTs(now), runqocc: 100 * occ(0) });
        }
        return;
      }
      if (out.json) {
        for (const c of cpus) {
          const data = raw
            .filter((r) => r.cpu === c)
            .sort((x, y) => x.slot - y.slot)
            .map((r) => ({ runqlen: r.slot, count: r.value }));
          if (data.length > 0)
            out.record({ ts: pyTs(now), val_type: "runqlen", data, ...(perCpu ? { cpu: c } : {}) });
        }
        return;
      }
      const entries = raw.map((r) =>
        perCpu ? { key: { cpu: r.cpu, slot: r.slot }, value: r.value } : { key: r.slot, value: r.value },
      );
      out.text(
        formatLinearHist(
          entries,
          "runqlen",
          perCpu
            ? { sectionHeader: "cpu", bucketSort: (x: unknown, y: unknown) => Number(x) - Number(y) }
            : {},
        ),
      );
    });
  },
};
