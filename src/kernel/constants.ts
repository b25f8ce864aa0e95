/**
 * The kernel's numbers that tsbpf uses, in one place: program, map and
 * attach types (uapi/linux/bpf.h's enums: stable ABI, values never change)
 * and error numbers (the platform's, plus the kernel-internal ENOTSUPP that
 * the BPF syscall returns for some unsupported operations).
 */
import type { constants } from "node:os";
import { builtinModule } from "../builtin.js";

/** enum bpf_prog_type. */
export const ProgType = {
  UNSPEC: 0,
  SOCKET_FILTER: 1,
  KPROBE: 2,
  SCHED_CLS: 3,
  SCHED_ACT: 4,
  TRACEPOINT: 5,
  XDP: 6,
  PERF_EVENT: 7,
  CGROUP_SKB: 8,
  CGROUP_SOCK: 9,
  LWT_IN: 10,
  LWT_OUT: 11,
  LWT_XMIT: 12,
  SOCK_OPS: 13,
  SK_SKB: 14,
  CGROUP_DEVICE: 15,
  SK_MSG: 16,
  RAW_TRACEPOINT: 17,
  CGROUP_SOCK_ADDR: 18,
  LWT_SEG6LOCAL: 19,
  LIRC_MODE2: 20,
  SK_REUSEPORT: 21,
  FLOW_DISSECTOR: 22,
  CGROUP_SYSCTL: 23,
  RAW_TRACEPOINT_WRITABLE: 24,
  CGROUP_SOCKOPT: 25,
  TRACING: 26,
  STRUCT_OPS: 27,
  EXT: 28,
  LSM: 29,
  SK_LOOKUP: 30,
  SYSCALL: 31,
  NETFILTER: 32,
} as const;

/** enum bpf_map_type; numeric so generated code needs no enum names. */
export const MapType = {
  UNSPEC: 0,
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  STACK_TRACE: 7,
  CGROUP_ARRAY: 8,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  ARRAY_OF_MAPS: 12,
  HASH_OF_MAPS: 13,
  DEVMAP: 14,
  SOCKMAP: 15,
  CPUMAP: 16,
  XSKMAP: 17,
  SOCKHASH: 18,
  CGROUP_STORAGE: 19,
  REUSEPORT_SOCKARRAY: 20,
  PERCPU_CGROUP_STORAGE: 21,
  QUEUE: 22,
  STACK: 23,
  SK_STORAGE: 24,
  DEVMAP_HASH: 25,
  STRUCT_OPS: 26,
  RINGBUF: 27,
  INODE_STORAGE: 28,
  TASK_STORAGE: 29,
  BLOOM_FILTER: 30,
  USER_RINGBUF: 31,
  CGRP_STORAGE: 32,
  ARENA: 33,
} as const;

/** enum bpf_func_id: the helpers tsbpf looks for by number. */
export const HelperId = {
  /** bpf_override_return (kprobes, CONFIG_BPF_KPROBE_OVERRIDE). */
  OVERRIDE_RETURN: 58,
} as const;

/** A constants table as lower-case names ("ringbuf" → 27), for names users type. */
export function lowerCaseNames(table: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(table)
      .filter(([k]) => k !== "UNSPEC")
      .map(([k, v]) => [k.toLowerCase(), v]),
  );
}

/** A map type's name as bcc's map_type_name has it ("HASH", "PERCPU_ARRAY"), or "<unknown>". */
export function mapTypeName(type: number): string {
  return Object.entries(MapType).find(([, v]) => v === type)?.[0] ?? "<unknown>";
}

/** enum bpf_attach_type (a program's expected attach type). */
export const AttachType = {
  CGROUP_INET_INGRESS: 0,
  CGROUP_INET_EGRESS: 1,
  CGROUP_INET_SOCK_CREATE: 2,
  CGROUP_SOCK_OPS: 3,
  SK_SKB_STREAM_PARSER: 4,
  SK_SKB_STREAM_VERDICT: 5,
  CGROUP_DEVICE: 6,
  SK_MSG_VERDICT: 7,
  CGROUP_INET4_BIND: 8,
  CGROUP_INET6_BIND: 9,
  CGROUP_INET4_CONNECT: 10,
  CGROUP_INET6_CONNECT: 11,
  CGROUP_INET4_POST_BIND: 12,
  CGROUP_INET6_POST_BIND: 13,
  CGROUP_UDP4_SENDMSG: 14,
  CGROUP_UDP6_SENDMSG: 15,
  LIRC_MODE2: 16,
  FLOW_DISSECTOR: 17,
  CGROUP_SYSCTL: 18,
  CGROUP_UDP4_RECVMSG: 19,
  CGROUP_UDP6_RECVMSG: 20,
  CGROUP_GETSOCKOPT: 21,
  CGROUP_SETSOCKOPT: 22,
  TRACE_RAW_TP: 23,
  TRACE_FENTRY: 24,
  TRACE_FEXIT: 25,
  MODIFY_RETURN: 26,
  LSM_MAC: 27,
  TRACE_ITER: 28,
  CGROUP_INET4_GETPEERNAME: 29,
  CGROUP_INET6_GETPEERNAME: 30,
  CGROUP_INET4_GETSOCKNAME: 31,
  CGROUP_INET6_GETSOCKNAME: 32,
  XDP_DEVMAP: 33,
  CGROUP_INET_SOCK_RELEASE: 34,
  XDP_CPUMAP: 35,
  SK_LOOKUP: 36,
  XDP: 37,
  SK_SKB_VERDICT: 38,
  SK_REUSEPORT_SELECT: 39,
  SK_REUSEPORT_SELECT_OR_MIGRATE: 40,
  PERF_EVENT: 41,
  TRACE_KPROBE_MULTI: 42,
  LSM_CGROUP: 43,
} as const;

/**
 * Error numbers by name: the platform's (Linux's, where tsbpf runs) and the
 * kernel-internal ENOTSUPP (524), which bpf() returns for some operations a
 * kernel or map type does not support (batch map calls, trampolines on
 * architectures without them).
 */
// (ENOTSUPP on an object whose prototype is Node's own table, not a copy of
// it: a copy of its ~130 names, and the reverse map built beside it, took
// ~55 KB of a start's young generation and ~0.3 ms, in each bundle that has
// this module; the reverse map is built on the first error that needs it.
// Node's table is node:os's, whose load costs a start 0.5-1.5 ms (Node 20):
// it is loaded at the first name read, and most starts read none.)
export const Errno: Readonly<Record<string, number>> & { ENOTSUPP: 524 } & typeof constants.errno = new Proxy(
  {} as Readonly<Record<string, number>> & { ENOTSUPP: 524 } & typeof constants.errno,
  {
    get: (_, name) => errnoTable()[name as string],
    has: (_, name) => name in errnoTable(),
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false,
  },
);

let table: Readonly<Record<string, number>> | undefined;

/** Node's errno table (node:os's) with ENOTSUPP, made at the first name read. */
function errnoTable(): Readonly<Record<string, number>> {
  table ??= Object.freeze(
    Object.assign(Object.create(osErrno()) as Record<string, number>, { ENOTSUPP: 524 }),
  );
  return table;
}

function osErrno(): typeof constants.errno {
  return builtinModule<typeof import("node:os")>("node:os").constants.errno;
}

let errnoNames: Map<number, string> | undefined;

/** Symbolic name of a positive errno ("EPERM"), or "" when unknown. */
export function errnoName(errno: number): string {
  errnoNames ??= new Map([
    ...Object.entries(osErrno()).map(([name, value]): [number, string] => [value, name]),
    [Errno.ENOTSUPP, "ENOTSUPP"],
  ]);
  return errnoNames.get(errno) ?? "";
}
