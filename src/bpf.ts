/**
 * class BPF: the bcc-shaped front door. bcc's Python names in camelCase, with
 * options objects, async iterators and AbortSignal next to them.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { kprobeAttachError, kprobeFunctions, kprobeNotSupported } from "./attach/kprobe.js";
import { Btf, mapDefFromBtf } from "./btf/btf.js";
import { type CompiledObject, compileBcc, DEBUG_BPF, DEBUG_BPF_REGISTER_STATE } from "./compile/compile.js";
import { disassemble, sectionBytes } from "./compile/disasm.js";
import { MapType } from "./compile/maps_dialect.js";
import { sym } from "./elf/procmaps.js";
import {
  AttachError,
  BpfError,
  ClosedError,
  isNativeError,
  isPermissionErrno,
  permissionErrorFor,
} from "./kernel/errors.js";
import { kprobeSupport, ProgType, progTypeSupport } from "./kernel/features.js";
import { ksym, ksymname } from "./kernel/kallsyms.js";
import { kernelEnumHasVal, kernelStructHasField } from "./kernel/kernel_btf.js";
import { possibleCpus, syscallPrefix } from "./kernel/kernel_info.js";
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
import type { NativeLink } from "./native.js";
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
    const compiled = await compileBcc({ text, fileName, cflags: opts.cflags ?? [], debug: opts.debug ?? 0 });
    const b = new BPF(compiled, opts.debug ?? 0);
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
    if (kprobeSupport() === "no") throw kprobeNotSupported(events[0] ?? opts.fnName, retprobe);
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
      if (err.errno === 2 /* ENOENT */) {
        const events = listTracepoints().map((t) => t.slice(t.indexOf(":") + 1));
        const close = closestNames(opts.tp, [...new Set(events)], 3);
        throw new AttachError(
          `raw tracepoint ${opts.tp}`,
          "no such raw tracepoint",
          close.length ? `did you mean ${close.join(", ")}?` : undefined,
          { errno: err.errno, cause: err },
        );
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
      .filter((n) => !n.startsWith("__tsbpf_") && !n.includes("."));
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
    for (const list of [this.kprobes, this.tracepoints, this.rawTracepoints]) {
      for (const a of list) {
        try {
          a.link.destroy();
        } catch {
          // keep releasing the rest
        }
      }
      list.length = 0;
    }
    for (const t of this.tables.values()) {
      try {
        if (t instanceof PerfEventArray) t.closePerfBuffer();
        else if (t instanceof RingBuf) t.closeRingBuffer();
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
