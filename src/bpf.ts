/**
 * class BPF: bcc's Python API, in TypeScript. A thin facade: compiling is in
 * compile/, loading in loader.ts, each hook's attaching in attach/ (one
 * module per hook, the kinds in attach/kinds.ts), tables in maps/. A BPF
 * object owns one set of links and one set of tables, released by close().
 */
import { readFileSync } from "node:fs";
import { autoAttach } from "./attach/auto.js";
import type { AttachContext } from "./attach/context.js";
import type { TrampolineKind } from "./attach/kfunc.js";
import { attachKprobes, type KprobeOptions } from "./attach/kprobe.js";
import { LinkSet } from "./attach/link.js";
import { ifindexOf } from "./attach/netdev.js";
import {
  attachPerfEvent,
  attachPerfEventRaw,
  type PerfEventOptions,
  type PerfEventRawOptions,
  perfEventName,
} from "./attach/perf_event.js";
import { attachRawTracepoint } from "./attach/raw_tracepoint.js";
import { attachTracepoints } from "./attach/tracepoint.js";
import { attachBtfTracepoint, attachTrampoline, loadBtfFuncByType, trampolineKey } from "./attach/tracing.js";
import {
  attachUprobes,
  type UprobeDetachOptions,
  type UprobeOptions,
  uprobeDetachKey,
} from "./attach/uprobe.js";
import { attachUsdtContexts, usdtCflags } from "./attach/usdt.js";
import { BpfTables } from "./bpf_tables.js";
import { type CompiledObject, compileBcc } from "./compile/compile.js";
import { disassemble, sectionBytes } from "./compile/disasm.js";
import { ProgType } from "./kernel/constants.js";
import { BpfError, ClosedError } from "./kernel/errors.js";
import { closeSharedTracePipe } from "./kernel/trace_pipe.js";
import { track, untrack } from "./lifecycle.js";
import { type LoadedFunction, objectNameOf, ProgramLoader } from "./loader.js";
import { ObjectTables } from "./maps/object_tables.js";
import { native } from "./native.js";
import type { LoadOptions, OpenOptions } from "./options.js";
import { type MapSetup, openPrebuilt } from "./prebuilt.js";

/** BPF objects open in this process (trace_pipe is released when none is). */
let openObjects = 0;

/** One loaded function as the kernel counts it ({@link BPF.programStats}). */
export interface ProgramStats {
  /** The user's function name. */
  name: string;
  /** The kernel's program id. */
  id: number;
  /** The program's tag (a hash of its instructions), as bpftool prints it. */
  tag: string;
  /** Time spent running it, while kernel.bpf_stats_enabled is 1. */
  runTimeNs: bigint;
  /** Times it ran, while kernel.bpf_stats_enabled is 1. */
  runCount: bigint;
  /** Runs the kernel skipped because the program was already running on that CPU (Linux 5.12+). */
  recursionMisses: bigint;
}

/** A compiled BPF program set, its loaded functions, attachments and tables. */
export class BPF extends BpfTables {
  private readonly loader: ProgramLoader;
  protected readonly links = new LinkSet();
  protected readonly tables: ObjectTables;
  protected readonly ctx: AttachContext;
  private closed = false;

  private constructor(
    /** The compiled object and what tsbpf learnt about its functions. */
    readonly compiled: CompiledObject,
    opts: { debug?: number; allowRlimit?: boolean; device?: string },
    setup?: MapSetup,
  ) {
    super();
    const objectName = objectNameOf(compiled.fileName);
    const { allowRlimit, device: dev } = opts;
    const device = dev === undefined ? undefined : { name: dev, ifindex: ifindexOf(dev) };
    this.loader = new ProgramLoader({
      ...compiled,
      objectName,
      debug: opts.debug ?? 0,
      setup,
      allowRlimit,
      device,
    });
    this.tables = new ObjectTables(this.loader, compiled, () => this.check());
    const openProbes = () => this.links.count("kprobe", "kretprobe", "uprobe", "uretprobe", "tracepoint");
    this.ctx = { compiled, loader: this.loader, loadFunc: (n, t) => this.loadFunc(n, t), openProbes };
    track(this);
    openObjects++;
  }

  /**
   * Compiles a program (cached), attaches its USDT contexts and its
   * auto-attach functions (bcc's prefixes, libbpf's sections). Functions load
   * lazily, as the type their attach call implies.
   */
  static async load(opts: LoadOptions): Promise<BPF> {
    if (opts.text === undefined && opts.srcFile === undefined)
      throw new BpfError("BPF.load needs text or srcFile");
    const text = opts.text ?? readFileSync(opts.srcFile as string, "utf8");
    const fileName = opts.text === undefined ? (opts.srcFile as string) : "<text>.c";
    const cflags = [...(opts.cflags ?? []), ...usdtCflags(text, opts.usdtContexts ?? [])];
    return BPF.start(
      new BPF(await compileBcc({ text, fileName, cflags, debug: opts.debug ?? 0 }), opts),
      opts,
    );
  }

  /**
   * A prebuilt object (`tsbpf compile -o`, or a libbpf-style CO-RE object):
   * no compiler runs. Its read-only globals are set and its maps resized
   * before they are created; its functions attach as BPF.load's do.
   */
  static async open(opts: OpenOptions): Promise<BPF> {
    const { compiled, setup } = openPrebuilt(opts);
    return BPF.start(new BPF(compiled, opts, setup), opts);
  }

  private static start(b: BPF, opts: LoadOptions | OpenOptions): BPF {
    try {
      b.links.add(
        ...attachUsdtContexts(b.ctx, opts.usdtContexts ?? [], { ignorePid: opts.attachUsdtIgnorePid }),
      );
      if (opts.autoAttach !== false) b.links.add(...autoAttach(b.ctx));
    } catch (err) {
      b.close();
      throw err;
    }
    return b;
  }

  protected check(): void {
    if (this.closed) throw new ClosedError("BPF object");
  }

  /**
   * Loads every function of the program as progType (bcc's load_funcs), or
   * only those named in fnNames. They load together, into one libbpf object
   * (the kernel's BTF read once for all of them, where a loadFunc each reads
   * it once each); BTF-typed functions (fentry, LSM, tp_btf) load one by one
   * as {@link loadFunc} loads them. A later loadFunc or attach of one of them
   * uses what this loaded.
   */
  loadFuncs(progType: number = BPF.KPROBE, fnNames?: string[]): LoadedFunction[] {
    this.check();
    const names = fnNames ?? this.loader.functionNames();
    const btf = new Map<string, LoadedFunction>();
    for (const n of names) {
      const fn = loadBtfFuncByType(this.ctx, n, progType);
      if (fn) btf.set(n, fn);
    }
    const rest = names.filter((n) => !btf.has(n));
    const loaded = rest.length > 0 ? this.loader.loadFuncs(rest, progType) : [];
    const grouped = new Map(rest.map((n, i) => [n, loaded[i]]));
    return names.map((n) => (btf.get(n) ?? grouped.get(n)) as LoadedFunction);
  }

  /**
   * Loads a function as a program of the given type (bcc's load_func); `attachType`: the expected attach
   * type (cgroup_sock_addr, cgroup_sockopt need one). A kfunc__X as BPF.TRACING targets X. `device`
   * (bcc's device): offload an XDP or SCHED_CLS program to that NIC (Linux 4.16+, and a driver that offloads).
   * @throws NotSupportedError when the device cannot take BPF offload; BpfError for another program type.
   */
  loadFunc(
    fnName: string,
    progType: number,
    opts: { attachType?: number; device?: string } = {},
  ): LoadedFunction {
    this.check();
    if (opts.device !== undefined) {
      if (progType !== ProgType.XDP && progType !== ProgType.SCHED_CLS)
        throw new BpfError(
          `loadFunc(${fnName}): device offload takes BPF.XDP and BPF.SCHED_CLS programs only`,
        );
      const device = { name: opts.device, ifindex: ifindexOf(opts.device) };
      return this.loader.load(fnName, progType, fnName, opts.attachType ?? 0, undefined, device);
    }
    if (opts.attachType !== undefined) return this.loader.load(fnName, progType, fnName, opts.attachType);
    return loadBtfFuncByType(this.ctx, fnName, progType) ?? this.loader.loadFunc(fnName, progType);
  }

  /** A function's instructions as compiled (8 bytes each), before libbpf's relocations (bcc's dump_func). */
  dumpFunc(fnName: string): Uint8Array {
    this.check();
    return sectionBytes(this.compiled.elf, this.loader.sectionOf(fnName));
  }

  /** A function's disassembly, with source lines (bcc's disassemble_func). */
  disassembleFunc(fnName: string): string {
    this.check();
    return disassemble(this.compiled.elf, this.loader.sectionOf(fnName));
  }

  // ---- attaching: each delegates to its hook's module (attach/) ----

  /**
   * Attaches fnName to a kernel function's entry (event, or every function
   * matching eventRe). Needs CONFIG_KPROBES; Linux 4.17+ for the fd-based PMU.
   * @throws NotSupportedError when the kernel has no kprobes, naming what to use instead.
   */
  attachKprobe(opts: KprobeOptions): void {
    this.check();
    this.links.add(...attachKprobes(this.ctx, opts, false));
  }

  /** Attaches fnName to a kernel function's return. As {@link attachKprobe}. */
  attachKretprobe(opts: Omit<KprobeOptions, "eventOff">): void {
    this.check();
    this.links.add(...attachKprobes(this.ctx, opts, true));
  }

  /** Detaches the kprobes on event (fnName's only, when given). */
  detachKprobe(opts: { event: string; fnName?: string }): void {
    this.detach(["kprobe"], `p:${opts.event}`, opts.fnName, `kprobe ${opts.event}`);
  }

  /** Detaches the kretprobes on event. */
  detachKretprobe(opts: { event: string; fnName?: string }): void {
    this.detach(["kretprobe"], `r:${opts.event}`, opts.fnName, `kretprobe ${opts.event}`);
  }

  /** Number of kprobes and kretprobes attached. */
  numOpenKprobes(): number {
    return this.links.count("kprobe", "kretprobe");
  }

  /**
   * Attaches fnName to a tracepoint ("category:event"), or to every one
   * matching tpRe. Linux 4.7+.
   * @throws AttachError naming the closest tracepoints when it does not exist.
   */
  attachTracepoint(opts: {
    tp?: string;
    tpRe?: RegExp | string;
    fnName: string;
    cookie?: number | bigint;
  }): void {
    this.check();
    this.links.add(...attachTracepoints(this.ctx, opts));
  }

  /** Detaches fnName (or every function) from a tracepoint. */
  detachTracepoint(opts: { tp: string; fnName?: string }): void {
    this.detach(["tracepoint"], opts.tp, opts.fnName, `tracepoint ${opts.tp}`);
  }

  /** Number of tracepoints attached. */
  numOpenTracepoints(): number {
    return this.links.count("tracepoint");
  }

  /**
   * Attaches fnName to a raw tracepoint ("sched_switch"). Linux 4.17+.
   * @throws AttachError naming close names, or the arguments the tracepoint has when the program reads more.
   */
  attachRawTracepoint(opts: { tp: string; fnName: string }): void {
    this.check();
    this.links.add(attachRawTracepoint(this.ctx, opts));
  }

  /** Detaches a raw tracepoint. */
  detachRawTracepoint(opts: { tp: string; fnName?: string }): void {
    this.detach(["raw_tracepoint"], opts.tp, opts.fnName, `raw tracepoint ${opts.tp}`);
  }

  /**
   * Attaches fnName to a user function's entry (bcc's attach_uprobe): `name` a path, library ("c") or
   * program in $PATH; `sym` (+ `symOff`), `addr` or `symRe`; `pid` (default -1: all). Linux 4.3+.
   * @throws AttachError for an unknown binary or symbol (naming the closest); NotSupportedError without uprobes.
   */
  attachUprobe(opts: UprobeOptions): void {
    this.check();
    this.links.add(...attachUprobes(this.ctx, opts, false));
  }

  /** Attaches fnName to a user-space function's return (PT_REGS_RC(ctx)). As {@link attachUprobe}. */
  attachUretprobe(opts: UprobeOptions): void {
    this.check();
    this.links.add(...attachUprobes(this.ctx, opts, true));
  }

  /** Detaches the uprobes at name's sym (or addr) for pid (fnName's only, when given). */
  detachUprobe(opts: UprobeDetachOptions): void {
    const { key, what } = uprobeDetachKey(opts, false);
    this.detach(["uprobe"], key, opts.fnName, what);
  }

  /** Detaches the uretprobes at name's sym (or addr). As {@link detachUprobe}. */
  detachUretprobe(opts: UprobeDetachOptions): void {
    const { key, what } = uprobeDetachKey(opts, true);
    this.detach(["uretprobe"], key, opts.fnName, what);
  }

  /** Number of uprobes and uretprobes attached (one per function), USDT probes included (one per probe and binary). */
  numOpenUprobes(): number {
    return this.links.count("uprobe", "uretprobe", "usdt");
  }

  /**
   * Runs fnName once every samplePeriod events or sampleFreq times a second of a perf event, on one
   * CPU or all, for one process or all (bcc's attach_perf_event). Linux 4.9+.
   * @throws NotSupportedError for a hardware event the CPU lacks, naming PERF_COUNT_SW_CPU_CLOCK.
   */
  attachPerfEvent(opts: PerfEventOptions): void {
    this.check();
    this.links.add(...attachPerfEvent(this.ctx, opts));
  }

  /**
   * Runs fnName on the samples of a perf event that a raw perf_event_attr describes (bcc's
   * attach_perf_event_raw): exclude_kernel and the other flags, sample_type, breakpoints (type
   * PerfType.BREAKPOINT, bpType, bpAddr, bpLen), PMU configs. detachPerfEvent(type, config) detaches it. Linux 4.9+.
   */
  attachPerfEventRaw(opts: PerfEventRawOptions): void {
    this.check();
    this.links.add(...attachPerfEventRaw(this.ctx, opts));
  }

  /** Detaches every program on the perf event, on all CPUs (bcc's detach_perf_event; attachPerfEventRaw's too). */
  detachPerfEvent(opts: { evType: number; evConfig: number | bigint }): void {
    const what = `perf event ${perfEventName(opts.evType, opts.evConfig)}`;
    this.detach(["perf_event"], `${opts.evType}:${opts.evConfig}`, undefined, what);
  }

  /**
   * Attaches fnName (KFUNC_PROBE(fn, …), kfunc__fn, SEC("fentry/fn")) to a kernel function's entry;
   * `target` defaults to the one fnName names. Linux 5.5+ (x86-64), with BTF.
   * @throws NotSupportedError when the kernel refuses fentry (saying what it refused and what can stand in).
   */
  attachKfunc(opts: { fnName: string; target?: string }): void {
    this.attachTrampoline("kfunc", opts);
  }

  /** Attaches fnName (KRETFUNC_PROBE(fn, args…, ret)) to a kernel function's return (fexit). Linux 5.5+. */
  attachKretfunc(opts: { fnName: string; target?: string }): void {
    this.attachTrampoline("kretfunc", opts);
  }

  /**
   * Attaches fnName (KMOD_RET(fn, args…, ret)) as fmod_ret: a non-zero return
   * skips fn and becomes its return value. Only security_* and
   * ALLOW_ERROR_INJECTION functions. Linux 5.7+ (x86-64).
   * @throws AttachError when fn may not be modified.
   */
  attachKmodRet(opts: { fnName: string; target?: string }): void {
    this.attachTrampoline("kmod_ret", opts);
  }

  /**
   * Attaches fnName (LSM_PROBE(hook, args…)) to an LSM hook: a non-zero return
   * (-EPERM) refuses the operation. Linux 5.7+ with CONFIG_BPF_LSM and the "bpf" LSM active.
   */
  attachLsm(opts: { fnName: string; target?: string }): void {
    this.attachTrampoline("lsm", opts);
  }

  private attachTrampoline(kind: TrampolineKind, opts: { fnName: string; target?: string }): void {
    this.check();
    this.links.add(attachTrampoline(this.ctx, kind, opts));
  }

  /** Detaches a kfunc: fnName's, or every kfunc on target. */
  detachKfunc(opts: { fnName?: string; target?: string }): void {
    this.detachTrampoline("kfunc", opts);
  }

  /** Detaches a kretfunc: fnName's, or every one on target. */
  detachKretfunc(opts: { fnName?: string; target?: string }): void {
    this.detachTrampoline("kretfunc", opts);
  }

  /** Detaches a kmod_ret: fnName's, or every one on target. */
  detachKmodRet(opts: { fnName?: string; target?: string }): void {
    this.detachTrampoline("kmod_ret", opts);
  }

  /** Detaches an LSM program: fnName's, or every one on hook target. */
  detachLsm(opts: { fnName?: string; target?: string }): void {
    this.detachTrampoline("lsm", opts);
  }

  private detachTrampoline(kind: TrampolineKind, opts: { fnName?: string; target?: string }): void {
    this.check();
    const key = trampolineKey(this.ctx, kind, opts);
    this.detach([kind], key, opts.fnName, `${kind} ${key.slice(kind.length + 1)}`);
  }

  /** Number of kfunc, kretfunc, kmod_ret and LSM programs attached. */
  numOpenKfuncs(): number {
    return this.links.count("kfunc", "kretfunc", "kmod_ret", "lsm");
  }

  /**
   * Attaches fnName (BTF_TRACEPOINT_PROBE(event, typed args…)) to a BTF
   * tracepoint ("tp_btf": `tp` the event without its category). Linux 5.5+.
   * @throws AttachError naming the closest events when the kernel has no such tracepoint.
   */
  attachBtfTracepoint(opts: { tp?: string; fnName: string }): void {
    this.check();
    this.links.add(attachBtfTracepoint(this.ctx, opts));
  }

  /** Detaches a BTF tracepoint (fnName's only, when given). */
  detachBtfTracepoint(opts: { tp: string; fnName?: string }): void {
    this.detach(["btf_tracepoint"], opts.tp, opts.fnName, `BTF tracepoint ${opts.tp}`);
  }

  /**
   * The functions loaded so far as the kernel sees them: id, tag, and the
   * run time and count it keeps while `kernel.bpf_stats_enabled` is 1
   * (Linux 5.1+; off by default, as the counting costs a little per run).
   */
  programStats(): ProgramStats[] {
    this.check();
    return this.loader.loadedFunctions().map((fn) => {
      const i = native().progInfo(fn.fd);
      return {
        name: fn.name,
        id: i.id,
        tag: i.tag,
        runTimeNs: i.runTimeNs,
        runCount: i.runCount,
        recursionMisses: i.recursionMisses,
      };
    });
  }

  // ---- lifecycle ----

  /** Detaches everything and releases every fd. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.links.closeAll();
    this.tables.close();
    this.loader.close();
    untrack(this);
    openObjects--;
    // The kernel lets one process at a time hold trace_pipe open: release it once no BPF object is open.
    if (openObjects === 0) closeSharedTracePipe();
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
