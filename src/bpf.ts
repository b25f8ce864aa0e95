/**
 * class BPF: the bcc-shaped front door. bcc's Python names in camelCase, with
 * options objects, async iterators and AbortSignal next to them.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { btfTracepointError } from "./attach/btf_tracepoint.js";
import { lsmInactiveError, type TrampolineKind, trampolineRefusal } from "./attach/kfunc.js";
import { kprobeAttachError, kprobeFunctions, kprobeNotSupported } from "./attach/kprobe.js";
import { openPerfEvents, perfEventCpus, perfEventName } from "./attach/perf_event.js";
import { functionSource, rawTracepointArgsError } from "./attach/raw_tracepoint.js";
import {
  resolveUprobe,
  resolveUprobeRe,
  type UprobeTarget,
  uprobeAttachError,
  uprobeNotSupported,
  userFunctions,
} from "./attach/uprobe.js";
import { loadUsdtObject, type USDT, usdtAttachError } from "./attach/usdt.js";
import {
  ifindexOf,
  XDP_FLAGS_DRV_MODE,
  XDP_FLAGS_HW_MODE,
  XDP_FLAGS_MODES,
  XDP_FLAGS_REPLACE,
  XDP_FLAGS_SKB_MODE,
  XDP_FLAGS_UPDATE_IF_NOEXIST,
  xdpAttachError,
} from "./attach/xdp.js";
import { Btf, mapDefFromBtf } from "./btf/btf.js";
import { type CompiledObject, compileBcc, DEBUG_BPF, DEBUG_BPF_REGISTER_STATE } from "./compile/compile.js";
import { disassemble, sectionBytes } from "./compile/disasm.js";
import { findExe, findLibrary, sym } from "./elf/procmaps.js";
import { AttachType, Errno, MapType, ProgType } from "./kernel/constants.js";
import {
  AttachError,
  BpfError,
  ClosedError,
  isNativeError,
  isPermissionErrno,
  permissionErrorFor,
  VerifierError,
} from "./kernel/errors.js";
import {
  bpfLsmActive,
  btfAttachSupport,
  kprobeSupport,
  progTypeSupport,
  type Support,
  uprobeSupport,
} from "./kernel/features.js";
import { ksym, ksymname } from "./kernel/kallsyms.js";
import { kernelEnumHasVal, kernelStructHasField } from "./kernel/kernel_btf.js";
import { possibleCpus, syscallPrefix } from "./kernel/kernel_info.js";
import { supports } from "./kernel/supports.js";
import { formatTraceFields } from "./kernel/trace_line.js";
import { type TraceLine, TracePipe } from "./kernel/trace_pipe.js";
import {
  closestNames,
  listTracepoints,
  tracepointExists,
  unknownTracepointMessage,
} from "./kernel/tracefs.js";
import { track, untrack } from "./lifecycle.js";
import { type LoadedFunction, ProgramLoader } from "./loader.js";
import { type EventReader, PerfEventArray, RingBuf } from "./maps/event_tables.js";
import { makeTable, type Table, type TableInfo } from "./maps/table.js";
import type { NativeLink, NativeObject } from "./native.js";
import { native } from "./native.js";

export type { TraceLine } from "./kernel/trace_pipe.js";
export type { LoadedFunction } from "./loader.js";

/** Options of {@link BPF.load}. */
export interface LoadOptions {
  /** The C program, in bcc's dialect or libbpf style. */
  text?: string;
  /** A file holding the C program. */
  srcFile?: string;
  /** Extra clang flags. */
  cflags?: string[];
  /** bcc's debug flags (DEBUG_SOURCE, DEBUG_BPF_REGISTER_STATE, …). */
  debug?: number;
  /** Attach kprobe__X, tracepoint__cat__ev, … functions at load, as bcc does (default true). */
  autoAttach?: boolean;
  /**
   * USDT contexts whose enabled probes are attached at load, before the
   * auto-attach functions (bcc's usdt_contexts). See {@link USDT}.
   */
  usdtContexts?: USDT[];
}

interface Attachment {
  /** kprobe: the function; tracepoint: "cat:ev"; raw tracepoint: the event. */
  target: string;
  fnName: string;
  link: NativeLink;
}

/** BPF objects open in this process. */
let openObjects = 0;

/** A process-wide trace_pipe reader: trace_pipe is global and destructive. */
let sharedTracePipe: TracePipe | undefined;
function tracePipe(): TracePipe {
  sharedTracePipe ??= new TracePipe();
  return sharedTracePipe;
}

/** A compiled BPF program set, its loaded functions and attachments. */
export class BPF {
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
  static readonly SOCK_OPS = ProgType.SOCK_OPS;
  static readonly RAW_TRACEPOINT = ProgType.RAW_TRACEPOINT;
  static readonly TRACING = ProgType.TRACING;
  static readonly LSM = ProgType.LSM;

  private readonly loader: ProgramLoader;
  private readonly kprobes: Attachment[] = [];
  private readonly tracepoints: Attachment[] = [];
  private readonly rawTracepoints: Attachment[] = [];
  private readonly tables = new Map<string, Table>();
  private readonly perfReaders = new Set<EventReader>();
  private readonly ringReaders = new Set<EventReader>();
  private btfCache: Btf | null | undefined;
  private closed = false;

  private constructor(
    /** The compiled object and what tsbpf learnt about its functions. */
    readonly compiled: CompiledObject,
    debug: number,
  ) {
    this.loader = new ProgramLoader({
      elf: compiled.elf,
      programs: compiled.programs,
      maps: compiled.maps,
      objectName: objectNameOf(compiled.fileName),
      fileName: compiled.fileName,
      source: compiled.source,
      translated: compiled.translated,
      logLevel: debug & DEBUG_BPF_REGISTER_STATE ? 2 : 0,
      // bcc prints each function's instructions (DEBUG_BPF) and its verifier
      // log (DEBUG_BPF_REGISTER_STATE) as it loads it.
      onLoaded: (fn, verifierLog) => {
        if (debug & DEBUG_BPF) {
          process.stderr.write(
            `; ${fn.name}: ${fn.elfName}\n${disassemble(compiled.elf, this.sectionOf(fn.name))}\n`,
          );
        }
        if (debug & DEBUG_BPF_REGISTER_STATE)
          process.stderr.write(`; verifier log of ${fn.name}\n${verifierLog}\n`);
      },
    });
    track(this);
    openObjects++;
  }

  /**
   * Compiles a program (cached) and attaches its auto-attach functions.
   * Functions load lazily, with the type their attach call implies.
   */
  static async load(opts: LoadOptions): Promise<BPF> {
    let text = opts.text;
    let fileName = "<text>.c";
    if (text === undefined) {
      if (opts.srcFile === undefined) throw new BpfError("BPF.load needs text or srcFile");
      text = readFileSync(opts.srcFile, "utf8");
      fileName = opts.srcFile;
    }
    const cflags = [...(opts.cflags ?? []), ...BPF.usdtCflags(text, opts.usdtContexts ?? [])];
    const compiled = await compileBcc({ text, fileName, cflags, debug: opts.debug ?? 0 });
    const b = new BPF(compiled, opts.debug ?? 0);
    try {
      b.attachUsdtContexts(opts.usdtContexts ?? [], opts.debug ?? 0);
    } catch (err) {
      b.close();
      throw err;
    }
    if (opts.autoAttach !== false) {
      try {
        b.autoAttach();
      } catch (err) {
        b.close();
        throw err;
      }
    }
    return b;
  }

  private autoAttach(): void {
    for (const p of this.compiled.programs) {
      const a = p.autoAttach;
      if (!a) continue;
      if (a.kind === "kprobe") this.attachKprobe({ event: this.fixSyscallFnname(a.target), fnName: p.name });
      else if (a.kind === "kretprobe")
        this.attachKretprobe({ event: this.fixSyscallFnname(a.target), fnName: p.name });
      else if (a.kind === "tracepoint") this.attachTracepoint({ tp: a.target, fnName: p.name });
      else if (a.kind === "kfunc") this.attachKfunc({ fnName: p.name, target: a.target });
      else if (a.kind === "kretfunc") this.attachKretfunc({ fnName: p.name, target: a.target });
      else if (a.kind === "kmod_ret") this.attachKmodRet({ fnName: p.name, target: a.target });
      else if (a.kind === "lsm") this.attachLsm({ fnName: p.name, target: a.target });
      else if (a.kind === "btf_tracepoint") this.attachBtfTracepoint({ tp: a.target, fnName: p.name });
      else this.attachRawTracepoint({ tp: a.target, fnName: p.name });
    }
  }

  private check(): void {
    if (this.closed) throw new ClosedError("BPF object");
  }

  /** Loads a function as a program of the given type (bcc's load_func). */
  loadFunc(fnName: string, progType: number): LoadedFunction {
    this.check();
    const info = this.loader.info(fnName);
    if (!info) {
      const names = this.loader.functionNames();
      const close = closestNames(fnName, names, 3);
      throw new BpfError(
        `no function ${fnName} in ${this.compiled.fileName}` +
          (close.length
            ? `; did you mean ${close.join(", ")}?`
            : `; its functions are: ${names.join(", ") || "(none)"}`),
      );
    }
    const elfName =
      progType === ProgType.TRACEPOINT && info.variants.tracepoint ? info.variants.tracepoint : fnName;
    try {
      return this.loader.load(fnName, progType, elfName);
    } catch (err) {
      if (isNativeError(err) && isPermissionErrno(err.errno)) {
        throw permissionErrorFor(`loading ${fnName}`, err.errno) ?? err;
      }
      throw err;
    }
  }

  /** The ELF section of a function's program. */
  private sectionOf(fnName: string): string {
    const info = this.loader.info(fnName);
    if (!info) throw new BpfError(`no function ${fnName} in ${this.compiled.fileName}`);
    return info.section;
  }

  /**
   * The instructions of a function as compiled (8 bytes each), before libbpf
   * relocates maps and calls (bcc's dump_func).
   */
  dumpFunc(fnName: string): Uint8Array {
    this.check();
    return sectionBytes(this.compiled.elf, this.sectionOf(fnName));
  }

  /** The disassembly of a function, with source line numbers (bcc's disassemble_func). */
  disassembleFunc(fnName: string): string {
    this.check();
    return disassemble(this.compiled.elf, this.sectionOf(fnName));
  }

  // ---- syscalls ----

  /** The prefix of syscall functions on this kernel, e.g. "__x64_sys_". */
  getSyscallPrefix(): string {
    return syscallPrefix();
  }

  /** The kernel function of a syscall: getSyscallFnname("execve") → "__x64_sys_execve". */
  getSyscallFnname(name: string): string {
    return syscallPrefix() + name;
  }

  /** bcc turns kprobe__sys_X into the real syscall function name. */
  private fixSyscallFnname(name: string): string {
    const prefix = syscallPrefix();
    if (name.startsWith("sys_") && prefix !== "sys_") return prefix + name.slice(4);
    return name;
  }

  // ---- kprobes ----

  /**
   * Attaches fnName to a kernel function's entry. Needs CONFIG_KPROBES (and
   * Linux 4.17+ for the fd-based kprobe PMU that leaves nothing behind).
   * @throws NotSupportedError when the kernel has no kprobes, naming the tracepoint to use instead.
   */
  attachKprobe(opts: { event?: string; fnName: string; eventOff?: number; eventRe?: RegExp | string }): void {
    this.attachKprobeImpl(opts, false);
  }

  /** Attaches fnName to a kernel function's return. Same needs as {@link attachKprobe}. */
  attachKretprobe(opts: { event?: string; fnName: string; eventRe?: RegExp | string }): void {
    this.attachKprobeImpl(opts, true);
  }

  private attachKprobeImpl(
    opts: { event?: string; fnName: string; eventOff?: number; eventRe?: RegExp | string },
    retprobe: boolean,
  ): void {
    this.check();
    const events =
      opts.eventRe !== undefined
        ? BPF.getKprobeFunctions(opts.eventRe)
        : opts.event !== undefined
          ? [opts.event]
          : (() => {
              throw new BpfError(`attach${retprobe ? "Kretprobe" : "Kprobe"} needs event or eventRe`);
            })();
    if (kprobeSupport() === "no") {
      // bcc loads the function before it attaches. For a function that calls
      // bpf_override_return, the load's error (no error injection in this
      // kernel) is the one that matters: no tracepoint can stand in for it.
      if (this.loader.info(opts.fnName) && callsHelper(this.dumpFunc(opts.fnName), HELPER_OVERRIDE_RETURN))
        this.loadFunc(opts.fnName, ProgType.KPROBE);
      throw kprobeNotSupported(events[0] ?? opts.fnName, retprobe);
    }
    if (events.length === 0)
      throw new AttachError(`kprobes matching ${String(opts.eventRe)}`, "no kernel function matches");
    const fn = this.loadFunc(opts.fnName, ProgType.KPROBE);
    for (const event of events) {
      try {
        const link = native().attachKprobe(fn.object, fn.elfName, {
          func: event,
          offset: opts.eventOff ?? 0,
          retprobe,
        });
        this.kprobes.push({ target: `${retprobe ? "r" : "p"}:${event}`, fnName: opts.fnName, link });
      } catch (err) {
        if (!isNativeError(err)) throw err;
        throw kprobeAttachError(event, err.errno, retprobe, err);
      }
    }
  }

  /** Detaches the kprobes on event (those of fnName only, when given). */
  detachKprobe(opts: { event: string; fnName?: string }): void {
    this.detach(this.kprobes, `p:${opts.event}`, opts.fnName, `kprobe ${opts.event}`);
  }

  /** Detaches the kretprobes on event. */
  detachKretprobe(opts: { event: string; fnName?: string }): void {
    this.detach(this.kprobes, `r:${opts.event}`, opts.fnName, `kretprobe ${opts.event}`);
  }

  /** Kernel functions matching re that can be kprobed (from available_filter_functions). */
  static getKprobeFunctions(re: RegExp | string): string[] {
    return kprobeFunctions(typeof re === "string" ? new RegExp(re) : re);
  }

  /**
   * True when the running kernel's `struct name` has member `field`, from its
   * BTF (bcc's kernel_struct_has_field), e.g. ("task_struct", "__state") on 5.14+.
   */
  static kernelStructHasField(name: string, field: string): boolean {
    return kernelStructHasField(name, field);
  }

  /** True when the running kernel's `enum name` has enumerator `value` (bcc's kernel_enum_has_val). */
  static kernelEnumHasVal(name: string, value: string): boolean {
    return kernelEnumHasVal(name, value);
  }

  /** True when this kernel has kprobes (CONFIG_KPROBES). */
  static supportKprobe(): boolean {
    return kprobeSupport() === "yes";
  }

  /** Number of kprobes and kretprobes this object has attached. */
  numOpenKprobes(): number {
    return this.kprobes.length;
  }

  // ---- tracepoints ----

  /**
   * Attaches fnName to a tracepoint ("category:event"), or to every
   * tracepoint matching tpRe. Linux 4.7+.
   * @throws AttachError naming the closest tracepoints when it does not exist.
   */
  attachTracepoint(opts: { tp?: string; tpRe?: RegExp | string; fnName: string }): void {
    this.check();
    let tps: string[];
    if (opts.tpRe !== undefined) {
      tps = BPF.getTracepoints(opts.tpRe);
      if (tps.length === 0)
        throw new AttachError(`tracepoints matching ${String(opts.tpRe)}`, "no tracepoint matches");
    } else if (opts.tp !== undefined) tps = [opts.tp];
    else throw new BpfError("attachTracepoint needs tp or tpRe");
    for (const tp of tps) {
      const [category, event] = splitTracepoint(tp);
      if (!tracepointExists(category, event)) {
        throw new AttachError(
          `tracepoint ${tp}`,
          unknownTracepointMessage(tp).replace(`tracepoint ${tp} `, ""),
        );
      }
      const fn = this.loadFunc(opts.fnName, ProgType.TRACEPOINT);
      try {
        const link = native().attachTracepoint(fn.object, fn.elfName, category, event);
        this.tracepoints.push({ target: `${category}:${event}`, fnName: opts.fnName, link });
      } catch (err) {
        if (!isNativeError(err)) throw err;
        throw new AttachError(`tracepoint ${tp}`, err.message, undefined, { errno: err.errno, cause: err });
      }
    }
  }

  /** Detaches fnName (or every function) from a tracepoint. */
  detachTracepoint(opts: { tp: string; fnName?: string }): void {
    this.detach(this.tracepoints, opts.tp, opts.fnName, `tracepoint ${opts.tp}`);
  }

  /** Every tracepoint "category:event" matching re (all when re is omitted). */
  static getTracepoints(re?: RegExp | string): string[] {
    return listTracepoints(re === undefined ? undefined : typeof re === "string" ? new RegExp(re) : re);
  }

  /** True when tracepoint category:event exists. */
  static tracepointExists(category: string, event: string): boolean {
    return tracepointExists(category, event);
  }

  /** Number of tracepoints this object has attached. */
  numOpenTracepoints(): number {
    return this.tracepoints.length;
  }

  // ---- raw tracepoints ----

  /** Attaches fnName to a raw tracepoint (e.g. "sched_switch"). Linux 4.17+. */
  attachRawTracepoint(opts: { tp: string; fnName: string }): void {
    this.check();
    const fn = this.loadFunc(opts.fnName, ProgType.RAW_TRACEPOINT);
    try {
      const link = native().attachRawTracepoint(fn.object, fn.elfName, opts.tp);
      this.rawTracepoints.push({ target: opts.tp, fnName: opts.fnName, link });
    } catch (err) {
      if (!isNativeError(err)) throw err;
      if (err.errno === Errno.ENOENT) {
        const events = listTracepoints().map((t) => t.slice(t.indexOf(":") + 1));
        const close = closestNames(opts.tp, [...new Set(events)], 3);
        throw new AttachError(
          `raw tracepoint ${opts.tp}`,
          "no such raw tracepoint on this kernel",
          close.length ? `did you mean ${close.join(", ")}?` : undefined,
          { errno: err.errno, cause: err },
        );
      }
      if (err.errno === Errno.EINVAL) {
        const info = this.loader.info(opts.fnName);
        const text = info ? functionSource(this.compiled.source, info.line) : "";
        const e = rawTracepointArgsError(opts.tp, opts.fnName, text, { errno: err.errno, cause: err });
        if (e) throw e;
      }
      throw new AttachError(`raw tracepoint ${opts.tp}`, err.message, undefined, {
        errno: err.errno,
        cause: err,
      });
    }
  }

  /** Detaches a raw tracepoint. */
  detachRawTracepoint(opts: { tp: string; fnName?: string }): void {
    this.detach(this.rawTracepoints, opts.tp, opts.fnName, `raw tracepoint ${opts.tp}`);
  }

  /** True when this kernel has raw tracepoints (Linux 4.17+). */
  static supportRawTracepoint(): boolean {
    return progTypeSupport(ProgType.RAW_TRACEPOINT) === "yes";
  }

  /**
   * True when this kernel can load and attach fentry/fexit (kfunc) programs.
   * Needs BTF, BPF trampolines (Linux 5.5+ on x86-64) and a kernel that
   * allows them.
   */
  static supportKfunc(): boolean {
    return progTypeSupport(ProgType.TRACING) === "yes" && native().probeTracing() === 1;
  }

  private detach(list: Attachment[], target: string, fnName: string | undefined, what: string): void {
    this.check();
    let n = 0;
    for (let k = list.length - 1; k >= 0; k--) {
      const a = list[k] as Attachment;
      if (a.target !== target || (fnName !== undefined && a.fnName !== fnName)) continue;
      a.link.destroy();
      list.splice(k, 1);
      n++;
    }
    if (n === 0) throw new AttachError(what, "it is not attached");
  }

  // ---- uprobes ----

  private readonly uprobes: Attachment[] = [];
  /** USDT probes attached at load: links of {@link usdtObject}. */
  private readonly usdtLinks: Attachment[] = [];
  /** The libbpf object holding every USDT function (one USDT manager: see src/attach/usdt.ts). */
  private usdtObject: NativeObject | undefined;

  /**
   * Attaches fnName (loaded as a BPF.KPROBE program) to a user-space
   * function's entry (bcc's attach_uprobe). `name` is a path, a library name
   * ("c": the libc the loader would use) or an executable in $PATH; then
   * `sym` (a function of its .symtab or .dynsym, plus `symOff` bytes),
   * `addr` (a link-time address), or `symRe` (every matching function).
   * PIE executables and shared libraries work; an IFUNC (glibc's strlen) is
   * followed to the implementation the dynamic linker chose. `pid` traces
   * one process (default -1: every process running the file). Read the
   * arguments with PT_REGS_PARM1(ctx)… Needs CONFIG_UPROBES and Linux 4.3+
   * (BPF on uprobes); the fd-based uprobe PMU, which leaves nothing in
   * tracefs, is Linux 4.17+ (before, libbpf uses uprobe_events).
   * @throws AttachError for an unknown binary (saying what was searched) or symbol (naming the closest ones).
   * @throws NotSupportedError when the kernel has no uprobes.
   */
  attachUprobe(opts: UprobeOptions): void {
    this.attachUprobeImpl(opts, false);
  }

  /**
   * Attaches fnName to a user-space function's return (read it with
   * PT_REGS_RC(ctx)). Options and kernel needs as {@link attachUprobe}
   * (Linux 4.3+; 4.17+ for the uprobe PMU).
   */
  attachUretprobe(opts: UprobeOptions): void {
    this.attachUprobeImpl(opts, true);
  }

  private attachUprobeImpl(opts: UprobeOptions, retprobe: boolean): void {
    this.check();
    if (uprobeSupport() === "no") throw uprobeNotSupported(retprobe);
    const pid = opts.pid === undefined || opts.pid < 0 ? -1 : opts.pid;
    let targets: UprobeTarget[];
    if (opts.symRe !== undefined) {
      if (opts.sym !== undefined || opts.addr !== undefined)
        throw new BpfError("attachUprobe: give symRe alone, not with sym or addr");
      const re = typeof opts.symRe === "string" ? new RegExp(opts.symRe) : opts.symRe;
      targets = resolveUprobeRe(opts.name, re, pid);
      if (targets.length === 0)
        throw new AttachError(`uprobes on ${opts.name} matching ${String(re)}`, "no function matches");
    } else {
      targets = [
        resolveUprobe({ name: opts.name, sym: opts.sym, addr: opts.addr, pid, symOff: opts.symOff }),
      ];
    }
    const fn = this.loadFunc(opts.fnName, ProgType.KPROBE);
    for (const t of targets) {
      try {
        const link = native().attachUprobe(fn.object, fn.elfName, {
          path: t.path,
          offset: Number(t.offset),
          pid,
          retprobe,
          refCtrOffset: 0,
        });
        this.uprobes.push({ target: uprobeKey(retprobe, t.path, t.offset, pid), fnName: opts.fnName, link });
      } catch (err) {
        if (!isNativeError(err)) throw err;
        throw uprobeAttachError(t, err.errno, retprobe, err);
      }
    }
  }

  /**
   * Detaches the uprobes at name's sym (or addr), for pid (default -1), as
   * attachUprobe resolved them (bcc's detach_uprobe); those of fnName only
   * when it is given.
   * @throws AttachError when none is attached there.
   */
  detachUprobe(opts: UprobeDetachOptions): void {
    this.detachUprobeImpl(opts, false);
  }

  /** Detaches the uretprobes at name's sym (or addr). As {@link detachUprobe}. */
  detachUretprobe(opts: UprobeDetachOptions): void {
    this.detachUprobeImpl(opts, true);
  }

  private detachUprobeImpl(opts: UprobeDetachOptions, retprobe: boolean): void {
    this.check();
    const pid = opts.pid === undefined || opts.pid < 0 ? -1 : opts.pid;
    const t = resolveUprobe({ name: opts.name, sym: opts.sym, addr: opts.addr, pid, symOff: opts.symOff });
    this.detach(
      this.uprobes,
      uprobeKey(retprobe, t.path, t.offset, pid),
      opts.fnName,
      `${retprobe ? "uretprobe" : "uprobe"} ${t.path}:${t.sym ?? `0x${t.offset.toString(16)}`}`,
    );
  }

  /**
   * Number of uprobes and uretprobes attached (one per function: symRe
   * counts each match), USDT probes included (one per probe and binary,
   * however many sites it has).
   */
  numOpenUprobes(): number {
    return this.uprobes.length + this.usdtLinks.length;
  }

  /**
   * The path of a shared library as the dynamic loader would find it (bcc's
   * find_library): "c" → "/lib/x86_64-linux-gnu/libc.so.6". With a pid, the
   * library that process has mapped. Undefined when there is none.
   */
  static findLibrary(name: string, pid?: number): string | undefined {
    return findLibrary(name, pid);
  }

  /** The executable called name in $PATH, or name when it is a path to one (bcc's find_exe). */
  static findExe(name: string): string | undefined {
    return findExe(name);
  }

  /**
   * Names of the functions of a binary (a path, library name or executable,
   * as for attachUprobe) that match re (bcc's get_user_functions).
   */
  static getUserFunctions(path: string, re: RegExp | string): string[] {
    return userFunctions(path, typeof re === "string" ? new RegExp(re) : re);
  }

  /** The clang flags a program with USDT probes needs (usdt.bpf.h and the uapi errno.h it includes). */
  private static usdtCflags(text: string, contexts: readonly USDT[]): string[] {
    const used = contexts.some((u) => u.enabledProbes().length > 0) || /\bbpf_usdt_\w+\s*\(/.test(text);
    if (!used) return [];
    // usdt.bpf.h's <linux/errno.h> resolves to tsbpf's shim (src/compile/headers/linux/errno.h).
    const flags = ["-D__TSBPF_USDT=1"];
    return flags;
  }

  /**
   * Attaches every enabled probe of the contexts: their functions load
   * together into one object (see src/attach/usdt.ts), sharing this
   * object's maps.
   */
  private attachUsdtContexts(contexts: readonly USDT[], debug: number): void {
    const probes = contexts.flatMap((u) => u.enabledProbes().map((p) => ({ u, p })));
    if (probes.length === 0) return;
    if (uprobeSupport() === "no") throw uprobeNotSupported(false);
    const fnNames = [...new Set(probes.map(({ p }) => p.fnName))];
    const obj = loadUsdtObject({
      elf: this.compiled.elf,
      objectName: objectNameOf(this.compiled.fileName),
      fnNames,
      maps: this.loader.ensureMaps(),
      logLevel: debug & DEBUG_BPF_REGISTER_STATE ? 2 : 0,
      fileName: this.compiled.fileName,
      source: this.compiled.source,
      translated: this.compiled.translated,
    });
    this.usdtObject = obj;
    for (const fn of fnNames) {
      if (debug & DEBUG_BPF)
        process.stderr.write(`; ${fn}: ${fn}\n${disassemble(this.compiled.elf, this.sectionOf(fn))}\n`);
      if (debug & DEBUG_BPF_REGISTER_STATE)
        process.stderr.write(`; verifier log of ${fn}\n${obj.verifierLog(fn)}\n`);
    }
    for (const { u, p } of probes) {
      const pid = u.pid ?? -1;
      for (const path of p.paths) {
        try {
          const link = native().attachUsdt(obj, p.fnName, {
            pid,
            path,
            provider: p.provider,
            name: p.name,
            cookie: 0,
          });
          this.usdtLinks.push({
            target: `usdt:${p.provider}:${p.name}:${path}:${pid}`,
            fnName: p.fnName,
            link,
          });
        } catch (err) {
          if (!isNativeError(err)) throw err;
          throw usdtAttachError(p, path, u.pid, err);
        }
      }
    }
  }

  // ---- perf events ----

  /** Programs attached to perf events, keyed "type:config" (one link per CPU). */
  private readonly perfEvents: Attachment[] = [];

  /**
   * Attaches fnName (loaded as BPF.PERF_EVENT) to a perf event: it runs
   * once every samplePeriod events, or sampleFreq times a second (give
   * exactly one). With pid and cpu -1 (the default), on every online CPU
   * for every process; with a pid, for that process only; with a cpu, on
   * that CPU only. bcc's attach_perf_event. Linux 4.9+.
   * @throws NotSupportedError for a hardware event the CPU lacks (most VMs
   * have no PMU), naming PERF_COUNT_SW_CPU_CLOCK, which can stand in.
   */
  attachPerfEvent(opts: {
    evType: number;
    evConfig: number;
    fnName: string;
    samplePeriod?: number;
    sampleFreq?: number;
    pid?: number;
    cpu?: number;
    groupFd?: number;
  }): void {
    this.check();
    const period = opts.samplePeriod ?? 0;
    const freq = opts.sampleFreq ?? 0;
    if (period > 0 === freq > 0)
      throw new BpfError("attachPerfEvent needs exactly one of samplePeriod and sampleFreq (above 0)");
    const pid = opts.pid ?? -1;
    const cpu = opts.cpu ?? -1;
    const spec = { ...opts, samplePeriod: period, sampleFreq: freq, pid, disabled: true };
    const fn = this.loadFunc(opts.fnName, ProgType.PERF_EVENT);
    const fds = openPerfEvents(spec, perfEventCpus(pid, cpu));
    const links: NativeLink[] = [];
    for (let i = 0; i < fds.length; i++) {
      try {
        // The link owns the fd from here (and closes it when the attach fails).
        links.push(native().attachPerfEvent(fn.object, fn.elfName, fds[i] as number));
      } catch (err) {
        for (const fd of fds.slice(i + 1)) native().closeFd(fd);
        for (const l of links) l.destroy();
        if (!isNativeError(err)) throw err;
        throw new AttachError(
          `perf event ${perfEventName(opts.evType, opts.evConfig)}`,
          err.message,
          undefined,
          {
            errno: err.errno,
            cause: err,
          },
        );
      }
    }
    for (const link of links)
      this.perfEvents.push({ target: `${opts.evType}:${opts.evConfig}`, fnName: opts.fnName, link });
  }

  /** Detaches every program attached to the perf event (all CPUs; bcc's detach_perf_event). Linux 4.9+. */
  detachPerfEvent(opts: { evType: number; evConfig: number }): void {
    this.detach(
      this.perfEvents,
      `${opts.evType}:${opts.evConfig}`,
      undefined,
      `perf event ${perfEventName(opts.evType, opts.evConfig)}`,
    );
  }

  // ---- kfunc / kretfunc / LSM ----

  /** fentry, fexit and LSM links, keyed "kfunc:fn", "kretfunc:fn", "lsm:hook". */
  private readonly trampolines: Attachment[] = [];

  /**
   * Attaches fnName (a KFUNC_PROBE(fn, args…), kfunc__fn, or libbpf-style
   * SEC("fentry/fn") function) to the entry of a kernel function through a
   * BPF trampoline: its typed arguments read directly, cheaper than a
   * kprobe. `target` defaults to the function named by fnName. Linux 5.5+
   * (x86-64), with BTF; auto-attached for kfunc__ names.
   * @throws NotSupportedError when the kernel refuses fentry programs (saying
   * what it refused and naming the tracepoint that can stand in).
   */
  attachKfunc(opts: { fnName: string; target?: string }): void {
    this.attachTrampoline("kfunc", opts);
  }

  /**
   * Attaches fnName (KRETFUNC_PROBE(fn, args…, ret)) to the return of a
   * kernel function (fexit): its arguments and return value. Linux 5.5+.
   * Same errors as {@link attachKfunc}.
   */
  attachKretfunc(opts: { fnName: string; target?: string }): void {
    this.attachTrampoline("kretfunc", opts);
  }

  /**
   * Attaches fnName (KMOD_RET(fn, args…, ret), kmod_ret__fn, or libbpf-style
   * SEC("fmod_ret/fn")) to a kernel function as fmod_ret: it runs after the
   * kprobes and kfuncs on fn, and a non-zero return skips fn and becomes its
   * return value (e.g. -EPERM). Only security_* functions and those on the
   * kernel's error-injection list (ALLOW_ERROR_INJECTION) may be modified.
   * Linux 5.7+ (x86-64); auto-attached for kmod_ret__ names.
   * @throws AttachError when fn may not be modified; NotSupportedError as {@link attachKfunc}.
   */
  attachKmodRet(opts: { fnName: string; target?: string }): void {
    this.attachTrampoline("kmod_ret", opts);
  }

  /**
   * Attaches fnName (LSM_PROBE(hook, args…), lsm__hook) to an LSM hook
   * (file_open, bprm_check_security, …): a non-zero return (-EPERM) refuses
   * the operation. Linux 5.7+ with CONFIG_BPF_LSM=y and the "bpf" LSM active
   * (lsm= boot parameter). Auto-attached for lsm__ names.
   * @throws NotSupportedError when the kernel refuses LSM programs or the bpf LSM is not active.
   */
  attachLsm(opts: { fnName: string; target?: string }): void {
    this.attachTrampoline("lsm", opts);
  }

  /** Detaches a kfunc: fnName's, or every kfunc on target. Linux 5.5+. */
  detachKfunc(opts: { fnName?: string; target?: string }): void {
    this.detachTrampoline("kfunc", opts);
  }

  /** Detaches a kretfunc: fnName's, or every kretfunc on target. Linux 5.5+. */
  detachKretfunc(opts: { fnName?: string; target?: string }): void {
    this.detachTrampoline("kretfunc", opts);
  }

  /** Detaches a kmod_ret (fmod_ret): fnName's, or every one on target. Linux 5.7+. */
  detachKmodRet(opts: { fnName?: string; target?: string }): void {
    this.detachTrampoline("kmod_ret", opts);
  }

  /** Detaches an LSM program: fnName's, or every one on hook target. Linux 5.7+. */
  detachLsm(opts: { fnName?: string; target?: string }): void {
    this.detachTrampoline("lsm", opts);
  }

  /**
   * True when this kernel loads and attaches BPF LSM programs and runs them
   * (the "bpf" LSM is active). Linux 5.7+.
   */
  static supportLsm(): boolean {
    return btfAttachSupport("lsm") === "yes";
  }

  /** Number of kfunc, kretfunc, kmod_ret and LSM programs attached (Linux 5.5+). */
  numOpenKfuncs(): number {
    return this.trampolines.length;
  }

  private attachTrampoline(kind: TrampolineKind, opts: { fnName: string; target?: string }): void {
    this.check();
    const target = opts.target ?? this.btfTargetOf(opts.fnName, kind);
    if (kind === "lsm" && bpfLsmActive() === false) throw lsmInactiveError(target);
    const fn = this.loadBtfFunc(opts.fnName, kind, target);
    let link: NativeLink;
    try {
      link =
        kind === "lsm"
          ? native().attachLsm(fn.object, fn.elfName)
          : native().attachTrace(fn.object, fn.elfName);
    } catch (err) {
      if (!isNativeError(err)) throw err;
      throw (
        trampolineRefusal(kind, target, err.errno, "attach", err) ??
        new AttachError(`${kind} ${target}`, err.message, undefined, { errno: err.errno, cause: err })
      );
    }
    this.trampolines.push({ target: `${kind}:${target}`, fnName: opts.fnName, link });
  }

  private detachTrampoline(kind: TrampolineKind, opts: { fnName?: string; target?: string }): void {
    this.check();
    const fnName = opts.fnName;
    const target = opts.target ?? (fnName === undefined ? undefined : this.btfTargetOf(fnName, kind));
    if (target === undefined) throw new BpfError(`detach${kind} needs fnName or target`);
    this.detach(this.trampolines, `${kind}:${target}`, fnName, `${kind} ${target}`);
  }

  /**
   * The target of a BTF-typed function: from its name (kfunc__fn, lsm__hook,
   * btf_tracepoint__event) or its libbpf section (fentry/fn, lsm/hook, tp_btf/event).
   */
  private btfTargetOf(fnName: string, kind: TrampolineKind | "btf_tracepoint"): string {
    const info = this.loader.info(fnName);
    const auto = info?.autoAttach;
    if (auto?.kind === kind) return auto.target;
    const prefixes: Record<string, string[]> = {
      kfunc: ["fentry/", "fentry.s/"],
      kretfunc: ["fexit/", "fexit.s/"],
      kmod_ret: ["fmod_ret/", "fmod_ret.s/"],
      lsm: ["lsm/", "lsm.s/"],
      btf_tracepoint: ["tp_btf/"],
    };
    const sec = info?.section ?? "";
    for (const p of prefixes[kind] ?? []) if (sec.startsWith(p)) return sec.slice(p.length);
    if (!info) return this.loadFunc(fnName, 0).name; // throws the "no function" error
    throw new BpfError(
      `${fnName} does not say what to attach to: name it ${kind}__TARGET (or use the ${kind === "btf_tracepoint" ? "BTF_TRACEPOINT_PROBE" : kind === "lsm" ? "LSM_PROBE" : kind === "kfunc" ? "KFUNC_PROBE" : kind === "kmod_ret" ? "KMOD_RET" : "KRETFUNC_PROBE"} macro), or pass target`,
    );
  }

  /** Loads a BTF-typed function (fentry, fexit, LSM, tp_btf) for one target, turning refusals into typed errors. */
  private loadBtfFunc(
    fnName: string,
    kind: TrampolineKind | "btf_tracepoint",
    target: string,
  ): LoadedFunction {
    const [progType, attachType] =
      kind === "kfunc"
        ? [ProgType.TRACING, AttachType.TRACE_FENTRY]
        : kind === "kretfunc"
          ? [ProgType.TRACING, AttachType.TRACE_FEXIT]
          : kind === "kmod_ret"
            ? [ProgType.TRACING, AttachType.MODIFY_RETURN]
            : kind === "lsm"
              ? [ProgType.LSM, AttachType.LSM_MAC]
              : [ProgType.TRACING, AttachType.TRACE_RAW_TP];
    if (!this.loader.info(fnName)) return this.loadFunc(fnName, progType); // throws the "no function" error
    try {
      return this.loader.load(fnName, progType, fnName, attachType, target);
    } catch (err) {
      // Linux 5.7+: the verifier logs "<fn>() is not modifiable" (neither security_* nor error-injectable).
      const said = err instanceof VerifierError ? err.log : err instanceof Error ? err.message : "";
      if (kind === "kmod_ret" && /is not modifiable/.test(said))
        throw new AttachError(
          `kmod_ret ${target}`,
          `the kernel does not allow changing the return value of ${target}`,
          "fmod_ret works only on security_* functions and, on kernels with CONFIG_FUNCTION_ERROR_INJECTION, " +
            "on functions marked ALLOW_ERROR_INJECTION (listed in /sys/kernel/debug/error_injection/list)",
          { errno: err instanceof BpfError ? err.errno : undefined, cause: err },
        );
      if (err instanceof VerifierError) throw err;
      const errno = isNativeError(err) || err instanceof BpfError ? err.errno : undefined;
      const mapped =
        kind === "btf_tracepoint"
          ? btfTracepointError(target, errno, "load", err)
          : trampolineRefusal(kind, target, errno, "load", err);
      if (mapped) throw mapped;
      if (isNativeError(err) && isPermissionErrno(err.errno))
        throw permissionErrorFor(`loading ${fnName}`, err.errno) ?? err;
      throw err;
    }
  }

  // ---- BTF tracepoints ----

  /** tp_btf links, keyed by event. */
  private readonly btfTracepoints: Attachment[] = [];

  /**
   * Attaches fnName (BTF_TRACEPOINT_PROBE(event, typed args…), or
   * btf_tracepoint__event) to a BTF-enabled raw tracepoint ("tp_btf"):
   * `tp` is the event without its category ("sched_switch"), the arguments
   * are the tracepoint's own (TP_PROTO) and pointers among them can be
   * dereferenced directly (p->pid). Linux 5.5+ with BTF. Auto-attached for
   * btf_tracepoint__ names.
   * @throws AttachError naming the closest events when the kernel has no such tracepoint.
   */
  attachBtfTracepoint(opts: { tp?: string; fnName: string }): void {
    this.check();
    const tp = opts.tp ?? this.btfTargetOf(opts.fnName, "btf_tracepoint");
    const fn = this.loadBtfFunc(opts.fnName, "btf_tracepoint", tp);
    try {
      const link = native().attachTrace(fn.object, fn.elfName);
      this.btfTracepoints.push({ target: tp, fnName: opts.fnName, link });
    } catch (err) {
      if (!isNativeError(err)) throw err;
      throw (
        btfTracepointError(tp, err.errno, "attach", err) ??
        new AttachError(`BTF tracepoint ${tp}`, err.message, undefined, { errno: err.errno, cause: err })
      );
    }
  }

  /** Detaches a BTF tracepoint (fnName's only, when given). Linux 5.5+. */
  detachBtfTracepoint(opts: { tp: string; fnName?: string }): void {
    this.detach(this.btfTracepoints, opts.tp, opts.fnName, `BTF tracepoint ${opts.tp}`);
  }

  /** True when this kernel loads and attaches tp_btf programs (Linux 5.5+ with BTF). */
  static supportBtfTracepoint(): boolean {
    return btfAttachSupport("tp_btf") === "yes";
  }

  // ---- XDP and socket filters ----

  /** bcc's BPF.XDP_FLAGS_UPDATE_IF_NOEXIST: attach only if the device has no XDP program. Linux 4.8+. */
  static readonly XDP_FLAGS_UPDATE_IF_NOEXIST = XDP_FLAGS_UPDATE_IF_NOEXIST;
  /** Generic XDP (after the skb is built), on any device. Linux 4.12+. */
  static readonly XDP_FLAGS_SKB_MODE = XDP_FLAGS_SKB_MODE;
  /** Native XDP in the driver (the driver must support it). Linux 4.12+. */
  static readonly XDP_FLAGS_DRV_MODE = XDP_FLAGS_DRV_MODE;
  /** XDP offloaded to the NIC. Linux 4.13+. */
  static readonly XDP_FLAGS_HW_MODE = XDP_FLAGS_HW_MODE;
  /** Replace only a given program (close() uses it to remove only its own). Linux 5.7+. */
  static readonly XDP_FLAGS_REPLACE = XDP_FLAGS_REPLACE;

  /** XDP programs this object attached: removed again on close() if still there. */
  private xdps: Array<{ dev: string; ifindex: number; flags: number; progFd: number }> = [];
  /** Raw sockets this object opened for socket filters (closed on close()). */
  private readonly rawSockets: number[] = [];

  /**
   * Attaches an XDP program (fn: a function name, loaded as BPF.XDP, or a
   * function from loadFunc(name, BPF.XDP)) to network device dev of this
   * process's network namespace (bcc's attach_xdp). flags: XDP_FLAGS_SKB_MODE
   * (generic, any device), XDP_FLAGS_DRV_MODE (native driver support),
   * XDP_FLAGS_HW_MODE, XDP_FLAGS_UPDATE_IF_NOEXIST; 0 lets the kernel choose.
   * Linux 4.8+ (flags 4.12+). close() removes it again if it is still attached.
   * @throws AttachError for an unknown device or a device that already has a program;
   * NotSupportedError when the driver lacks the requested mode.
   */
  attachXdp(dev: string, fn: string | LoadedFunction, flags = 0): void {
    this.check();
    const ifindex = ifindexOf(dev);
    const f = typeof fn === "string" ? this.loadFunc(fn, ProgType.XDP) : fn;
    if (f.type !== ProgType.XDP)
      throw new BpfError(`attachXdp: ${f.name} is loaded as program type ${f.type}, not BPF.XDP`);
    try {
      native().xdpAttach(ifindex, f.fd, flags, -1);
    } catch (err) {
      if (!isNativeError(err)) throw err;
      throw xdpAttachError(dev, flags, err.errno, err);
    }
    this.xdps = this.xdps.filter((x) => x.ifindex !== ifindex);
    this.xdps.push({ dev, ifindex, flags, progFd: f.fd });
  }

  /**
   * Removes the XDP program of device dev (whichever program it is; bcc's
   * remove_xdp). flags selects the mode (XDP_FLAGS_SKB_MODE, …) as attached.
   */
  removeXdp(dev: string, flags = 0): void {
    this.check();
    const ifindex = ifindexOf(dev);
    try {
      native().xdpDetach(ifindex, flags & XDP_FLAGS_MODES, -1);
    } catch (err) {
      if (!isNativeError(err)) throw err;
      throw new AttachError(`XDP on ${dev}`, `removing it failed: ${err.message}`, undefined, {
        errno: err.errno,
        cause: err,
      });
    }
    this.xdps = this.xdps.filter((x) => x.ifindex !== ifindex);
  }

  /**
   * Opens a raw AF_PACKET socket bound to dev that receives every packet
   * (ETH_P_ALL) and attaches the socket filter fn to it (a function name,
   * loaded as BPF.SOCKET_FILTER, or a loaded function): the filter returns
   * how many bytes of each packet to keep (0 drops it). Returns the socket's
   * fd, non-blocking: read packets with fs.read / fs.readSync (EAGAIN when
   * none waits). bcc's attach_raw_socket. close() closes the socket. Linux 3.19+.
   */
  attachRawSocket(fn: string | LoadedFunction, dev: string): number {
    this.check();
    const ifindex = ifindexOf(dev);
    const f = typeof fn === "string" ? this.loadFunc(fn, ProgType.SOCKET_FILTER) : fn;
    let sock: number;
    try {
      sock = native().openRawSocket(ifindex);
    } catch (err) {
      if (!isNativeError(err)) throw err;
      throw (
        permissionErrorFor(`opening a raw socket on ${dev}`, err.errno) ??
        new AttachError(`raw socket on ${dev}`, err.message, undefined, { errno: err.errno, cause: err })
      );
    }
    try {
      native().attachSocketFilter(sock, f.fd);
    } catch (err) {
      native().closeFd(sock);
      if (!isNativeError(err)) throw err;
      throw new AttachError(
        `socket filter ${f.name} on ${dev}`,
        err.message,
        "was the function loaded as BPF.SOCKET_FILTER?",
        { errno: err.errno, cause: err },
      );
    }
    this.rawSockets.push(sock);
    return sock;
  }

  /** Removes this object's XDP programs (those still attached) and closes its raw sockets. */
  private closeNetwork(): void {
    for (const x of this.xdps) {
      const mode = x.flags & XDP_FLAGS_MODES;
      try {
        // Only if our program is still the one attached (Linux 5.7+).
        native().xdpDetach(x.ifindex, mode | XDP_FLAGS_REPLACE, x.progFd);
      } catch (err) {
        // Before 5.7 the kernel does not know XDP_FLAGS_REPLACE.
        if (isNativeError(err) && err.errno === Errno.EINVAL) {
          try {
            native().xdpDetach(x.ifindex, mode, -1);
          } catch {
            // keep releasing the rest
          }
        }
      }
    }
    this.xdps = [];
    for (const s of this.rawSockets) {
      try {
        native().closeFd(s);
      } catch {
        // keep releasing the rest
      }
    }
    this.rawSockets.length = 0;
  }

  // ---- feature probes ----

  /**
   * Whether the running kernel supports a feature: "yes", "no", or
   * "unknown" when it could not tell (not privileged enough to probe, say).
   * Only definite answers are cached. Names: attach kinds (kprobe,
   * kretprobe, uprobe, tracepoint, raw_tracepoint, tp_btf, fentry, fexit,
   * lsm, perf_event, perf_event:software, perf_event:hardware, xdp,
   * socket_filter, ringbuf, override_return), "prog:TYPE" (prog:xdp),
   * "map:TYPE" (map:ringbuf), "helper:NAME" (helper:bpf_probe_read_kernel,
   * for a kprobe program) and "helper:NAME@TYPE" (helper:bpf_redirect@xdp).
   * @throws BpfError for a feature name it does not know (listing the known ones).
   */
  static supports(feature: string): Support {
    return supports(feature);
  }

  // ---- maps ----

  /** The object's BTF, parsed once (undefined when the object has none). */
  private btf(): Btf | undefined {
    if (this.btfCache === undefined) {
      const raw = this.loader.btfRaw();
      this.btfCache = raw ? Btf.parse(raw) : null;
    }
    return this.btfCache ?? undefined;
  }

  /** Names of the program's maps (tsbpf's internal ones left out). */
  tableNames(): string[] {
    this.check();
    return this.loader
      .mapInfos()
      .map((m) => m.name)
      .filter((n) => !n.startsWith("__tsbpf_") && !n.startsWith("__bpf_usdt_") && !n.includes("."));
  }

  /**
   * A map as a typed table of the right kind (HashTable, ArrayTable,
   * PerCpuArray, PerfEventArray, RingBuf, …), created on first use. Keys and
   * values are decoded through the object's BTF. bcc's `b["name"]` /
   * `b.get_table("name")`.
   */
  getTable<T extends Table = Table>(name: string): T {
    this.check();
    const hit = this.tables.get(name);
    if (hit) return hit as T;
    const fds = this.loader.ensureMaps();
    const infos = this.loader.mapInfos();
    const m = infos.find((x) => x.name === name);
    const fd = fds.get(name);
    if (!m || fd === undefined) {
      const names = this.tableNames();
      const close = closestNames(name, names, 3);
      throw new BpfError(
        `no map ${name} in ${this.compiled.fileName}` +
          (close.length
            ? `; did you mean ${close.join(", ")}?`
            : `; its maps are: ${names.join(", ") || "(none)"}`),
      );
    }
    const btf = this.btf();
    let eventTypeId = 0;
    let keyTypeId = m.btfKeyTypeId;
    let valueTypeId = m.btfValueTypeId;
    if (btf) {
      try {
        const def = mapDefFromBtf(btf, name);
        keyTypeId = def.keyTypeId ?? keyTypeId;
        valueTypeId = def.valueTypeId ?? valueTypeId;
      } catch {
        // not a BTF-defined map: libbpf's ids stand
      }
      const anchor = btf.datasecVars(".tsbpf.types").find((v) => v.name === `__tsbpf_type__${name}`);
      if (anchor) {
        const ptr = btf.type(btf.resolve(anchor.typeId));
        if (ptr.kind === "PTR") eventTypeId = (ptr as { type: number }).type;
      }
    }
    const info: TableInfo = {
      name,
      fd,
      mapType: m.type,
      keySize: m.keySize,
      valueSize: m.valueSize,
      maxEntries: m.maxEntries,
      flags: m.flags,
      btf,
      keyTypeId,
      valueTypeId,
      decl: this.compiled.maps.find((d) => d.name === name),
      eventTypeId,
      check: () => this.check(),
    };
    let table: Table;
    if (m.type === MapType.PERF_EVENT_ARRAY) {
      table = new PerfEventArray(info, (r, old) => {
        if (old) this.perfReaders.delete(old);
        if (r) this.perfReaders.add(r);
      }) as unknown as Table;
    } else if (m.type === MapType.RINGBUF) {
      table = new RingBuf(
        info,
        (r, old) => {
          if (old) this.ringReaders.delete(old);
          if (r) this.ringReaders.add(r);
        },
        (bytes) => this.setRingWakeup(name, bytes),
        () => this.ringDrops(name),
      ) as unknown as Table;
    } else {
      table = makeTable(info);
    }
    this.tables.set(name, table);
    return table as T;
  }

  /** bcc's `b["name"]`: the same as {@link getTable}. */
  table<T extends Table = Table>(name: string): T {
    return this.getTable<T>(name);
  }

  /** Sets a ring buffer's wake-up threshold (read by the translated ringbuf_output/submit). */
  private setRingWakeup(name: string, bytes: number): void {
    const idx = this.compiled.ringbufs.indexOf(name);
    const fd = this.loader.ensureMaps().get("__tsbpf_rb_wakeup");
    if (idx < 0 || fd === undefined) {
      if (bytes > 0) {
        throw new BpfError(
          `ring buffer ${name}: wakeupBytes needs the ring buffer to be declared with BPF_RINGBUF_OUTPUT and written with ringbuf_output/ringbuf_submit`,
        );
      }
      return;
    }
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, idx, true);
    const value = new Uint8Array(8);
    new DataView(value.buffer).setBigUint64(0, BigInt(bytes), true);
    native().mapUpdate(fd, key, value, 0);
  }

  /** Drops counted for a ring buffer by the translated submit calls (0 for libbpf-style programs). */
  private ringDrops(name: string): bigint {
    const idx = this.compiled.ringbufs.indexOf(name);
    const fd = this.loader.ensureMaps().get("__tsbpf_rb_drops");
    if (idx < 0 || fd === undefined) return 0n;
    const ncpu = possibleCpus();
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, idx, true);
    const value = new Uint8Array(8 * ncpu);
    if (!native().mapLookup(fd, key, value)) return 0n;
    const view = new DataView(value.buffer);
    let sum = 0n;
    for (let c = 0; c < ncpu; c++) sum += view.getBigUint64(8 * c, true);
    return sum;
  }

  /**
   * Delivers waiting perf buffer records, waiting up to timeoutMs for the
   * first (bcc's perf_buffer_poll; it blocks the thread, as bcc does).
   * Records also arrive on their own while the event loop runs.
   */
  perfBufferPoll(timeoutMs = -1): number {
    this.check();
    return pollReaders(this.perfReaders, timeoutMs, "perf buffer");
  }

  /** Delivers waiting perf buffer records without waiting (bcc's perf_buffer_consume). */
  perfBufferConsume(): number {
    this.check();
    let n = 0;
    for (const r of this.perfReaders) n += r.consume();
    return n;
  }

  /** Delivers waiting ring buffer records, waiting up to timeoutMs (bcc's ring_buffer_poll). */
  ringBufferPoll(timeoutMs = -1): number {
    this.check();
    return pollReaders(this.ringReaders, timeoutMs, "ring buffer");
  }

  /** Delivers waiting ring buffer records without waiting (bcc's ring_buffer_consume). */
  ringBufferConsume(): number {
    this.check();
    let n = 0;
    for (const r of this.ringReaders) n += r.consume();
    return n;
  }

  // ---- symbols ----

  /**
   * The kernel function containing addr (bcc's ksym): "[unknown]" when none;
   * "name+0x1a" with showOffset, " [module]" appended with showModule.
   */
  ksym(addr: bigint | number, opts: { showModule?: boolean; showOffset?: boolean } = {}): string {
    return ksym(BigInt(addr), opts);
  }

  /** The address of a kernel symbol (bcc's ksymname; bcc returns -1 where this returns undefined). */
  ksymname(name: string): bigint | undefined {
    return ksymname(name);
  }

  /**
   * The user-space function containing addr in process pid (bcc's sym): from
   * /proc/PID/maps and the mapped files' ELF symbol tables (PIE and shared
   * libraries included), cached per process. "[unknown]" when none.
   */
  sym(
    addr: bigint | number,
    pid: number,
    opts: { showModule?: boolean; showOffset?: boolean; demangle?: boolean } = {},
  ): string {
    return sym(BigInt(addr), pid, opts);
  }

  // ---- trace_pipe ----

  /** The next bpf_trace_printk line as bcc's trace_fields() gives it (waits for one). */
  async traceFieldsOnce(signal?: AbortSignal): Promise<TraceLine | undefined> {
    for await (const f of tracePipe().fields(signal)) return f;
    return undefined;
  }

  /**
   * trace_pipe lines as { task, pid, cpu, flags, ts, msg }, as they arrive,
   * until signal aborts. Lines that are not trace events are skipped.
   */
  traceFields(opts: { signal?: AbortSignal } = {}): AsyncGenerator<TraceLine> {
    return tracePipe().fields(opts.signal);
  }

  /** The next parsed line if one is there now, else undefined (bcc's nonblocking=True). */
  traceFieldsNonBlocking(): TraceLine | undefined {
    return tracePipe().fieldsNow();
  }

  /** The next raw trace_pipe line (waits for one; undefined when aborted). */
  traceReadline(opts: { signal?: AbortSignal } = {}): Promise<string | undefined> {
    return tracePipe().readline(opts.signal);
  }

  /**
   * Prints trace_pipe lines until signal aborts: raw, or formatted with bcc's
   * fields {0}..{5} = task, pid, cpu, flags, ts, msg.
   */
  async tracePrint(
    opts: { fmt?: string; signal?: AbortSignal; write?: (s: string) => void } = {},
  ): Promise<void> {
    const write = opts.write ?? ((s: string) => process.stdout.write(s));
    if (opts.fmt === undefined) {
      for (;;) {
        const line = await tracePipe().readline(opts.signal);
        if (line === undefined) return;
        // Since bpf_trace_printk became a trace event (5.x), a message ending in "\n" is
        // followed by the event's own newline: an empty line that says nothing.
        if (line.trim() === "") continue;
        write(`${line}\n`);
      }
    }
    for await (const f of tracePipe().fields(opts.signal)) write(`${formatTraceFields(f, opts.fmt)}\n`);
  }

  /** Events the kernel dropped from trace_pipe (its "[LOST N EVENTS]" markers). */
  static traceLostEvents(): number {
    return sharedTracePipe?.lostEvents ?? 0;
  }

  // ---- lifecycle ----

  /** Detaches everything and releases every fd. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const list of [this.kprobes, this.tracepoints, this.rawTracepoints, this.uprobes, this.usdtLinks]) {
      for (const a of list) {
        try {
          a.link.destroy();
        } catch {
          // keep releasing the rest
        }
      }
      list.length = 0;
    }
    // perf events, kfunc/kretfunc/LSM and BTF tracepoints; XDP and raw sockets (issue 5)
    for (const list of [this.perfEvents, this.trampolines, this.btfTracepoints]) {
      for (const a of list) {
        try {
          a.link.destroy();
        } catch {
          // keep releasing the rest
        }
      }
      list.length = 0;
    }
    this.closeNetwork();
    for (const t of this.tables.values()) {
      try {
        if (t instanceof PerfEventArray) {
          t.closePerfBuffer();
          t.closePerfEvents();
        } else if (t instanceof RingBuf) t.closeRingBuffer();
      } catch {
        // keep releasing the rest
      }
    }
    for (const r of [...this.perfReaders, ...this.ringReaders]) {
      try {
        r.close();
      } catch {
        // keep releasing the rest
      }
    }
    this.perfReaders.clear();
    this.ringReaders.clear();
    // After its links (a USDT link returns its spec ids to the object's manager).
    this.usdtObject?.close();
    this.usdtObject = undefined;
    this.loader.close();
    untrack(this);
    openObjects--;
    // The kernel lets one process at a time hold trace_pipe open (EBUSY for
    // the next): release it once no BPF object of ours is open.
    if (openObjects === 0) sharedTracePipe?.close();
  }

  /** `await using b = await BPF.load(…)` */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  /** `using b = …` */
  [Symbol.dispose](): void {
    this.close();
  }
}

function splitTracepoint(tp: string): [string, string] {
  const i = tp.indexOf(":");
  if (i <= 0 || i === tp.length - 1) {
    throw new BpfError(
      `tracepoint "${tp}" must be written "category:event", e.g. "syscalls:sys_enter_execve"`,
    );
  }
  return [tp.slice(0, i), tp.slice(i + 1)];
}

/** A libbpf object name from a file name (internal maps are named after its first 8 characters). */
function objectNameOf(fileName: string): string {
  const base = basename(fileName)
    .replace(/\.[^.]*$/, "")
    .replace(/[^\w]/g, "_");
  return base === "" || base === "_text_" ? "tsbpf" : base;
}

/** Polls the first reader with the timeout and consumes the others. */
function pollReaders(readers: Set<EventReader>, timeoutMs: number, what: string): number {
  if (readers.size === 0)
    throw new BpfError(
      `no ${what} is open: call open${what === "perf buffer" ? "PerfBuffer" : "RingBuffer"}() on a table first`,
    );
  let n = 0;
  let first = true;
  for (const r of readers) {
    n += first ? r.poll(timeoutMs) : r.consume();
    first = false;
  }
  return n;
}

/** Options of {@link BPF.attachUprobe} and {@link BPF.attachUretprobe} (bcc's attach_uprobe). */
export interface UprobeOptions {
  /** A path, a library name ("c" for libc) or an executable in $PATH. */
  name: string;
  /** The function (from .symtab or .dynsym). */
  sym?: string;
  /** Every function whose name matches (instead of sym). */
  symRe?: RegExp | string;
  /** A link-time virtual address in the binary (instead of sym). */
  addr?: bigint | number;
  /** The BPF function to run. */
  fnName: string;
  /** Trace only this process (default -1: every process running the binary). */
  pid?: number;
  /** Bytes past the symbol's start (with sym). */
  symOff?: number;
}

/** Options of {@link BPF.detachUprobe} and {@link BPF.detachUretprobe}. */
export interface UprobeDetachOptions {
  name: string;
  sym?: string;
  addr?: bigint | number;
  pid?: number;
  symOff?: number;
  /** Detach only this function's probes. */
  fnName?: string;
}

/** The attachment key of a uprobe: kind, file, offset and pid. */
function uprobeKey(retprobe: boolean, path: string, offset: bigint, pid: number): string {
  return `${retprobe ? "r" : "p"}:${path}:0x${offset.toString(16)}:${pid}`;
}

/** bpf_override_return's helper id (BPF_FUNC_override_return). */
const HELPER_OVERRIDE_RETURN = 58;

/** Whether BPF instructions (8 bytes each, as compiled) call helper `id`. */
function callsHelper(insns: Uint8Array, id: number): boolean {
  const view = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
  for (let off = 0; off + 8 <= insns.byteLength; off += 8) {
    // BPF_JMP | BPF_CALL with src_reg 0: a helper call, its id in imm.
    if (
      view.getUint8(off) === 0x85 &&
      (view.getUint8(off + 1) & 0xf0) === 0 &&
      view.getInt32(off + 4, true) === id
    )
      return true;
  }
  return false;
}
