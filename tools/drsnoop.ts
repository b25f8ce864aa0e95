import type { BPF, RingBuf } from "../src/index.js";
import { meminfo } from "./lib/proc.js";
import type { Tool } from "./lib/runtime.js";
import { parseUid } from "./lib/users.js";

export interface ReclaimEvent {
  id: bigint;
  nr_reclaimed: bigint;
  delta_ns: bigint;
  ts_ns: bigint;
  uid: number;
  memcg: number;
  comm: string;
}

const TRACEPOINTS: Array<[string, string]> = [
  ["vmscan:mm_vmscan_direct_reclaim_begin", "on_begin"],
  ["vmscan:mm_vmscan_direct_reclaim_end", "on_end"],
];
const MEMCG_TRACEPOINTS: Array<[string, string]> = [
  ["vmscan:mm_vmscan_memcg_reclaim_begin", "on_memcg_begin"],
  ["vmscan:mm_vmscan_memcg_reclaim_end", "on_memcg_end"],
];

/** Free memory in KB from /proc/meminfo (MemFree). */
function freeKb(): number {
  return meminfo().MemFree ?? 0;
}

/** bcc's row for one reclaim: printf format and arguments. */
export function reclaimRow(
  e: ReclaimEvent,
  how: { timestamp?: bigint; printUid?: boolean; tid?: boolean; free?: number },
): [string, ...unknown[]] {
  let row = "";
  if (how.timestamp !== undefined) row += (Number(e.ts_ns - how.timestamp) / 1e9).toFixed(9).padEnd(14);
  if (how.printUid) row += String(e.uid).padEnd(6);
  return [
    `%s%-14.14s %-6s %8.2f %5d${how.free !== undefined ? "%10d" : "%s"}`,
    row,
    e.comm,
    how.tid ? Number(e.id & 0xffffffffn) : Number(e.id >> 32n),
    Number(e.delta_ns) / 1e6,
    e.nr_reclaimed,
    how.free ?? "",
  ];
}

export const tool: Tool = {
  name: "drsnoop",
  summary: "Trace direct reclaim",
  options: [
    { short: "T", long: "timestamp", type: "flag", help: "include timestamp on output" },
    { short: "U", long: "print-uid", type: "flag", help: "print UID column" },
    { short: "p", long: "pid", type: "int", help: "trace this PID only" },
    { short: "t", long: "tid", type: "int", help: "trace this TID only" },
    { short: "u", long: "uid", type: "string", help: "trace this UID only" },
    {
      short: "d",
      long: "duration",
      type: "float",
      metavar: "SECONDS",
      help: "total duration of trace in seconds",
    },
    { short: "n", long: "name", type: "string", help: "only print process names containing this name" },
    { short: "v", long: "verbose", type: "flag", help: "show system memory state" },
    {
      long: "memcg",
      type: "flag",
      help: "also trace the reclaim a task does when its memory cgroup is at its limit (not in bcc)",
    },
  ],
  examples: [
    "tsbpf drsnoop           # trace all direct reclaim",
    "tsbpf drsnoop -T        # include timestamps",
    "tsbpf drsnoop -U        # include UID",
    "tsbpf drsnoop -p 181    # only trace PID 181",
    "tsbpf drsnoop -t 123    # only trace TID 123",
    "tsbpf drsnoop -u 1000   # only trace UID 1000",
    "tsbpf drsnoop -d 10     # trace for 10 seconds only",
    'tsbpf drsnoop -n main   # only print process names containing "main"',
  ],
  jsonFields: [
    "time",
    "comm",
    "pid",
    "tid",
    "uid",
    "lat_ms",
    "pages",
    "free_kb (with -v)",
    "reclaim (direct or memcg)",
  ],
  hooks: () =>
    `${TRACEPOINTS.map(([tp]) => tp).join(", ")} (--memcg: ${MEMCG_TRACEPOINTS.map(([tp]) => tp).join(", ")})`,

  async run(ctx) {
    const a = ctx.args;
    const uidText = a.str("uid");
    const tid = a.num("tid");
    if (a.flag("verbose"))
      ctx.note(
        "-v: FREE(KB) is MemFree from /proc/meminfo when the event is printed (bcc reads vm_stat at the start of the reclaim, which needs CONFIG_KALLSYMS_ALL)",
      );
    const b: BPF = await ctx.open({
      rodata: {
        targ_pid: a.num("pid") ?? 0,
        targ_tid: tid ?? 0,
        targ_uid: uidText === undefined ? 0xffffffff : parseUid(uidText),
      },
    });
    ctx.attachTracepoints(b, a.flag("memcg") ? [...TRACEPOINTS, ...MEMCG_TRACEPOINTS] : TRACEPOINTS);
    const out = ctx.out;
    let header = "";
    if (a.flag("timestamp")) header += "TIME(s)".padEnd(14);
    if (a.flag("print-uid")) header += "UID".padEnd(6);
    out.printf(
      `${header}%-14s %-6s %8s %5s${a.flag("verbose") ? "%10s" : "%s"}`,
      "COMM",
      tid !== undefined ? "TID" : "PID",
      "LAT(ms)",
      "PAGES",
      a.flag("verbose") ? "FREE(KB)" : "",
    );
    const name = a.str("name");
    let initial = 0n;
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as ReclaimEvent;
      if (!initial) initial = e.ts_ns;
      if (name !== undefined && !e.comm.includes(name)) return;
      const pid = Number(e.id >> 32n);
      const lat = Number(e.delta_ns) / 1e6;
      const free = a.flag("verbose") ? freeKb() : undefined;
      if (out.json) {
        out.record({
          time: new Date().toISOString(),
          comm: e.comm,
          pid,
          tid: Number(e.id & 0xffffffffn),
          uid: e.uid,
          lat_ms: lat,
          pages: e.nr_reclaimed,
          reclaim: e.memcg ? "memcg" : "direct",
          ...(free !== undefined ? { free_kb: free } : {}),
        });
        return;
      }
      out.printf(
        ...reclaimRow(e, {
          timestamp: a.flag("timestamp") ? initial : undefined,
          printUid: a.flag("print-uid"),
          tid: tid !== undefined,
          free,
        }),
      );
    });
    await ctx.done();
  },
};
