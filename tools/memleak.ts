/**
 * memleak: outstanding allocations (made and not yet freed) grouped by the
 * stack that made them, every interval: bcc's report and options. Hooks:
 * with -p/-c, uprobes on libc's allocators (as bcc); without, the kmem
 * tracepoints (and percpu ones with --percpu), as bcc.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { BPF, RingBuf, StackTrace, Table } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { hms } from "./lib/output.js";
import { hasTracepoint, type Tool } from "./lib/runtime.js";

interface AllocInfo {
  size: bigint;
  timestamp_ns: bigint;
  stack_id: number;
}

interface TraceEvent {
  size: bigint;
  addr: bigint;
  pid: number;
  kind: number;
  comm: string;
}

/** [symbol, entry function, exit function, may be missing] */
const USER_PROBES: Array<[string, string, string | undefined, boolean]> = [
  ["malloc", "malloc_enter", "malloc_exit", false],
  ["calloc", "calloc_enter", "malloc_exit", false],
  ["realloc", "realloc_enter", "malloc_exit", false],
  ["mmap", "mmap_enter", "malloc_exit", false],
  ["posix_memalign", "posix_memalign_enter", "posix_memalign_exit", false],
  ["valloc", "valloc_enter", "malloc_exit", true],
  ["memalign", "memalign_enter", "malloc_exit", false],
  ["pvalloc", "valloc_enter", "malloc_exit", true],
  ["aligned_alloc", "memalign_enter", "malloc_exit", true],
  ["free", "free_enter_u", undefined, false],
  ["munmap", "munmap_enter", undefined, false],
];

const KERNEL_TPS: Array<[string, string]> = [
  ["kmem:kmalloc", "on_kmalloc"],
  ["kmem:kfree", "on_kfree"],
  ["kmem:kmem_cache_alloc", "on_kmem_cache_alloc"],
  ["kmem:kmem_cache_free", "on_kmem_cache_free"],
  ["kmem:mm_page_alloc", "on_page_alloc"],
  ["kmem:mm_page_free", "on_page_free"],
];

const PERCPU_TPS: Array<[string, string]> = [
  ["percpu:percpu_alloc_percpu", "on_percpu_alloc"],
  ["percpu:percpu_free_percpu", "on_percpu_free"],
];

const hex16 = (v: bigint): string => v.toString(16).padStart(16, "0");

/**
 * Starts the command held before exec until `go()` (so the probes are
 * attached first). Split on white space, as bcc's memleak does: no shell
 * parses it (the /bin/sh here runs a fixed script that exec's its arguments).
 */
function startHeld(command: string): { child: ChildProcess; go: () => void } {
  const argv = command.split(/\s+/).filter(Boolean);
  if (argv.length === 0) throw new UsageError("-c needs a command");
  const child = spawn("/bin/sh", ["-c", 'read _ <&3; exec 3<&-; exec "$@"', "tsbpf-memleak", ...argv], {
    stdio: ["inherit", "inherit", "inherit", "pipe"],
  });
  const ctl = child.stdio[3] as NodeJS.WritableStream;
  return { child, go: () => ctl.end("go\n") };
}

export const tool: Tool = {
  name: "memleak",
  summary: "Trace outstanding memory allocations that weren't freed",
  options: [
    {
      short: "p",
      long: "pid",
      type: "int",
      help: "the PID to trace; if not specified, trace kernel allocs",
    },
    { short: "t", long: "trace", type: "flag", help: "print trace messages for each alloc/free call" },
    {
      short: "a",
      long: "show-allocs",
      type: "flag",
      help: "show allocation addresses and sizes as well as call stacks",
    },
    {
      short: "o",
      long: "older",
      type: "int",
      help: "prune allocations younger than this age in milliseconds",
    },
    { short: "c", long: "command", type: "string", help: "execute and trace the specified command" },
    { long: "combined-only", type: "flag", help: "show combined allocation statistics only" },
    {
      long: "wa-missing-free",
      type: "flag",
      help: "Workaround to alleviate misjudgments when free is missing",
    },
    {
      short: "s",
      long: "sample-rate",
      type: "int",
      help: "sample every N-th allocation to decrease the overhead",
    },
    {
      short: "T",
      long: "top",
      type: "int",
      help: "display only this many top allocating stacks (by size)",
    },
    { short: "z", long: "min-size", type: "int", help: "capture only allocations larger than this size" },
    { short: "Z", long: "max-size", type: "int", help: "capture only allocations smaller than this size" },
    {
      short: "O",
      long: "obj",
      type: "string",
      help: "attach to allocator functions in the specified object",
    },
    { long: "percpu", type: "flag", help: "trace percpu allocations" },
  ],
  positionals: [
    { name: "interval", type: "int", help: "interval in seconds to print outstanding allocations" },
    { name: "count", type: "int", help: "number of times to print the report before exiting" },
  ],
  examples: [
    "tsbpf memleak -p $(pidof allocs)       # outstanding allocations every 5 seconds",
    "tsbpf memleak -p $(pidof allocs) -t    # each allocator call",
    "tsbpf memleak -ap $(pidof allocs) 10   # addresses, sizes and stacks every 10 seconds",
    'tsbpf memleak -c "./allocs"            # run the command and trace its allocations',
    "tsbpf memleak                          # kernel allocations every 5 seconds",
    "tsbpf memleak -o 60000                 # kernel allocations at least one minute old",
    "tsbpf memleak -s 5                     # trace roughly every 5th allocation",
  ],
  jsonFields: ["time", "size", "count", "stack", "allocs (with -a: addr, size)"],
  hooks: () =>
    "uprobes on libc's allocators (-p/-c); else tracepoints kmem:kmalloc/kfree/kmem_cache_alloc/kmem_cache_free/mm_page_alloc/mm_page_free",

  async run(ctx) {
    const a = ctx.args;
    const minSize = a.num("min-size");
    const maxSize = a.num("max-size");
    if (minSize !== undefined && maxSize !== undefined && minSize > maxSize)
      throw new UsageError("min_size (-z) can't be greater than max_size (-Z)");
    const command = a.str("command");
    if (command !== undefined && a.num("pid") !== undefined)
      throw new UsageError("-p and -c cannot be used together");
    const top = a.num("top") ?? 10;
    const minAgeNs = BigInt(a.num("older") ?? 500) * 1000000n;
    const interval = a.num("interval") ?? 5;
    const held = command !== undefined ? startHeld(command) : undefined;
    const pid = held ? (held.child.pid as number) : (a.num("pid") ?? -1);
    const kernel = pid === -1;
    const traceAll = a.flag("trace");
    const out = ctx.out;
    try {
      if (held) out.line(`Executing '${command}' and tracing the resulting process.`);
      const b: BPF = await ctx.open({
        rodata: {
          min_size: BigInt(minSize ?? 0),
          max_size: maxSize === undefined ? 0xffffffffffffffffn : BigInt(maxSize),
          sample_every_n: BigInt(a.num("sample-rate") ?? 1),
          trace_all: traceAll,
          user_stacks: !kernel,
          wa_missing_free: kernel && a.flag("wa-missing-free"),
        },
      });
      if (!kernel) {
        const obj = a.str("obj") ?? "c";
        out.line(`Attaching to pid ${pid}, Ctrl+C to quit.`);
        for (const [sym, enter, exit, optional] of USER_PROBES) {
          try {
            b.attachUprobe({ name: obj, sym, fnName: enter, pid });
            if (exit) b.attachUretprobe({ name: obj, sym, fnName: exit, pid });
          } catch (e) {
            if (!optional) throw e;
          }
        }
      } else {
        ctx.attachTracepoints(
          b,
          a.flag("percpu") ? PERCPU_TPS : KERNEL_TPS.filter(([tp]) => hasTracepoint(tp)),
        );
        out.line("Attaching to kernel allocators, Ctrl+C to quit.");
      }
      const allocs = b.getTable<Table>("allocs");
      const combined = b.getTable<Table>("combined_allocs");
      const stacks = b.getTable<StackTrace>("stack_traces");
      const frames = (id: number): string[] =>
        stacks.walk(id, (ip) => `0x${hex16(ip)}\t${b.sym(ip, pid, { showModule: true, showOffset: true })}`);

      const report = (): void => {
        const header = `[${hms()}] Top ${top} stacks with outstanding allocations:`;
        const time = new Date().toISOString();
        type Group = {
          size: bigint;
          count: number;
          stack: string[];
          allocs: Array<{ addr: bigint; size: bigint }>;
        };
        const groups = new Map<number, Group>();
        if (a.flag("combined-only")) {
          const rows: Array<[number, { total_size: bigint; number_of_allocs: bigint }]> = [];
          for (const [k, v] of combined.items())
            rows.push([Number(k), v as { total_size: bigint; number_of_allocs: bigint }]);
          rows.sort((x, y) =>
            y[1].total_size > x[1].total_size ? 1 : y[1].total_size < x[1].total_size ? -1 : 0,
          );
          const shown = rows.slice(0, top).reverse();
          out.line(header);
          for (const [id, v] of shown) {
            let stack: string[];
            try {
              stack = stacks.walk(id).map((ip) => b.sym(ip, pid, { showModule: true, showOffset: true }));
            } catch {
              stack = [];
            }
            if (out.json) {
              out.record({ time, size: v.total_size, count: v.number_of_allocs, stack });
              continue;
            }
            out.line(
              `\t${v.total_size} bytes in ${v.number_of_allocs} allocations from stack\n\t\t${stack.length ? stack.join("\n\t\t") : "stack information lost"}`,
            );
          }
          return;
        }
        const now = process.hrtime.bigint();
        const items: Array<[bigint, AllocInfo]> = [];
        for (const [k, v] of allocs.items()) items.push([BigInt(k as bigint | number), v as AllocInfo]);
        items.sort((x, y) => (x[1].size < y[1].size ? -1 : x[1].size > y[1].size ? 1 : 0));
        out.line(header);
        for (const [addr, info] of items) {
          if (now - minAgeNs < info.timestamp_ns) continue;
          if (info.stack_id < 0) continue;
          let g = groups.get(info.stack_id);
          if (!g) {
            g = { size: 0n, count: 0, stack: frames(info.stack_id), allocs: [] };
            groups.set(info.stack_id, g);
          }
          g.size += info.size;
          g.count++;
          if (a.flag("show-allocs")) {
            g.allocs.push({ addr, size: info.size });
            out.line(`\taddr = ${addr.toString(16)} size = ${info.size}`);
          }
        }
        const shown = [...groups.values()]
          .sort((x, y) => (x.size < y.size ? -1 : x.size > y.size ? 1 : 0))
          .slice(-top);
        for (const g of shown) {
          if (out.json) {
            out.record({
              time,
              size: g.size,
              count: g.count,
              stack: g.stack.map((f) => f.replace(/^0x[0-9a-f]+\t/, "")),
              ...(a.flag("show-allocs") ? { allocs: g.allocs } : {}),
            });
            continue;
          }
          out.line(`\t${g.size} bytes in ${g.count} allocations from stack\n\t\t${g.stack.join("\n\t\t")}`);
        }
      };

      if (traceAll) {
        const events = b.getTable<RingBuf>("events");
        const msgs = [
          "alloc entered, size = %d",
          "alloc exited, size = %d, result = %x",
          "free entered, address = %x, size = %d",
        ];
        events.openRingBuffer((_c, data) => {
          const e = events.event(data) as TraceEvent;
          if (out.json) {
            out.record({
              time: new Date().toISOString(),
              pid: e.pid,
              comm: e.comm,
              call: ["alloc_enter", "alloc_exit", "free"][e.kind],
              size: e.size,
              addr: e.addr,
            });
            return;
          }
          const args = e.kind === 0 ? [e.size] : e.kind === 1 ? [e.size, e.addr] : [e.addr, e.size];
          out.printf(`%-16s %-7d ${msgs[e.kind] ?? "?"}`, e.comm, e.pid, ...args);
        });
        held?.go();
        await ctx.done();
        return;
      }
      held?.go();
      await ctx.intervals(interval, a.num("count"), (last) => {
        if (last && ctx.signal.aborted) return; // bcc exits on Ctrl-C without a report
        report();
      });
    } finally {
      held?.child.kill();
    }
  },
};
