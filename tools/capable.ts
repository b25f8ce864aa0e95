/**
 * capable: trace security capability checks, bcc's columns and options.
 * Hooks: bcc's kprobe (and kretprobe) on cap_capable where the kernel has
 * kprobes, else fexit on it where the kernel allows, else the
 * capability:cap_capable tracepoint (Linux 6.13+), which lacks the check's
 * options.
 */
import type { BPF, RingBuf, StackTrace } from "../src/index.js";
import { UsageError } from "./lib/args.js";
import { attachFirstHook, describeHooks, HOOK_OPTION, type HookOffer, hookCandidates } from "./lib/hooks.js";
import { hms } from "./lib/output.js";
import { hasTracepoint, type Tool } from "./lib/runtime.js";

interface CapEvent {
  tgid: number;
  pid: number;
  uid: number;
  cap: number;
  ret: number;
  opts: number;
  kernel_stack_id: number;
  user_stack_id: number;
  comm: string;
}

const TP = "capability:cap_capable";
/** cap_capable()'s options bits (Linux 5.1+). */
const OPT_NOAUDIT = 1 << 1;
const OPT_INSETID = 1 << 2;

const offer = (): HookOffer => ({
  functions: ["cap_capable"],
  tracepoint: hasTracepoint(TP),
  tracepointPartial: true,
});
const EFAULT = 14;

/** Capability numbers to names (include/uapi/linux/capability.h). */
export const CAPABILITIES = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
];

export const tool: Tool = {
  name: "capable",
  summary: "Trace security capability checks",
  options: [
    { short: "v", long: "verbose", type: "flag", help: "include non-audit checks" },
    { short: "p", long: "pid", type: "int", help: "trace this PID only" },
    { short: "K", long: "kernel-stack", type: "flag", help: "output kernel stack trace" },
    { short: "U", long: "user-stack", type: "flag", help: "output user stack trace" },
    { short: "x", long: "extra", type: "flag", help: "show extra fields in TID and INSETID columns" },
    { long: "cgroupmap", type: "string", help: "trace cgroups in this BPF map only" },
    { long: "mntnsmap", type: "string", help: "trace mount namespaces in this BPF map only" },
    { long: "unique", type: "flag", help: "don't repeat stacks for the same pid or cgroup" },
    HOOK_OPTION,
  ],
  examples: [
    "tsbpf capable             # trace capability checks",
    "tsbpf capable -v          # verbose: include non-audit checks",
    "tsbpf capable -p 181      # only trace PID 181",
    "tsbpf capable -K          # add kernel stacks to trace",
    "tsbpf capable -U          # add user-space stacks to trace",
    "tsbpf capable -x          # extra fields: show TID and INSETID columns",
    "tsbpf capable --unique    # don't repeat stacks for the same pid or cgroup",
  ],
  jsonFields: [
    "time",
    "uid",
    "pid",
    "tid",
    "comm",
    "cap",
    "name",
    "audit",
    "insetid",
    "ret",
    "kernel_stack",
    "user_stack",
  ],
  hooks: () =>
    describeHooks(offer(), {
      kprobe: "kprobe + kretprobe cap_capable",
      tracepoint: `${TP} (Linux 6.13+)`,
    }),

  async run(ctx) {
    const a = ctx.args;
    if (a.str("cgroupmap") !== undefined || a.str("mntnsmap") !== undefined) {
      throw new UsageError(
        "--cgroupmap/--mntnsmap: filters by pinned BPF maps are not supported; use --cgroup PATH",
      );
    }
    const candidates = hookCandidates("capable", a.str("hook"), offer());
    const kstack = a.flag("kernel-stack");
    const ustack = a.flag("user-stack");
    const b: BPF = await ctx.open({
      rodata: {
        targ_pid: a.num("pid") ?? 0,
        self_pid: process.pid,
        kernel_stacks: kstack,
        user_stacks: ustack,
        unique: a.flag("unique"),
        verbose: a.flag("verbose"),
      },
    });
    const hook = attachFirstHook(candidates, (kind) => {
      if (kind === "kprobe") {
        b.attachKprobe({ event: "cap_capable", fnName: "cap_capable_entry" });
        b.attachKretprobe({ event: "cap_capable", fnName: "cap_capable_return" });
      } else if (kind === "fentry") {
        b.attachKretfunc({ fnName: "cap_capable_fexit", target: "cap_capable" });
      } else {
        ctx.attachFirstTracepoint(b, "on_cap_capable", [TP]);
      }
    });
    if (hook === "tracepoint") {
      ctx.note(
        "tracepoint capability:cap_capable (bcc: a kprobe on cap_capable): it does not carry the check's options, so AUDIT and INSETID show N/A and non-audit checks are always included (as with -v)",
      );
    }
    const out = ctx.out;
    const extra = a.flag("extra");
    if (extra) {
      out.printf(
        "%-9s %-6s %-6s %-6s %-16s %-4s %-20s %-6s %s",
        "TIME",
        "UID",
        "PID",
        "TID",
        "COMM",
        "CAP",
        "NAME",
        "AUDIT",
        "INSETID",
      );
    } else {
      out.printf(
        "%-9s %-6s %-6s %-16s %-4s %-20s %-6s",
        "TIME",
        "UID",
        "PID",
        "COMM",
        "CAP",
        "NAME",
        "AUDIT",
      );
    }
    const stacks = kstack || ustack ? b.getTable<StackTrace>("stacks") : undefined;
    const frames = (id: number, pid: number): string[] | undefined => {
      if (!stacks || id < 0) return undefined;
      try {
        return stacks.walk(id, (ip) =>
          pid < 0
            ? b.ksym(ip, { showModule: true, showOffset: true })
            : b.sym(ip, pid, { showModule: true, showOffset: true }),
        );
      } catch {
        return undefined;
      }
    };
    const printStack = (id: number, kind: string, pid: number): void => {
      if (id < 0 && id !== -EFAULT) {
        out.line(`    [Missed ${kind} Stack]`);
        return;
      }
      for (const f of frames(id, pid) ?? []) out.line(`        ${f}`);
    };
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as CapEvent;
      const name = CAPABILITIES[e.cap] ?? "?";
      const known = e.opts >= 0;
      const audit = known ? ((e.opts & OPT_NOAUDIT) === 0 ? 1 : 0) : null;
      const insetid = known ? ((e.opts & OPT_INSETID) !== 0 ? 1 : 0) : null;
      if (out.json) {
        out.record({
          time: new Date().toISOString(),
          uid: e.uid,
          pid: e.tgid,
          tid: e.pid,
          comm: e.comm,
          cap: e.cap,
          name,
          audit,
          insetid,
          ret: e.ret,
          ...(kstack ? { kernel_stack: frames(e.kernel_stack_id, -1) ?? [] } : {}),
          ...(ustack ? { user_stack: frames(e.user_stack_id, e.tgid) ?? [] } : {}),
        });
        return;
      }
      if (extra) {
        out.printf(
          "%-9s %-6d %-6d %-6d %-16s %-4d %-20s %-6s %s",
          hms(),
          e.uid,
          e.tgid,
          e.pid,
          e.comm,
          e.cap,
          name,
          audit ?? "N/A",
          insetid ?? "N/A",
        );
      } else {
        out.printf(
          "%-9s %-6d %-6d %-16s %-4d %-20s %-6s",
          hms(),
          e.uid,
          e.tgid,
          e.comm,
          e.cap,
          name,
          audit ?? "N/A",
        );
      }
      if (kstack) printStack(e.kernel_stack_id, "Kernel", -1);
      if (ustack) printStack(e.user_stack_id, "User", e.tgid);
    });
    await ctx.done();
  },
};
