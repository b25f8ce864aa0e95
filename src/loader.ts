/**
 * Lazy per-function load, as bcc does it: the ELF is compiled once, and each
 * function is loaded when an attach call says which program type it is. Each
 * load opens its own libbpf object holding just that program; the first
 * loaded object creates the maps, later ones reuse them by fd
 * (bpf_map__reuse_fd), so all programs share one set of maps.
 */
import { basename } from "node:path";
import { type CoreBtfChoice, coreBtfFor } from "./btf/min_core_cache.js";
import { DEBUG_BPF, DEBUG_BPF_REGISTER_STATE, DEBUG_BTF } from "./compile/compile.js";
import { disassemble } from "./compile/disasm.js";
import type { MapDecl } from "./compile/maps_dialect.js";
import type { ProgramInfo } from "./compile/rewriter.js";
import { preparePinPath } from "./kernel/bpffs.js";
import { Errno, ProgType } from "./kernel/constants.js";
import {
  BpfError,
  ClosedError,
  errnoName,
  isNativeError,
  isPermissionErrno,
  NotSupportedError,
  permissionErrorFor,
} from "./kernel/errors.js";
import { closestNames } from "./kernel/tracefs.js";
import { kernelLacksError, loadError } from "./kernel/verifier.js";
import { publicTableFd, publishTable, withdrawTables } from "./maps/registry.js";
import { type NativeMapInfo, type NativeObject, native } from "./native.js";
import type { MapSetup } from "./prebuilt.js";

/** What {@link ProgramLoader.loadObject} loads: the user's name, the ELF program and how to load it. */
interface ProgramToLoad {
  name: string;
  elfName: string;
  progType: number;
  expectedAttachType: number;
  attachTarget: string | undefined;
  /** The network device to offload it to (bcc's load_func device). */
  device?: { name: string; ifindex: number };
}

/** A function loaded as a program of one type (bcc's load_func result). */
export interface LoadedFunction {
  /** The function's name in the user's source. */
  name: string;
  /** The program's fd. */
  fd: number;
  /** The bpf_prog_type it was loaded as. */
  type: number;
  /** The libbpf object that holds it (for attaching). */
  object: NativeObject;
  /** The program's name in the ELF (a variant's name for syscall__ on a tracepoint). */
  elfName: string;
}

export interface LoaderOptions {
  elf: Uint8Array;
  programs: ProgramInfo[];
  /** Maps declared with bcc's macros (for extern, public and pinned tables). */
  maps?: MapDecl[];
  /** libbpf object name (internal map names derive from it). */
  objectName: string;
  fileName: string;
  source: string;
  /** The translated C (line for line with source). */
  translated?: string;
  /** bcc's debug flags: DEBUG_BPF prints each function's instructions as it loads, DEBUG_BPF_REGISTER_STATE its verifier log (level 2). */
  debug: number;
  /** Initial values of global-data maps and map sizes, applied before the maps are created (BPF.open). */
  setup?: MapSetup;
  /** bcc's allow_rlimit (default true): see {@link LoadOptions.allowRlimit}. */
  allowRlimit?: boolean;
  /** bcc's device: the maps are created offloaded to this network device's ifindex. */
  device?: { name: string; ifindex: number };
}

const LOG_SIZE = 16 * 1024 * 1024;

/**
 * Program types libbpf reads the kernel's BTF for whatever the CO-RE
 * relocations (prog_needs_vmlinux_btf: the attach target's BTF id, the
 * struct_ops type): a minimized BTF would save nothing for them.
 */
const KERNEL_BTF_PROG_TYPES: ReadonlySet<number> = new Set([
  ProgType.TRACING,
  ProgType.LSM,
  ProgType.STRUCT_OPS,
]);

export class ProgramLoader {
  private readonly loaded = new Map<string, LoadedFunction>();
  private readonly objects: NativeObject[] = [];
  /** The shared map set: name → fd, from the first loaded object. */
  private sharedMaps: Map<string, number> | undefined;
  private closed = false;
  /** The minimized BTF for CO-RE relocations, once decided (BPF.open's objects only). */
  private coreBtf: CoreBtfChoice | undefined;

  constructor(readonly opts: LoaderOptions) {}

  /** The libbpf object name of every object this loader opens. */
  get objectName(): string {
    return this.opts.objectName;
  }

  /** Every function loaded so far (one per program type and attach target it was loaded as). */
  loadedFunctions(): LoadedFunction[] {
    return [...this.loaded.values()];
  }

  /** Every function that can be loaded (the user's names). */
  functionNames(): string[] {
    return this.opts.programs.map((p) => p.name);
  }

  info(name: string): ProgramInfo | undefined {
    return this.opts.programs.find((p) => p.name === name);
  }

  /** The ELF section of a function; the "no function" error when there is none. */
  sectionOf(name: string): string {
    const info = this.info(name);
    if (!info) throw this.noFunction(name);
    return info.section;
  }

  /**
   * Loads `name` as `progType` (once per type, attach type and target).
   * BTF-typed programs (fentry/fexit, LSM, tp_btf) name their attachTarget:
   * a kernel function, an LSM hook or a tracepoint event.
   */
  load(
    name: string,
    progType: number,
    elfName: string,
    expectedAttachType = 0,
    attachTarget?: string,
    device?: { name: string; ifindex: number },
  ): LoadedFunction {
    if (this.closed) throw new ClosedError("BPF object");
    const key = loadKey(elfName, progType, expectedAttachType, attachTarget, device);
    const hit = this.loaded.get(key);
    if (hit) return hit;
    const obj = this.loadObject([{ name, elfName, progType, expectedAttachType, attachTarget, device }]);
    const fn: LoadedFunction = { name, fd: obj.programFd(elfName), type: progType, object: obj, elfName };
    this.loaded.set(key, fn);
    this.reportLoaded(fn);
    return fn;
  }

  /** The verifier log level of every load: bcc's DEBUG_BPF 1 (states at branches), DEBUG_BPF_REGISTER_STATE 2 (every instruction). */
  get logLevel(): number {
    return this.opts.debug & DEBUG_BPF_REGISTER_STATE ? 2 : this.opts.debug & DEBUG_BPF ? 1 : 0;
  }

  /** What bcc prints of a function it has just loaded: its instructions (DEBUG_BPF), its verifier log. */
  reportLoaded(fn: LoadedFunction): void {
    const section = this.info(fn.name)?.section;
    if (this.opts.debug & DEBUG_BPF && section)
      process.stderr.write(`; ${fn.name}: ${fn.elfName}\n${disassemble(this.opts.elf, section)}\n`);
    if (this.opts.debug & (DEBUG_BPF | DEBUG_BPF_REGISTER_STATE))
      process.stderr.write(`; verifier log of ${fn.name}\n${fn.object.verifierLog(fn.elfName)}\n`);
  }

  /**
   * bcc's load_func: loads the user's function fnName as progType (a
   * syscall__X function on syscalls:sys_enter_X as its tracepoint variant),
   * with a BpfError naming the close names for an unknown function and a
   * PermissionError when the process may not load programs.
   */
  loadFunc(fnName: string, progType: number): LoadedFunction {
    const info = this.info(fnName);
    if (!info) throw this.noFunction(fnName);
    const elfName =
      progType === ProgType.TRACEPOINT && info.variants.tracepoint ? info.variants.tracepoint : fnName;
    try {
      return this.load(fnName, progType, elfName);
    } catch (err) {
      if (isNativeError(err) && isPermissionErrno(err.errno))
        throw permissionErrorFor(`loading ${fnName}`, err.errno) ?? err;
      throw err;
    }
  }

  /**
   * bcc's load_func for several functions of one type at once: the ones not
   * loaded as progType yet go into one libbpf object, so libbpf reads the
   * kernel's BTF and resolves the CO-RE relocations once for all of them
   * rather than once per function (each load opens an object, and parsing
   * the kernel's BTF is most of a small program's load time). Later
   * loadFunc calls for them return what this loaded.
   */
  loadFuncs(fnNames: string[], progType: number): LoadedFunction[] {
    if (this.closed) throw new ClosedError("BPF object");
    const elfNameOf = (fnName: string): string => {
      const info = this.info(fnName);
      if (!info) throw this.noFunction(fnName);
      return progType === ProgType.TRACEPOINT && info.variants.tracepoint ? info.variants.tracepoint : fnName;
    };
    const todo: ProgramToLoad[] = [];
    for (const name of fnNames) {
      const elfName = elfNameOf(name);
      if (this.loaded.has(loadKey(elfName, progType)) || todo.some((t) => t.elfName === elfName)) continue;
      todo.push({ name, elfName, progType, expectedAttachType: 0, attachTarget: undefined });
    }
    if (todo.length > 0) {
      let obj: NativeObject;
      try {
        obj = this.loadObject(todo);
      } catch (err) {
        if (isNativeError(err) && isPermissionErrno(err.errno))
          throw permissionErrorFor(`loading ${todo.map((t) => t.name).join(", ")}`, err.errno) ?? err;
        throw err;
      }
      for (const t of todo) {
        const fn: LoadedFunction = {
          name: t.name,
          fd: obj.programFd(t.elfName),
          type: progType,
          object: obj,
          elfName: t.elfName,
        };
        this.loaded.set(loadKey(t.elfName, progType), fn);
        this.reportLoaded(fn);
      }
    }
    return fnNames.map((n) => this.loaded.get(loadKey(elfNameOf(n), progType)) as LoadedFunction);
  }

  /**
   * Loads several functions as progType into one object of their own,
   * sharing the maps: USDT probes, so that one libbpf USDT manager hands out
   * the spec ids of all of them.
   */
  loadGroup(fnNames: string[], progType: number): NativeObject {
    const missing = fnNames.find((n) => !this.info(n));
    if (missing !== undefined) throw this.noFunction(missing);
    const obj = this.loadObject(
      fnNames.map((name) => ({
        name,
        elfName: name,
        progType,
        expectedAttachType: 0,
        attachTarget: undefined,
      })),
    );
    for (const name of fnNames)
      this.reportLoaded({ name, fd: obj.programFd(name), type: progType, object: obj, elfName: name });
    return obj;
  }

  /** The error for a function the program does not define, naming the closest it does. */
  noFunction(fnName: string): BpfError {
    return unknownNameError("function", fnName, this.functionNames(), this.opts.fileName);
  }

  /** bcc's DEBUG_BTF: what libbpf said while it opened or loaded an object (BTF sanitizing, CO-RE relocations). */
  private reportLibbpf(what: string): void {
    if (this.opts.debug & DEBUG_BTF)
      process.stderr.write(`; libbpf, ${what} ${this.opts.objectName}:\n${native().libbpfLog()}`);
  }

  /** Map name → fd of the shared set (empty before the first load). */
  maps(): Map<string, number> {
    return new Map(this.sharedMaps ?? []);
  }

  /**
   * Creates the maps if no program has been loaded yet (a table read before
   * any attach): an object with every program's autoload off creates just
   * the maps, which later loads reuse.
   */
  ensureMaps(): Map<string, number> {
    if (this.closed) throw new ClosedError("BPF object");
    if (!this.sharedMaps) this.loadObject([]);
    return this.sharedMaps as Map<string, number>;
  }

  /**
   * Opens a copy of the object and loads it: with the programs in `progs`, or
   * with none, which creates just the maps. Every load goes through here: the
   * first one's maps become the shared set, later ones reuse it.
   *
   * RLIMIT_MEMLOCK (bcc's allow_rlimit): kernels before 5.11 charge BPF memory
   * to it. libbpf raises it to unlimited at the process's first load on such
   * a kernel. With allowRlimit false tsbpf asks libbpf not to, around this
   * object's loads (libbpf 1.2+; 1.1 has no switch, so tsbpf puts the limit
   * back after the load); with allowRlimit true a load refused with EPERM
   * while the limit is finite raises it and loads again, as bcc does. Kernels
   * with memcg accounting (5.11+) never need it, and nothing is changed.
   */
  private loadObject(progs: ProgramToLoad[], retried = false): NativeObject {
    const allow = this.opts.allowRlimit !== false;
    const saved = allow ? undefined : native().memlockRlimit();
    const told = !allow && setLibbpfMemlock(0);
    try {
      return this.loadObjectOnce(progs);
    } catch (err) {
      const limit = native().memlockRlimit();
      const eperm = (err as { errno?: number }).errno === Errno.EPERM && process.getuid?.() === 0;
      if (eperm && limit.cur !== -1 && allow && !retried) {
        native().setMemlockRlimit(-1, -1);
        return this.loadObject(progs, true);
      }
      if (eperm && limit.cur !== -1 && !allow && err instanceof Error)
        err.message += `; RLIMIT_MEMLOCK is ${limit.cur} bytes and kernels before 5.11 charge BPF memory to it: raise it (ulimit -l) or load with allowRlimit: true`;
      throw err;
    } finally {
      if (told) setLibbpfMemlock(-1);
      // A libbpf that cannot be told (1.1) may have raised it at this load: put it back.
      const now = saved && native().memlockRlimit();
      if (saved && now && (now.cur !== saved.cur || now.max !== saved.max))
        native().setMemlockRlimit(saved.cur, saved.max);
    }
  }

  /**
   * The minimized BTF to resolve CO-RE relocations against when loading
   * `progs`, or undefined for the kernel's: only for prebuilt objects, and
   * not when a program's type makes libbpf read the kernel's BTF anyway.
   */
  private btfCustomPath(progs: ProgramToLoad[]): string | undefined {
    if (!this.opts.setup?.minCoreBtf || progs.some((p) => KERNEL_BTF_PROG_TYPES.has(p.progType)))
      return undefined;
    if (this.coreBtf === undefined) {
      this.coreBtf = coreBtfFor(this.opts.elf);
      if (this.opts.debug & DEBUG_BTF)
        process.stderr.write(
          `; CO-RE BTF of ${this.opts.objectName}${this.coreBtf.cached ? " (cached)" : ""}: ${this.coreBtf.why}${this.coreBtf.path ? ` (${this.coreBtf.path})` : ""}\n`,
        );
    }
    return this.coreBtf.path;
  }

  /**
   * Loads with the minimized BTF when there is one; should that load fail,
   * loads again with the kernel's, so that what fails and how it is reported
   * is what it would have been without it.
   */
  private loadObjectOnce(progs: ProgramToLoad[]): NativeObject {
    const custom = this.btfCustomPath(progs);
    if (custom === undefined) return this.loadObjectWith(progs, undefined);
    try {
      return this.loadObjectWith(progs, custom);
    } catch (err) {
      if (this.closed) throw err;
      if (this.opts.debug & DEBUG_BTF)
        process.stderr.write(
          `; loading ${this.opts.objectName} with the minimized BTF failed (${(err as Error).message.split("\n")[0]}); again with the kernel's\n`,
        );
      const obj = this.loadObjectWith(progs, undefined);
      // Only the minimized BTF failed (which should not happen): not again in this process.
      this.coreBtf = { path: undefined, why: "a load failed with the minimized BTF", cached: false };
      return obj;
    }
  }

  private loadObjectWith(progs: ProgramToLoad[], btfCustomPath: string | undefined): NativeObject {
    const { NativeObject } = native();
    const obj = new NativeObject(
      this.opts.elf,
      this.opts.objectName,
      btfCustomPath ? { btfCustomPath } : undefined,
    );
    this.reportLibbpf("opening");
    try {
      // BCC_LINUX_VERSION_CODE: the version kprobe programs load with (kernels before 5.0 refuse a mismatch).
      const kv = process.env.BCC_LINUX_VERSION_CODE;
      if (kv !== undefined && /^\d+$/.test(kv)) obj.setKversion(Number(kv));
      const inElf = new Set(obj.programs().map((p) => p.name));
      const missing = progs.find((p) => !inElf.has(p.elfName));
      if (missing) throw this.noFunction(missing.name);
      for (const name of inElf)
        obj.setAutoload(
          name,
          progs.some((p) => p.elfName === name),
        );
      for (const p of progs) {
        obj.setProgramType(p.elfName, p.progType, p.expectedAttachType);
        // After the type: libbpf looks the target up in the BTF by attach type.
        if (p.attachTarget !== undefined) obj.setAttachTarget(p.elfName, p.attachTarget);
        if (p.device) obj.setProgramIfindex(p.elfName, p.device.ifindex);
      }
      this.prepareMaps(obj);
      try {
        obj.load(progs.length ? { logLevel: this.logLevel, logSize: LOG_SIZE } : { logLevel: 0, logSize: 0 });
      } catch (err) {
        if (!isNativeError(err)) throw err;
        const lacking = kernelLacksError(err, (name) => obj.maps().find((m) => m.name === name)?.type);
        if (lacking) throw lacking;
        const offload = offloadError(err, this.opts.device, progs);
        if (offload) throw offload;
        if (!progs.length) {
          // libbpf names the map it could not create ("map 'q': failed to create: Invalid argument(-22)").
          const which = /map '([^']+)': failed to create[^\n]*/.exec(err.libbpfLog ?? "");
          const map = which ? `: map ${which[1]} (${mapHint(err.errno)})` : "";
          throw new BpfError(`creating the maps of ${this.opts.fileName} failed${map}: ${err.message}`, {
            errno: err.errno,
            cause: err,
          });
        }
        const failed =
          progs.find((p) => p.elfName === err.program) ?? (progs.length === 1 ? progs[0] : undefined);
        throw loadError(err, {
          program: failed?.name ?? progs.map((p) => p.name).join(", "),
          fileName: this.opts.fileName,
          source: this.opts.source,
          translated: this.opts.translated,
          license: licenseOf(this.opts.source),
        });
      }
      this.reportLibbpf("loading");
      if (!this.sharedMaps) this.mapsCreated(obj);
    } catch (err) {
      obj.close();
      throw err;
    }
    this.objects.push(obj);
    return obj;
  }

  /**
   * Before an object loads: the maps of the first load become the shared
   * set; every later object reuses them. The first one takes extern tables
   * from the process's public ones and pinned tables from their paths.
   */
  private prepareMaps(obj: NativeObject): void {
    if (this.sharedMaps) {
      for (const m of obj.maps()) {
        const fd = this.sharedMaps.get(m.name);
        if (fd !== undefined) obj.reuseMapFd(m.name, fd);
      }
      return;
    }
    for (const d of this.opts.maps ?? []) {
      if (d.tableType === "extern") obj.reuseMapFd(d.name, publicTableFd(d.name));
      else if (d.pinnedPath !== undefined) obj.setMapPinPath(d.name, d.pinnedPath);
    }
    for (const [name, value] of this.opts.setup?.initialValues ?? []) obj.setMapInitialValue(name, value);
    for (const [name, n] of this.opts.setup?.maxEntries ?? []) obj.setMapMaxEntries(name, n);
    if (this.opts.device) for (const m of obj.maps()) obj.setMapIfindex(m.name, this.opts.device.ifindex);
    // BPF_TABLE_PINNED's paths, and LIBBPF_PIN_BY_NAME maps' (set at open).
    for (const m of obj.maps()) if (m.pinPath !== null) preparePinPath(m.pinPath, `map ${m.name}`);
  }

  /** After the first object loaded: its maps are the shared set; public tables are published. */
  private mapsCreated(obj: NativeObject): Map<string, number> {
    const maps = new Map(obj.maps().map((m) => [m.name, obj.mapFd(m.name)]));
    this.sharedMaps = maps;
    for (const d of this.opts.maps ?? []) {
      const fd = maps.get(d.name);
      if (d.shared !== undefined && fd !== undefined) publishTable(d.name, fd, this);
    }
    return maps;
  }

  /** What libbpf knows of each map (types, sizes, BTF ids), from the first loaded object. */
  mapInfos(): NativeMapInfo[] {
    this.ensureMaps();
    return (this.objects[0] as NativeObject).maps();
  }

  /** The object's raw BTF (null when it has none). */
  btfRaw(): Uint8Array | null {
    this.ensureMaps();
    return (this.objects[0] as NativeObject).btfRaw();
  }

  /** Closes every object (and so every program and map fd). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    withdrawTables(this);
    for (const o of this.objects) o.close();
    this.objects.length = 0;
    this.loaded.clear();
  }
}

/** What a load is kept under: the ELF program, its type, attach type, target and device. */
function loadKey(
  elfName: string,
  progType: number,
  expectedAttachType = 0,
  attachTarget?: string,
  device?: { ifindex: number },
): string {
  return `${elfName}/${progType}/${expectedAttachType}/${attachTarget ?? ""}/${device?.ifindex ?? 0}`;
}

/**
 * Sets libbpf's RLIMIT_MEMLOCK target (-1: unlimited, 0: leave the limit
 * alone): false when this libbpf has no such switch (1.1) or has already made
 * its one choice for the process (EBUSY).
 */
function setLibbpfMemlock(bytes: number): boolean {
  try {
    return native().libbpfSetMemlockRlim(bytes);
  } catch (err) {
    if (!isNativeError(err) || err.errno !== Errno.EBUSY) throw err;
    return false;
  }
}

/**
 * The error for a load the kernel refused because of offload (bcc's device):
 * the device's driver cannot run BPF (no ndo_bpf: EOPNOTSUPP), or the kernel
 * would not bind the program or maps to it (EINVAL). undefined when no
 * device was asked for.
 */
function offloadError(
  err: { errno: number; message: string },
  device: { name: string; ifindex: number } | undefined,
  progs: ProgramToLoad[],
): NotSupportedError | undefined {
  const offloaded = progs.filter((p) => p.device);
  const dev = offloaded[0]?.device ?? device;
  if (!dev || (err.errno !== Errno.EOPNOTSUPP && err.errno !== Errno.EINVAL && err.errno !== Errno.ENOTSUPP))
    return undefined;
  const what = offloaded.length ? `program ${offloaded.map((p) => p.name).join(", ")}` : "the maps";
  return new NotSupportedError(
    `BPF offload to network device ${dev.name}`,
    `the kernel refused to offload ${what} to it (${errnoName(err.errno)}): its driver cannot run BPF programs (only a few NICs, such as Netronome's nfp, offload XDP and cls_bpf programs and their hash and array maps)`,
    "load without device (XDP runs in the driver or generic mode instead)",
    { errno: err.errno, cause: err },
  );
}

/** What a map creation's errno usually means. */
function mapHint(errno: number): string {
  if (errno === Errno.EINVAL) return "the kernel refused its type, sizes or flags for this map kind";
  if (errno === Errno.EPERM)
    return "not permitted: root or CAP_BPF is needed, and some map kinds need CAP_NET_ADMIN";
  if (errno === Errno.ENOMEM || errno === Errno.E2BIG) return "too large for the kernel's memory limits";
  return "the kernel refused it";
}

/** "no map x in f.c; did you mean y?" (or the whole list when nothing is close). */
export function unknownNameError(
  kind: "function" | "map",
  name: string,
  known: string[],
  fileName: string,
): BpfError {
  const close = closestNames(name, known, 3);
  return new BpfError(
    `no ${kind} ${name} in ${fileName}` +
      (close.length
        ? `; did you mean ${close.join(", ")}?`
        : `; its ${kind}s are: ${known.join(", ") || "(none)"}`),
  );
}

/** The license a bcc program asks for with `#define BPF_LICENSE X` (GPL when absent). */
export function licenseOf(source: string): string {
  const m = /^\s*#\s*define\s+BPF_LICENSE\s+(.+?)\s*$/m.exec(source);
  return m ? (m[1] as string) : "GPL";
}

/** A libbpf object name from a file name (internal maps are named after its first 8 characters). */
export function objectNameOf(fileName: string): string {
  const base = basename(fileName)
    .replace(/\.[^.]*$/, "")
    .replace(/[^\w]/g, "_");
  return base === "" || base === "_text_" ? "tsbpf" : base;
}
