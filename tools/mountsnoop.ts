/**
 * mountsnoop: trace mount() and umount() system calls, bcc's columns and
 * CALL text, and the calls of the new mount API (fsopen, fsconfig, fsmount,
 * move_mount, fspick, open_tree, mount_setattr). Hooks: their
 * syscalls:sys_{enter,exit}_* tracepoints.
 */
import { constants } from "node:os";
import type { BPF, RingBuf } from "../src/index.js";
import { hasTracepoint, type Tool } from "./lib/runtime.js";

interface MountEvent {
  flags: bigint;
  nums: bigint[];
  pid: number;
  tid: number;
  ppid: number;
  mnt_ns: number;
  ret: number;
  syscall: number;
  present: number;
  comm: string;
  pcomm: string;
}

/** In the order of the BPF program's numbers. */
const SYSCALLS = [
  "mount",
  "umount",
  "fsopen",
  "fsconfig",
  "fsmount",
  "move_mount",
  "fspick",
  "open_tree",
  "mount_setattr",
];
const TRACEPOINTS: Array<[string, string]> = SYSCALLS.flatMap(
  (s): Array<[string, string]> => [
    [`syscalls:sys_enter_${s}`, `${s}_enter`],
    [`syscalls:sys_exit_${s}`, "on_exit"],
  ],
);

const MS_MGC_VAL = 0xc0ed0000n;
const MS_MGC_MSK = 0xffff0000n;
const MOUNT_FLAGS: Array<[string, bigint]> = [
  ["MS_RDONLY", 1n],
  ["MS_NOSUID", 2n],
  ["MS_NODEV", 4n],
  ["MS_NOEXEC", 8n],
  ["MS_SYNCHRONOUS", 16n],
  ["MS_REMOUNT", 32n],
  ["MS_MANDLOCK", 64n],
  ["MS_DIRSYNC", 128n],
  ["MS_NOATIME", 1024n],
  ["MS_NODIRATIME", 2048n],
  ["MS_BIND", 4096n],
  ["MS_MOVE", 8192n],
  ["MS_REC", 16384n],
  ["MS_SILENT", 32768n],
  ["MS_POSIXACL", 1n << 16n],
  ["MS_UNBINDABLE", 1n << 17n],
  ["MS_PRIVATE", 1n << 18n],
  ["MS_SLAVE", 1n << 19n],
  ["MS_SHARED", 1n << 20n],
  ["MS_RELATIME", 1n << 21n],
  ["MS_KERNMOUNT", 1n << 22n],
  ["MS_I_VERSION", 1n << 23n],
  ["MS_STRICTATIME", 1n << 24n],
  ["MS_LAZYTIME", 1n << 25n],
  ["MS_ACTIVE", 1n << 30n],
  ["MS_NOUSER", 1n << 31n],
];
const UMOUNT_FLAGS: Array<[string, bigint]> = [
  ["MNT_FORCE", 1n],
  ["MNT_DETACH", 2n],
  ["MNT_EXPIRE", 4n],
  ["UMOUNT_NOFOLLOW", 8n],
];
const FSCONFIG_CMDS = [
  "FSCONFIG_SET_FLAG",
  "FSCONFIG_SET_STRING",
  "FSCONFIG_SET_BINARY",
  "FSCONFIG_SET_PATH",
  "FSCONFIG_SET_PATH_EMPTY",
  "FSCONFIG_SET_FD",
  "FSCONFIG_CMD_CREATE",
  "FSCONFIG_CMD_RECONFIGURE",
  "FSCONFIG_CMD_CREATE_EXCL",
];

function flagList(flags: bigint, list: Array<[string, bigint]>): string[] {
  const out: string[] = [];
  for (const [name, bit] of list) {
    if (flags & bit) out.push(name);
    flags &= ~bit;
  }
  if (flags || out.length === 0) out.push(`0x${flags.toString(16)}`);
  return out;
}

/** bcc's decode_mount_flags. */
export function mountFlags(flags: bigint): string {
  const out: string[] = [];
  if ((flags & MS_MGC_MSK) === MS_MGC_VAL) {
    flags &= ~MS_MGC_MSK;
    out.push("MS_MGC_VAL");
  }
  return [...out, ...flagList(flags, MOUNT_FLAGS)].join("|");
}

const ESCAPES: Record<number, string> = {
  7: "\\a",
  8: "\\b",
  9: "\\t",
  10: "\\n",
  11: "\\v",
  12: "\\f",
  13: "\\r",
  34: '\\"',
  92: "\\\\",
};

/** bcc's decode_mount_string: quoted, bytes outside printable ASCII escaped; NULL for a null pointer. */
export function quoted(bytes: Uint8Array | undefined): string {
  if (!bytes) return "NULL";
  let s = "";
  for (const c of bytes) {
    if (c === 0) break;
    s +=
      ESCAPES[c] ??
      (c >= 0x20 && c <= 0x7e ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, "0")}`);
  }
  return `"${s}"`;
}

/** bcc's decode_errno: "-ENOENT", or the number. */
function errnoText(ret: number): string {
  if (ret >= 0) return String(ret);
  const name = Object.entries(constants.errno).find(([, v]) => v === -ret)?.[0];
  return name ? `-${name}` : String(ret);
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

/** The CALL column: the call with its arguments as bcc prints mount and umount. */
function callText(e: MountEvent, str: (i: number) => Uint8Array | undefined): string {
  const n = (i: number): string => String(e.nums[i] ?? 0n);
  const name = SYSCALLS[e.syscall] ?? "mount";
  let args: string;
  switch (name) {
    case "mount":
      args = `${quoted(str(0))}, ${quoted(str(1))}, ${quoted(str(2))}, ${mountFlags(e.flags)}, ${quoted(str(3))}`;
      break;
    case "umount":
      args = `${quoted(str(1))}, ${flagList(e.flags, UMOUNT_FLAGS).join("|")}`;
      break;
    case "fsopen":
      args = `${quoted(str(0))}, ${hex(e.flags)}`;
      break;
    case "fsconfig": {
      const cmd = Number(e.nums[1] ?? 0n);
      args = `${n(0)}, ${FSCONFIG_CMDS[cmd] ?? cmd}, ${quoted(str(0))}, ${str(1) ? quoted(str(1)) : "NULL"}, ${n(2)}`;
      break;
    }
    case "fsmount":
      args = `${n(0)}, ${hex(e.flags)}, ${hex(e.nums[1] ?? 0n)}`;
      break;
    case "move_mount":
      args = `${n(0)}, ${quoted(str(0))}, ${n(1)}, ${quoted(str(1))}, ${hex(e.flags)}`;
      break;
    default:
      args = `${n(0)}, ${quoted(str(0))}, ${hex(e.flags)}`;
  }
  return `${name}(${args}) = ${errnoText(e.ret)}`;
}

const STR_LEN = 256;

export const tool: Tool = {
  name: "mountsnoop",
  summary: "trace mount() and umount() syscalls",
  options: [{ short: "P", long: "parent_process", type: "flag", help: "also snoop the parent process" }],
  examples: [
    "tsbpf mountsnoop         # trace mount(), umount() and the new mount API's calls",
    "tsbpf mountsnoop -P      # with the parent process",
  ],
  jsonFields: [
    "time",
    "comm",
    "pid",
    "tid",
    "pcomm",
    "ppid",
    "mnt_ns",
    "call",
    "args",
    "flags",
    "ret",
    "text",
  ],
  hookNote: () =>
    "syscall tracepoints (bcc: kprobes on mount and umount): the new mount API (fsopen, fsconfig, fsmount, move_mount, fspick, open_tree, mount_setattr) is traced too",
  hooks: () =>
    TRACEPOINTS.filter(([tp]) => hasTracepoint(tp))
      .map(([tp]) => tp)
      .join(", "),

  async run(ctx) {
    const parent = ctx.args.flag("parent_process");
    const b: BPF = await ctx.open();
    ctx.attachTracepoints(b, TRACEPOINTS);
    const out = ctx.out;
    if (parent)
      out.printf(
        "%-16s %-7s %-7s %-16s %-7s %-11s %s",
        "COMM",
        "PID",
        "TID",
        "PCOMM",
        "PPID",
        "MNT_NS",
        "CALL",
      );
    else out.printf("%-16s %-7s %-7s %-11s %s", "COMM", "PID", "TID", "MNT_NS", "CALL");
    const events = b.getTable<RingBuf>("events");
    events.openRingBuffer((_c, data) => {
      const e = events.event(data) as MountEvent;
      const str = (i: number): Uint8Array | undefined =>
        e.present & (1 << i) ? data.subarray(i * STR_LEN, (i + 1) * STR_LEN) : undefined;
      const text = callText(e, str);
      if (out.json) {
        const strings: Array<string | null> = [0, 1, 2, 3].map((i) => {
          const s = str(i);
          if (!s) return null;
          const end = s.indexOf(0);
          return Buffer.from(s.subarray(0, end < 0 ? s.length : end)).toString("utf8");
        });
        out.record({
          time: new Date().toISOString(),
          comm: e.comm,
          pid: e.pid,
          tid: e.tid,
          pcomm: e.pcomm,
          ppid: e.ppid,
          mnt_ns: e.mnt_ns,
          call: SYSCALLS[e.syscall] ?? "mount",
          args: { strings, numbers: e.nums.map(Number) },
          flags: e.flags,
          ret: e.ret,
          text,
        });
        return;
      }
      if (parent)
        out.printf(
          "%-16s %-7d %-7d %-16s %-7d %-11d %s",
          e.comm,
          e.pid,
          e.tid,
          e.pcomm,
          e.ppid,
          e.mnt_ns,
          text,
        );
      else out.printf("%-16s %-7d %-7d %-11d %s", e.comm, e.pid, e.tid, e.mnt_ns, text);
    });
    await ctx.done();
  },
};
