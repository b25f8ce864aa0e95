// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Perf events: the constants bcc names them by, opening one per CPU, and the
 * errors when the hardware (or the kernel) has no such event.
 */
import { Errno, ProgType } from "../kernel/constants.js";
import {
  AttachError,
  BpfError,
  isNativeError,
  NotSupportedError,
  PermissionError,
} from "../kernel/errors.js";
import { onlineCpus } from "../kernel/kernel_info.js";
import { native } from "../native.js";
import type { AttachContext } from "./context.js";
import { attachFailure, type Link, nativeLink } from "./link.js";

/** perf_event_attr.type values (enum perf_type_id), as bcc's PerfType names them. Linux 2.6.31+. */
export const PerfType = {
  HARDWARE: 0,
  SOFTWARE: 1,
  TRACEPOINT: 2,
  HW_CACHE: 3,
  RAW: 4,
  BREAKPOINT: 5,
} as const;

/**
 * Hardware events (PerfType.HARDWARE configs; enum perf_hw_id), as bcc's PerfHWConfig names them.
 * Linux 2.6.31+ (STALLED_CYCLES_* 3.0+, REF_CPU_CYCLES 3.3+); the CPU (or hypervisor) must expose a PMU.
 */
export const PerfHWConfig = {
  CPU_CYCLES: 0,
  INSTRUCTIONS: 1,
  CACHE_REFERENCES: 2,
  CACHE_MISSES: 3,
  BRANCH_INSTRUCTIONS: 4,
  BRANCH_MISSES: 5,
  BUS_CYCLES: 6,
  STALLED_CYCLES_FRONTEND: 7,
  STALLED_CYCLES_BACKEND: 8,
  REF_CPU_CYCLES: 9,
} as const;

/**
 * Software events (PerfType.SOFTWARE configs; enum perf_sw_ids), as bcc's PerfSWConfig names them.
 * Linux 2.6.31+ (DUMMY 3.12+, BPF_OUTPUT 4.4+); every kernel with CONFIG_PERF_EVENTS has them.
 */
export const PerfSWConfig = {
  CPU_CLOCK: 0,
  TASK_CLOCK: 1,
  PAGE_FAULTS: 2,
  CONTEXT_SWITCHES: 3,
  CPU_MIGRATIONS: 4,
  PAGE_FAULTS_MIN: 5,
  PAGE_FAULTS_MAJ: 6,
  ALIGNMENT_FAULTS: 7,
  EMULATION_FAULTS: 8,
  DUMMY: 9,
  BPF_OUTPUT: 10,
} as const;

/**
 * What a perf sample records (perf_event_attr.sample_type bits; enum
 * perf_event_sample_format), as bcc's PerfEventSampleFormat names them.
 */
export const PerfEventSampleFormat = {
  IP: 1 << 0,
  TID: 1 << 1,
  TIME: 1 << 2,
  ADDR: 1 << 3,
  READ: 1 << 4,
  CALLCHAIN: 1 << 5,
  ID: 1 << 6,
  CPU: 1 << 7,
  PERIOD: 1 << 8,
  STREAM_ID: 1 << 9,
  RAW: 1 << 10,
  BRANCH_STACK: 1 << 11,
  REGS_USER: 1 << 12,
  STACK_USER: 1 << 13,
  WEIGHT: 1 << 14,
  DATA_SRC: 1 << 15,
  IDENTIFIER: 1 << 16,
  TRANSACTION: 1 << 17,
  REGS_INTR: 1 << 18,
  PHYS_ADDR: 1 << 19,
  AUX: 1 << 20,
  CGROUP: 1 << 21,
  DATA_PAGE_SIZE: 1 << 22,
  CODE_PAGE_SIZE: 1 << 23,
  WEIGHT_STRUCT: 1 << 24,
} as const;

/** Breakpoint kinds (perf_event_attr.bp_type; HW_BREAKPOINT_* in uapi/linux/hw_breakpoint.h). Linux 2.6.33+. */
export const PerfBreakpointType = { EMPTY: 0, R: 1, W: 2, RW: 3, X: 4 } as const;

/** perf_event_open(2) flags for attachPerfEventRaw's extraFlags (PERF_FLAG_*; PID_CGROUP: pid is a cgroup fd, 2.6.39+). */
export const PerfEventOpenFlag = { FD_NO_GROUP: 1, FD_OUTPUT: 2, PID_CGROUP: 4, FD_CLOEXEC: 8 } as const;

/**
 * A raw perf_event_attr for {@link attachPerfEventRaw} (bcc's
 * Perf.perf_event_attr, in camelCase). Fields left out are 0. The event is
 * opened disabled and enabled by the attach; `freq` is set by sampleFreq.
 */
export interface PerfEventAttr {
  /** attr.type: PerfType.SOFTWARE, PerfType.BREAKPOINT, a PMU's type from /sys/bus/event_source/devices/X/type, … */
  type: number;
  /** attr.config (0 for breakpoints). */
  config: number | bigint;
  /** One sample (one run of the program) every samplePeriod events… (attr.sample_period) */
  samplePeriod?: number | bigint;
  /** …or sampleFreq samples a second (attr.sample_freq with attr.freq). */
  sampleFreq?: number;
  /** attr.sample_type: PerfEventSampleFormat bits (PERF_SAMPLE_ADDR, …). */
  sampleType?: number | bigint;
  /** attr.wakeup_events. */
  wakeupEvents?: number;
  /** attr.bp_type: PerfBreakpointType.W, .RW, .X, … (type PerfType.BREAKPOINT). */
  bpType?: number;
  /** attr.bp_addr: the watched address, in the process `pid` (the same field as config1). */
  bpAddr?: number | bigint;
  /** attr.bp_len: bytes watched (1, 2, 4 or 8; sizeof(long) for an execute breakpoint). The same field as config2. */
  bpLen?: number | bigint;
  /** attr.config1 (a PMU's extra config). */
  config1?: number | bigint;
  /** attr.config2. */
  config2?: number | bigint;
  /** Count in child tasks too (attr.inherit). */
  inherit?: boolean;
  /** attr.pinned: always on the PMU. */
  pinned?: boolean;
  /** attr.exclusive: alone on the PMU. */
  exclusive?: boolean;
  /** Leave out user space (attr.exclude_user). */
  excludeUser?: boolean;
  /** Leave out the kernel (attr.exclude_kernel). */
  excludeKernel?: boolean;
  /** Leave out the hypervisor (attr.exclude_hv). */
  excludeHv?: boolean;
  /** Leave out the idle task (attr.exclude_idle). */
  excludeIdle?: boolean;
  /** attr.precise_ip (0-3: how much skid is allowed). */
  preciseIp?: number;
  /** More of perf_event_attr's flag word, as bits (bit 0 disabled, 5 exclude_kernel, …), or-ed in. */
  flags?: number | bigint;
}

/** Options of attachPerfEventRaw (bcc's attach_perf_event_raw). */
export interface PerfEventRawOptions {
  attr: PerfEventAttr;
  fnName: string;
  /** Only this process (default -1: every process). */
  pid?: number;
  /** Only this CPU (default -1: every online CPU when pid is -1, else wherever the process runs). */
  cpu?: number;
  groupFd?: number;
  /** PerfEventOpenFlag bits or-ed into perf_event_open's flags. */
  extraFlags?: number;
}

/** What {@link openPerfEvents} opens (perf_event_open(2), Linux 2.6.31+). */
export interface PerfEventSpec {
  evType: number;
  evConfig: number | bigint;
  /** One sample every samplePeriod events (0 with sampleFreq, or for a counting event). */
  samplePeriod?: number;
  /** Samples per second (attr.freq). */
  sampleFreq?: number;
  /** -1: every process (then per CPU). */
  pid?: number;
  /** -1: every online CPU when pid is -1 too, else any CPU the process runs on. */
  cpu?: number;
  groupFd?: number;
  /** Open disabled (the BPF attach enables it). */
  disabled?: boolean;
  /** The rest of a raw perf_event_attr, and perf_event_open's extra flags (attachPerfEventRaw). */
  raw?: {
    sampleType: number | bigint;
    flags: bigint;
    wakeupEvents: number;
    bpType: number;
    config1: number | bigint;
    config2: number | bigint;
    extraFlags: number;
  };
}

/** The name of a type/config pair for messages: "PERF_COUNT_HW_CPU_CYCLES". Any kernel. */
export function perfEventName(evType: number, evConfig: number | bigint): string {
  const find = (table: Record<string, number>, prefix: string): string | undefined => {
    const name = Object.entries(table).find(([, v]) => v === evConfig)?.[0];
    return name === undefined ? undefined : `${prefix}${name}`;
  };
  if (evType === PerfType.HARDWARE)
    return find(PerfHWConfig, "PERF_COUNT_HW_") ?? `hardware event ${evConfig}`;
  if (evType === PerfType.SOFTWARE)
    return find(PerfSWConfig, "PERF_COUNT_SW_") ?? `software event ${evConfig}`;
  if (evType === PerfType.HW_CACHE) return `hardware cache event 0x${evConfig.toString(16)}`;
  if (evType === PerfType.RAW) return `raw PMU event 0x${evConfig.toString(16)}`;
  if (evType === PerfType.TRACEPOINT) return `tracepoint event ${evConfig}`;
  if (evType === PerfType.BREAKPOINT) return "breakpoint event";
  return `perf event type ${evType} config ${evConfig}`;
}

/** True for the event types a CPU's PMU provides (absent in most VMs). */
function isHardwareType(evType: number): boolean {
  return evType === PerfType.HARDWARE || evType === PerfType.HW_CACHE || evType === PerfType.RAW;
}

/**
 * The error for a failed perf_event_open (any kernel): NotSupportedError when the CPU (or
 * the hypervisor) has no such counter, naming the software event that can
 * stand in; PermissionError for EACCES/EPERM.
 */
export function perfEventOpenError(spec: PerfEventSpec, errno: number, cause: unknown): BpfError {
  const name = perfEventName(spec.evType, spec.evConfig);
  const E = Errno;
  if ((errno === E.ENOENT || errno === E.EOPNOTSUPP || errno === E.ENODEV) && isHardwareType(spec.evType)) {
    return new NotSupportedError(
      `hardware perf event ${name}`,
      "perf_event_open says the CPU has no such counter (no hardware PMU: common in virtual machines)",
      "sample the software event PERF_COUNT_SW_CPU_CLOCK instead (evType: PerfType.SOFTWARE, evConfig: PerfSWConfig.CPU_CLOCK), which every kernel with CONFIG_PERF_EVENTS has",
      { errno },
    );
  }
  if (errno === E.ENOENT || errno === E.EOPNOTSUPP) {
    return new NotSupportedError(
      `perf event ${name}`,
      `perf_event_open refused it (${errno === E.ENOENT ? "ENOENT: no such event" : "EOPNOTSUPP: the event cannot sample"})`,
      "use PerfType.SOFTWARE with PerfSWConfig.CPU_CLOCK",
      { errno },
    );
  }
  if (errno === E.EACCES || errno === E.EPERM) {
    return new PermissionError(
      `opening perf event ${name} needs privileges: run as root, or grant CAP_PERFMON (CAP_SYS_ADMIN before 5.8), or lower /proc/sys/kernel/perf_event_paranoid`,
      "CAP_PERFMON",
      { errno },
    );
  }
  if (errno === E.ESRCH && (spec.pid ?? -1) > 0) {
    return new AttachError(
      `perf event ${name} of process ${spec.pid}`,
      `process ${spec.pid} does not exist (it may have exited before the attach)`,
      "sample a running process, or every process (pid -1)",
      { errno, cause },
    );
  }
  if (spec.evType === PerfType.BREAKPOINT && errno === E.ENOSPC) {
    return new BpfError(
      `perf_event_open of a breakpoint failed with ENOSPC: every hardware debug register is taken (x86 has 4); close other breakpoints or watchpoints first`,
      { errno, cause },
    );
  }
  if (errno === E.EINVAL && (spec.sampleFreq ?? 0) > 0) {
    return new BpfError(
      `perf_event_open of ${name} failed with EINVAL: sampleFreq ${spec.sampleFreq} may exceed /proc/sys/kernel/perf_event_max_sample_rate`,
      { errno, cause },
    );
  }
  return new BpfError(`perf_event_open of ${name} failed: ${(cause as Error).message}`, { errno, cause });
}

/** The CPUs to open an event on: every online CPU for a system-wide event (pid and cpu -1). Any kernel. */
export function perfEventCpus(pid: number, cpu: number): number[] {
  return pid === -1 && cpu === -1 ? onlineCpus() : [cpu];
}

/** Opens the event on each of `cpus` → fds (all closed again when one fails). Linux 2.6.31+. */
export function openPerfEvents(spec: PerfEventSpec, cpus: number[]): number[] {
  const fds: number[] = [];
  try {
    for (const cpu of cpus) {
      try {
        fds.push(
          native().perfEventOpen({
            type: spec.evType,
            config: spec.evConfig,
            samplePeriod: spec.samplePeriod ?? 0,
            sampleFreq: spec.sampleFreq ?? 0,
            pid: spec.pid ?? -1,
            cpu,
            groupFd: spec.groupFd ?? -1,
            disabled: spec.disabled ?? false,
            ...spec.raw,
          }),
        );
      } catch (err) {
        if (!isNativeError(err)) throw err;
        throw perfEventOpenError(spec, err.errno, err);
      }
    }
  } catch (err) {
    for (const fd of fds) native().closeFd(fd);
    throw err;
  }
  return fds;
}

/** Options of attachPerfEvent (bcc's attach_perf_event). */
export interface PerfEventOptions {
  evType: number;
  evConfig: number;
  fnName: string;
  /** Run once every samplePeriod events… */
  samplePeriod?: number;
  /** …or sampleFreq times a second (exactly one of the two). */
  sampleFreq?: number;
  /** Only this process (default -1: every process). */
  pid?: number;
  /** Only this CPU (default -1: every online CPU). */
  cpu?: number;
  groupFd?: number;
}

/** Attaches fnName (a perf-event program) to a perf event on each CPU: a link per CPU. */
export function attachPerfEvent(ctx: AttachContext, opts: PerfEventOptions): Link[] {
  const period = opts.samplePeriod ?? 0;
  const freq = opts.sampleFreq ?? 0;
  if (period > 0 === freq > 0)
    throw new BpfError("attachPerfEvent needs exactly one of samplePeriod and sampleFreq (above 0)");
  const pid = opts.pid ?? -1;
  const spec = { ...opts, samplePeriod: period, sampleFreq: freq, pid, disabled: true };
  return attachSpec(ctx, opts.fnName, spec, perfEventCpus(pid, opts.cpu ?? -1));
}

/** perf_event_attr's flag bits (include/uapi/linux/perf_event.h): the named ones of {@link PerfEventAttr}. */
const ATTR_BITS = {
  inherit: 1n,
  pinned: 2n,
  exclusive: 3n,
  excludeUser: 4n,
  excludeKernel: 5n,
  excludeHv: 6n,
  excludeIdle: 7n,
} as const;

/** The flag word of a raw attr: its named booleans, preciseIp (bits 15-16) and its own `flags`. */
function attrFlags(attr: PerfEventAttr): bigint {
  let flags = BigInt(attr.flags ?? 0);
  for (const [name, bit] of Object.entries(ATTR_BITS))
    if (attr[name as keyof typeof ATTR_BITS]) flags |= 1n << bit;
  const precise = attr.preciseIp ?? 0;
  if (!Number.isInteger(precise) || precise < 0 || precise > 3)
    throw new BpfError(`attachPerfEventRaw: preciseIp must be 0, 1, 2 or 3, not ${precise}`);
  return flags | (BigInt(precise) << 15n);
}

/** One of two names for the same attr field (bpAddr/config1, bpLen/config2), checked to agree. */
function unionField(a: number | bigint | undefined, b: number | bigint | undefined, names: string): bigint {
  if (a !== undefined && b !== undefined && BigInt(a) !== BigInt(b))
    throw new BpfError(`attachPerfEventRaw: ${names} are the same perf_event_attr field; give one`);
  return BigInt(a ?? b ?? 0);
}

/**
 * Attaches fnName to the perf event a raw perf_event_attr describes, on each CPU
 * (bcc's attach_perf_event_raw): a link per CPU, detached by type and config
 * (detachPerfEvent). Linux 4.9+; breakpoints need hardware debug registers.
 */
export function attachPerfEventRaw(ctx: AttachContext, opts: PerfEventRawOptions): Link[] {
  const { attr } = opts;
  const period = BigInt(attr.samplePeriod ?? 0);
  const freq = attr.sampleFreq ?? 0;
  if (period > 0n === freq > 0)
    throw new BpfError(
      "attachPerfEventRaw needs exactly one of attr.samplePeriod and attr.sampleFreq (above 0): the program runs once per sample, and a counting event never samples",
    );
  const config1 = unionField(attr.bpAddr, attr.config1, "bpAddr and config1");
  const config2 = unionField(attr.bpLen, attr.config2, "bpLen and config2");
  if (attr.type === PerfType.BREAKPOINT && (!attr.bpType || config2 === 0n))
    throw new BpfError(
      "attachPerfEventRaw: a breakpoint event needs attr.bpType (PerfBreakpointType.W, .RW, .X), attr.bpAddr and attr.bpLen",
    );
  const pid = opts.pid ?? -1;
  const spec: PerfEventSpec = {
    evType: attr.type,
    evConfig: attr.config,
    samplePeriod: Number(period),
    sampleFreq: freq,
    pid,
    groupFd: opts.groupFd,
    disabled: true,
    raw: {
      sampleType: attr.sampleType ?? 0,
      flags: attrFlags(attr),
      wakeupEvents: attr.wakeupEvents ?? 0,
      bpType: attr.bpType ?? 0,
      config1,
      config2,
      extraFlags: opts.extraFlags ?? 0,
    },
  };
  return attachSpec(ctx, opts.fnName, spec, perfEventCpus(pid, opts.cpu ?? -1));
}

/** Opens spec's event on each of cpus and attaches fnName to each, as a perf-event program. */
function attachSpec(ctx: AttachContext, fnName: string, spec: PerfEventSpec, cpus: number[]): Link[] {
  const fn = ctx.loadFunc(fnName, ProgType.PERF_EVENT);
  const fds = openPerfEvents(spec, cpus);
  const links: Link[] = [];
  const key = `${spec.evType}:${spec.evConfig}`;
  for (let i = 0; i < fds.length; i++) {
    try {
      // The link owns the fd from here (and closes it when the attach fails).
      links.push(
        nativeLink(
          "perf_event",
          key,
          fnName,
          native().attachPerfEvent(fn.object, fn.elfName, fds[i] as number),
        ),
      );
    } catch (err) {
      for (const fd of fds.slice(i + 1)) native().closeFd(fd);
      for (const l of links) l.close();
      throw attachFailure(err, `perf event ${perfEventName(spec.evType, spec.evConfig)}`);
    }
  }
  return links;
}
