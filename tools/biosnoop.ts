/**
 * biosnoop: trace block device I/O, one line per request with its latency,
 * bcc's columns and options. Hooks: the block_io_start (6.5+, else
 * block_rq_insert), block_rq_issue and block_rq_complete raw tracepoints,
 * each with the request (bcc: kprobes on blk_account_io_start,
 * blk_mq_start_request and blk_account_io_done).
 */
import { sprintf } from "../src/format/printf.js";
import type { BPF, RingBuf } from "../src/index.js";
import { blockHooks, diskDev, rqAfterQueue } from "./lib/disks.js";
import { isWrite } from "./lib/reqflags.js";
import type { Tool } from "./lib/runtime.js";

interface BioEvent {
  ts: bigint;
  delta: bigint;
  qdelta: bigint;
  sector: bigint;
  len: bigint;
  pid: number;
  dev: number;
  cmd_flags: number;
  pattern: number;
  has_who: number;
  disk_name: string;
  comm: string;
}

const HOOK_FNS: Record<string, string> = {
  block_io_start: "on_io_start",
  block_rq_insert: "on_insert",
  block_rq_issue: "on_issue",
  block_rq_complete: "on_complete",
};

export const tool: Tool = {
  name: "biosnoop",
  summary: "Trace block I/O",
  options: [
    { short: "Q", long: "queue", type: "flag", help: "include OS queued time" },
    { short: "d", long: "disk", type: "string", help: "trace this disk only" },
    {
      short: "P",
      long: "pattern",
      type: "flag",
      help: "display block I/O pattern (sequential or random)",
    },
  ],
  examples: [
    "tsbpf biosnoop           # trace all block I/O",
    "tsbpf biosnoop -Q        # include OS queued time",
    "tsbpf biosnoop -d sdc    # trace sdc only",
    "tsbpf biosnoop -P        # display block I/O pattern",
    "tsbpf biosnoop --json    # one JSON object per I/O",
  ],
  jsonFields: [
    "time",
    "ts",
    "comm",
    "pid",
    "disk",
    "type",
    "sector",
    "bytes",
    "lat_ms",
    "queue_ms",
    "pattern",
  ],
  hooks: () => {
    const h = blockHooks();
    return `raw_tp/${h.account}, raw_tp/${h.issue}, raw_tp/${h.done}`;
  },
  hookNote: () => {
    const h = blockHooks();
    return `block raw tracepoints ${h.account}/${h.issue}/${h.done} with the request (bcc: kprobes on blk_account_io_start, blk_mq_start_request, blk_account_io_done): the same requests and times`;
  },

  async run(ctx) {
    const a = ctx.args;
    const diskText = a.str("disk");
    const queued = a.flag("queue");
    const pattern = a.flag("pattern");
    const b: BPF = await ctx.open({
      rodata: {
        targ_dev: diskText === undefined ? 0 : diskDev(diskText),
        rq_after_queue: rqAfterQueue(),
        queued,
        pattern,
      },
    });
    const h = blockHooks();
    ctx.attachRawTracepoints(
      b,
      [h.account, h.issue, h.done].map((tp) => [tp, HOOK_FNS[tp] as string] as const),
    );
    const out = ctx.out;
    let header = sprintf(
      "%-11s %-14s %-7s %-9s %-1s %-10s %-7s",
      "TIME(s)",
      "COMM",
      "PID",
      "DISK",
      "T",
      "SECTOR",
      "BYTES",
    );
    if (pattern) header += "P ";
    if (queued) header += sprintf("%7s ", "QUE(ms)");
    out.printf("%s%7s", header, "LAT(ms)");
    let startTs = 0n;
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as BioEvent;
      if (startTs === 0n) startTs = e.ts;
      const type = isWrite(e.cmd_flags) ? "W" : "R";
      const disk = e.disk_name || "<unknown>";
      const pat = pattern ? (e.pattern === 1 ? "S" : e.pattern === 2 ? "R" : "?") : undefined;
      const lat = Number(e.delta) / 1e6;
      const que = Number(e.qdelta) / 1e6;
      if (out.json) {
        out.record({
          time: new Date().toISOString(),
          ts: Number(e.ts - startTs) / 1e9,
          comm: e.comm,
          pid: e.has_who ? e.pid : null,
          disk,
          type,
          sector: e.sector,
          bytes: e.len,
          lat_ms: lat,
          ...(queued ? { queue_ms: que } : {}),
          ...(pat !== undefined ? { pattern: pat } : {}),
        });
        return;
      }
      let row = sprintf(
        "%-11.6f %-14.14s %-7s %-9s %-1s %-10s %-7s",
        Number((e.ts - startTs) / 1000n) / 1e6,
        e.comm,
        e.pid,
        disk,
        type,
        e.sector,
        e.len,
      );
      if (pat !== undefined) row += `${pat} `;
      if (queued) row += sprintf("%7.2f ", que);
      out.printf("%s%7.2f", row, lat);
    });
    await ctx.done();
  },
};
