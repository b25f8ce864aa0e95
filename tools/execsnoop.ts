/**
 * execsnoop: trace new processes (exec() system calls), bcc's columns and
 * options. Hooks: the syscalls:sys_{enter,exit}_execve and _execveat
 * tracepoints on every kernel (bcc uses a kprobe on the execve function; the
 * tracepoints see the same calls).
 */
import { BPF, type RingBuf } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { hms, ROW_BATCH_MS } from "./lib/output.js";
import { ppidOf, splitCStrings } from "./lib/proc.js";
import { hasTracepoint, type Tool } from "./lib/runtime.js";
import { parseUid } from "./lib/users.js";

interface ExecEvent {
  ts: bigint;
  pid: number;
  tid: number;
  ppid: number;
  uid: number;
  retval: number;
  args_count: number;
  args_size: number;
  path_size: number;
  args_off: number;
  truncated: number;
  comm: string;
}

const TRACEPOINTS: Array<[string, string]> = [
  ["syscalls:sys_enter_execve", "execve_enter"],
  ["syscalls:sys_exit_execve", "execve_exit"],
  ["syscalls:sys_enter_execveat", "execveat_enter"],
  ["syscalls:sys_exit_execveat", "execveat_exit"],
];

/**
 * The command line of an exec: the path as passed, then its arguments
 * (from the new image when the exec succeeded), at most maxArgs, "..."
 * when there were more (as bcc prints them).
 */
function execArgs(record: Uint8Array, e: ExecEvent, maxArgs: number): string[] {
  const data = record.subarray(e.args_off);
  if (e.args_count >= 0) {
    const argv = splitCStrings(data.subarray(0, e.args_size), e.args_count);
    if (e.truncated) argv.push("...");
    return argv;
  }
  const argv = splitCStrings(data.subarray(e.path_size, e.args_size), Number.POSITIVE_INFINITY);
  // the path as passed stands for argv[0]; without it, argv[0] is shown
  const [path] = e.path_size > 0 ? splitCStrings(data.subarray(0, e.path_size), 1) : [];
  if (path !== undefined) {
    if (argv.length > 0) argv[0] = path;
    else argv.push(path);
  }
  if (argv.length > maxArgs) {
    argv.length = maxArgs;
    argv.push("...");
  }
  return argv;
}

export const tool: Tool = {
  name: "execsnoop",
  summary: "Trace exec() syscalls",
  options: [
    { short: "T", long: "time", type: "flag", help: "include time column on output (HH:MM:SS)" },
    { short: "t", long: "timestamp", type: "flag", help: "include timestamp on output" },
    { short: "x", long: "fails", type: "flag", help: "include failed exec()s" },
    { short: "u", long: "uid", type: "string", metavar: "USER", help: "trace this UID only" },
    { short: "q", long: "quote", type: "flag", help: 'Add quotemarks (") around arguments.' },
    {
      short: "n",
      long: "name",
      type: "string",
      help: "only print commands matching this name (regex), any arg",
    },
    {
      short: "l",
      long: "line",
      type: "string",
      help: "only print commands where arg contains this line (regex)",
    },
    { short: "U", long: "print-uid", type: "flag", help: "print UID column" },
    {
      long: "max-args",
      type: "int",
      help: "maximum number of arguments parsed and displayed, defaults to 20",
    },
    { short: "P", long: "ppid", type: "int", help: "trace this parent PID only" },
  ],
  examples: [
    "tsbpf execsnoop                   # trace all exec() syscalls",
    "tsbpf execsnoop -x                # include failed exec()s",
    "tsbpf execsnoop -T                # include time (HH:MM:SS)",
    "tsbpf execsnoop -P 181            # only trace new processes whose parent PID is 181",
    "tsbpf execsnoop -U                # include UID",
    "tsbpf execsnoop -u 1000           # only trace UID 1000",
    'tsbpf execsnoop -n main           # only print command lines containing "main"',
    "tsbpf execsnoop --json            # one JSON object per exec",
  ],
  jsonFields: ["time", "comm", "pid", "tid", "ppid", "uid", "ret", "args"],
  hookNote: () =>
    "syscall tracepoints (bcc: a kprobe on the execve syscall function): the same calls, execveat included",
  hooks: () =>
    TRACEPOINTS.filter(([tp]) => hasTracepoint(tp))
      .map(([tp]) => tp)
      .join(", "),

  async run(ctx) {
    const a = ctx.args;
    const maxArgs = a.num("max-args") ?? 20;
    if (maxArgs < 1 || maxArgs > 60) throw new UsageError("--max-args: expected 1 to 60");
    const uidText = a.str("uid");
    const name = a.str("name") ? new RegExp(a.str("name") as string) : undefined;
    const line = a.str("line") ? new RegExp(a.str("line") as string) : undefined;
    const b: BPF = await ctx.open({
      rodata: {
        targ_uid: uidText === undefined ? 0xffffffff : parseUid(uidText),
        targ_ppid: a.num("ppid") ?? 0,
        ignore_failed: !a.flag("fails"),
        max_args: maxArgs,
      },
    });
    // one load for the four programs: the kernel's BTF is read once, not once per program
    b.loadFuncs(
      BPF.TRACEPOINT,
      TRACEPOINTS.filter(([tp]) => hasTracepoint(tp)).map(([, fn]) => fn),
    );
    ctx.attachTracepoints(b, TRACEPOINTS);
    const out = ctx.out;
    const start = Date.now();
    let header = "";
    if (a.flag("time")) header += "TIME".padEnd(9);
    if (a.flag("timestamp")) header += "TIME(s)".padEnd(8);
    if (a.flag("print-uid")) header += "UID".padEnd(6);
    out.printf(`${header.replace(/%/g, "%%")}%-16s %-7s %-7s %3s %s`, "PCOMM", "PID", "PPID", "RET", "ARGS");
    const quote = a.flag("quote");
    const time = a.flag("time");
    const timestamp = a.flag("timestamp");
    const printUid = a.flag("print-uid");
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer(
      (_c, data) => {
        const e = events.event(data) as ExecEvent;
        if (name && !name.test(e.comm)) return;
        let argv = execArgs(data, e, maxArgs);
        if (line && !line.test(argv.join(" "))) return;
        const ppid = e.ppid > 0 ? e.ppid : ppidOf(e.pid);
        if (out.json) {
          out.record({
            time: new Date().toISOString(),
            comm: e.comm,
            pid: e.pid,
            tid: e.tid,
            ppid: ppid > 0 ? ppid : null,
            uid: e.uid,
            ret: e.retval,
            args: argv,
          });
          return;
        }
        if (quote) argv = argv.map((x) => `"${x.replace(/"/g, '\\"')}"`);
        let row = "";
        if (time) row += hms().padEnd(9);
        if (timestamp) row += ((Date.now() - start) / 1000).toFixed(3).padEnd(8);
        if (printUid) row += String(e.uid).padEnd(6);
        out.printf(
          "%s%-16s %-7d %-7s %3d %s",
          row,
          e.comm,
          e.pid,
          ppid > 0 ? String(ppid) : "?",
          e.retval,
          argv.join(" ").replace(/\n/g, "\\n"),
        );
      },
      { coalesceMs: ROW_BATCH_MS },
    );
    await ctx.done();
  },
};
