/**
 * What BPF objects share and that needs no object: bcc's constants, what
 * the running kernel has, syscall names, symbols and trace_pipe (one global
 * reader). class BPF extends it; as in bcc, these are reached through BPF
 * (BPF.supports(…), b.traceFields(), b.ksym(…)).
 */

import { attachKind } from "./attach/kinds.js";
import { kprobeFunctions } from "./attach/kprobe.js";
import { probeLimit } from "./attach/quota.js";
import { tracepointsMatching } from "./attach/tracepoint.js";
import { userFunctions } from "./attach/uprobe.js";
import { removeXdp } from "./attach/xdp.js";
import * as xdp from "./attach/xdp_constants.js";
import { addModule, type BuildIdFrame, symBuildId } from "./elf/buildid_syms.js";
import { clearElfCache } from "./elf/elf.js";
import {
  findExe,
  findLibrary,
  forgetProcessSymbols,
  getUserAddresses,
  getUserFunctionsAndAddresses,
  resolveName,
  sym,
  type UserFunctionAddress,
} from "./elf/procmaps.js";
import { ProgType } from "./kernel/constants.js";
import { btfAttachSupport, kprobeSupport, progTypeSupport, type Support } from "./kernel/features.js";
import { ksym, ksymname } from "./kernel/kallsyms.js";
import { kernelEnumHasVal, kernelStructHasField } from "./kernel/kernel_btf.js";
import { syscallPrefix } from "./kernel/kernel_info.js";
import { supports } from "./kernel/supports.js";
import { sharedTracePipe, type TraceLine, traceLostEvents, tracePrint } from "./kernel/trace_pipe.js";
import { tracefsRoot, tracepointExists } from "./kernel/tracefs.js";
import { native } from "./native.js";

export class BpfBase {
  /** Program types for {@link BPF.loadFunc}, as bcc names them. */
  static readonly SOCKET_FILTER = ProgType.SOCKET_FILTER;
  static readonly KPROBE = ProgType.KPROBE;
  static readonly SCHED_CLS = ProgType.SCHED_CLS;
  static readonly SCHED_ACT = ProgType.SCHED_ACT;
  static readonly TRACEPOINT = ProgType.TRACEPOINT;
  static readonly XDP = ProgType.XDP;
  static readonly PERF_EVENT = ProgType.PERF_EVENT;
  static readonly CGROUP_SKB = ProgType.CGROUP_SKB;
  static readonly CGROUP_SOCK = ProgType.CGROUP_SOCK;
  static readonly LWT_IN = ProgType.LWT_IN;
  static readonly LWT_OUT = ProgType.LWT_OUT;
  static readonly LWT_XMIT = ProgType.LWT_XMIT;
  static readonly SOCK_OPS = ProgType.SOCK_OPS;
  static readonly SK_SKB = ProgType.SK_SKB;
  static readonly CGROUP_DEVICE = ProgType.CGROUP_DEVICE;
  static readonly SK_MSG = ProgType.SK_MSG;
  static readonly RAW_TRACEPOINT = ProgType.RAW_TRACEPOINT;
  static readonly CGROUP_SOCK_ADDR = ProgType.CGROUP_SOCK_ADDR;
  static readonly CGROUP_SYSCTL = ProgType.CGROUP_SYSCTL;
  static readonly CGROUP_SOCKOPT = ProgType.CGROUP_SOCKOPT;
  static readonly TRACING = ProgType.TRACING;
  static readonly LSM = ProgType.LSM;
  /** What an XDP program returns, as bcc names it (XDPAction). */
  static readonly XDP_ABORTED = xdp.XDPAction.XDP_ABORTED;
  static readonly XDP_DROP = xdp.XDPAction.XDP_DROP;
  static readonly XDP_PASS = xdp.XDPAction.XDP_PASS;
  static readonly XDP_TX = xdp.XDPAction.XDP_TX;
  static readonly XDP_REDIRECT = xdp.XDPAction.XDP_REDIRECT;
  /** bcc's XDP flags: attach only if none is there (4.8+), generic (4.12+), native, offloaded (4.13+), replace (5.7+). */
  static readonly XDP_FLAGS_UPDATE_IF_NOEXIST = xdp.XDP_FLAGS_UPDATE_IF_NOEXIST;
  static readonly XDP_FLAGS_SKB_MODE = xdp.XDP_FLAGS_SKB_MODE;
  static readonly XDP_FLAGS_DRV_MODE = xdp.XDP_FLAGS_DRV_MODE;
  static readonly XDP_FLAGS_HW_MODE = xdp.XDP_FLAGS_HW_MODE;
  static readonly XDP_FLAGS_REPLACE = xdp.XDP_FLAGS_REPLACE;

  /**
   * CLOCK_MONOTONIC in nanoseconds: the clock of bpf_ktime_get_ns(), so
   * timestamps a program records compare with it (bcc's monotonic_time,
   * which returns a float; this is exact).
   */
  static monotonicTime(): bigint {
    // libuv's hrtime reads CLOCK_MONOTONIC on Linux (uv__hrtime).
    return process.hrtime.bigint();
  }

  /** Removes device dev's XDP program, whichever it is, with no BPF object needed (bcc's static remove_xdp). */
  static removeXdp(dev: string, flags = 0): void {
    removeXdp(dev, flags);
  }

  /** The prefix of syscall functions on this kernel, e.g. "__x64_sys_". */
  getSyscallPrefix(): string {
    return syscallPrefix();
  }

  /** The kernel function of a syscall: getSyscallFnname("execve") → "__x64_sys_execve". */
  getSyscallFnname(name: string): string {
    return syscallPrefix() + name;
  }

  /** A syscall function named for another kernel ("sys_execve", "__x64_sys_execve") as this one names it (bcc's fix_syscall_fnname). */
  fixSyscallFnname(name: string): string {
    const m = /^(?:__(?:x64|x32_compat|ia32_compat|arm64|s390x|s390)_sys_|sys_)(\w+)$/.exec(name);
    return m ? syscallPrefix() + m[1] : name;
  }

  /** prefix + name, unless name already starts with prefix (bcc's add_prefix). */
  static addPrefix(prefix: string, name: string): string {
    return name.startsWith(prefix) ? name : prefix + name;
  }

  /** The cap on the probes a pattern may open (TSBPF_PROBE_LIMIT, BCC_PROBE_LIMIT, default 1000; bcc's get_probe_limit). */
  static getProbeLimit(): number {
    return probeLimit();
  }

  // ---- what the kernel has ----

  /** Kernel functions matching re that can be kprobed (bcc's get_kprobe_functions). */
  static getKprobeFunctions(re: RegExp | string): string[] {
    return kprobeFunctions(typeof re === "string" ? new RegExp(re) : re);
  }

  /** Every tracepoint "category:event" matching re (all when omitted). */
  static getTracepoints(re?: RegExp | string): string[] {
    return tracepointsMatching(re);
  }

  /** True when tracepoint category:event exists. */
  static tracepointExists(category: string, event: string): boolean {
    return tracepointExists(category, event);
  }

  /** True when this kernel's `struct name` has member `field`, from its BTF (bcc's kernel_struct_has_field). */
  static kernelStructHasField(name: string, field: string): boolean {
    return kernelStructHasField(name, field);
  }

  /** True when this kernel's `enum name` has enumerator `value` (bcc's kernel_enum_has_val). */
  static kernelEnumHasVal(name: string, value: string): boolean {
    return kernelEnumHasVal(name, value);
  }

  /** True when this kernel has kprobes (CONFIG_KPROBES). */
  static supportKprobe(): boolean {
    return kprobeSupport() === "yes";
  }

  /** True when this kernel has raw tracepoints (Linux 4.17+). */
  static supportRawTracepoint(): boolean {
    return progTypeSupport(attachKind("raw_tracepoint").progType) === "yes";
  }

  /** True when raw tracepoints of kernel modules can be attached (Linux 5.0+: the kernel has bpf_trace_modules). */
  static supportRawTracepointInModule(): boolean {
    return BpfBase.supportRawTracepoint() && ksymname("bpf_trace_modules") !== undefined;
  }

  /** True when this kernel loads and attaches fentry/fexit programs (5.5+ on x86-64, with BTF, and not refused). */
  static supportKfunc(): boolean {
    return progTypeSupport(ProgType.TRACING) === "yes" && native().probeTracing() === 1;
  }

  /** True when this kernel loads, attaches and runs BPF LSM programs (5.7+, "bpf" LSM active). */
  static supportLsm(): boolean {
    return btfAttachSupport("lsm") === "yes";
  }

  /** True when this kernel loads and attaches tp_btf programs (5.5+ with BTF). */
  static supportBtfTracepoint(): boolean {
    return btfAttachSupport("tp_btf") === "yes";
  }

  /**
   * Whether this kernel supports a feature: "yes", "no" or "unknown" (only
   * definite answers are cached). Names: attach kinds (kprobe, tracepoint,
   * fentry, lsm, perf_event:hardware, xdp, ringbuf, override_return, …),
   * "prog:TYPE", "map:TYPE", "helper:NAME" and "helper:NAME@TYPE".
   * @throws BpfError for a name it does not know (listing the known ones).
   */
  static supports(feature: string): Support {
    return supports(feature);
  }

  /** A shared library's path as the loader would find it (bcc's find_library): "c" → libc; with pid, that process's. */
  static findLibrary(name: string, pid?: number): string | undefined {
    return findLibrary(name, pid);
  }

  /** The executable called name in $PATH, or name when it is a path to one (bcc's find_exe). */
  static findExe(name: string): string | undefined {
    return findExe(name);
  }

  /** Names of a binary's functions matching re (bcc's get_user_functions). */
  static getUserFunctions(path: string, re: RegExp | string): string[] {
    return userFunctions(path, typeof re === "string" ? new RegExp(re) : re);
  }

  /** Addresses of a binary's functions matching re (bcc's get_user_addresses). */
  static getUserAddresses(path: string, re: RegExp | string): bigint[] {
    return getUserAddresses(path, re);
  }

  /** Names and addresses of a binary's functions matching re (bcc's get_user_functions_and_addresses). */
  static getUserFunctionsAndAddresses(path: string, re: RegExp | string): UserFunctionAddress[] {
    return getUserFunctionsAndAddresses(path, re);
  }

  /**
   * A function's address: its link-time address in a binary (a path or a
   * library name), or where it is in a running process (a pid; `module`
   * narrows to one of its files), as bcc's SymbolCache.resolve_name; stripped
   * binaries through their separate debug files. undefined when not found.
   */
  static resolveName(
    target: string | number,
    name: string,
    opts: { module?: string } = {},
  ): bigint | undefined {
    return resolveName(target, name, opts);
  }

  // ---- symbols and trace_pipe ----

  /** The kernel function containing addr (bcc's ksym): "[unknown]" when none. */
  ksym(addr: bigint | number, opts: { showModule?: boolean; showOffset?: boolean } = {}): string {
    return ksym(BigInt(addr), opts);
  }

  /** The address of a kernel symbol (bcc's ksymname; undefined where bcc returns -1). */
  ksymname(name: string): bigint | undefined {
    return ksymname(name);
  }

  /** The user-space function containing addr in process pid (bcc's sym), demangled. "[unknown]" when none. */
  sym(
    addr: bigint | number | BuildIdFrame,
    pid: number,
    opts: { showModule?: boolean; showOffset?: boolean; demangle?: boolean } = {},
  ): string {
    if (typeof addr === "object") return symBuildId(addr, opts);
    return sym(BigInt(addr), pid, opts);
  }

  /**
   * Registers a binary whose frames build-id stacks (BPF_STACK_TRACE_BUILDID)
   * may hold, for sym() to resolve them (bcc's add_module); stripped ones
   * through their debug files. Returns its build-id.
   */
  static addModule(path: string): string {
    return addModule(path);
  }

  /**
   * Drops the symbols cached for process pid now, or with no pid those of
   * every process and every binary read. Not needed to bound memory: the
   * caches hold at most 1024 processes and 256 binaries, and a process's
   * entries go 10 s after it exits (kept that long so that late stacks still
   * resolve).
   */
  static forgetSymbols(pid?: number): void {
    forgetProcessSymbols(pid);
    if (pid === undefined) clearElfCache();
  }

  /**
   * Opens trace_pipe now (bcc's trace_open): reads open it on demand, so
   * this only makes an error (another reader holds it: EBUSY) show at once.
   * Reads never block the event loop, so bcc's `nonblocking` has no
   * counterpart.
   */
  traceOpen(): void {
    sharedTracePipe().open();
  }

  /** Where tracefs is mounted (bcc's BPF.TRACEFS), mounting it first when it is not. */
  static get TRACEFS(): string {
    return tracefsRoot();
  }

  /** The next bpf_trace_printk line as bcc's trace_fields() gives it (waits for one). */
  async traceFieldsOnce(signal?: AbortSignal): Promise<TraceLine | undefined> {
    for await (const f of sharedTracePipe().fields(signal)) return f;
    return undefined;
  }

  /** trace_pipe lines as { task, pid, cpu, flags, ts, msg }, as they arrive, until signal aborts. */
  traceFields(opts: { signal?: AbortSignal } = {}): AsyncGenerator<TraceLine> {
    return sharedTracePipe().fields(opts.signal);
  }

  /** The next parsed line if one is there now, else undefined (bcc's nonblocking=True). */
  traceFieldsNonBlocking(): TraceLine | undefined {
    return sharedTracePipe().fieldsNow();
  }

  /** The next raw trace_pipe line (waits for one; undefined when aborted). */
  traceReadline(opts: { signal?: AbortSignal } = {}): Promise<string | undefined> {
    return sharedTracePipe().readline(opts.signal);
  }

  /** Prints trace_pipe lines until signal aborts: raw, or with bcc's format fields {0}..{5} (bcc's trace_print). */
  tracePrint(opts: { fmt?: string; signal?: AbortSignal; write?: (s: string) => void } = {}): Promise<void> {
    return tracePrint(opts);
  }

  /** Events the kernel dropped from trace_pipe (its "[LOST N EVENTS]" markers). */
  static traceLostEvents(): number {
    return traceLostEvents();
  }
}
