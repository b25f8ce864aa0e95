/**
 * The maps of one BPF object as typed tables (bcc's `b["name"]`), and the
 * perf and ring buffers opened on them: made on first use, decoded through
 * the object's BTF, polled together, closed together.
 */
import { Btf, mapDefFromBtf } from "../btf/btf.js";
import type { Codec } from "../btf/codec.js";
import type { CompiledObject } from "../compile/compile.js";
import { MapType, mapTypeName } from "../kernel/constants.js";
import { BpfError } from "../kernel/errors.js";
import { possibleCpus } from "../kernel/kernel_info.js";
import { type ProgramLoader, unknownNameError } from "../loader.js";
import { native } from "../native.js";
import { type EventReader, PerfEventArray, RingBuf } from "./event_tables.js";
import { type DecodeTableOptions, describeLayout } from "./layout.js";
import { makeTable, Table, type TableCodec, type TableInfo, tableCodec } from "./table.js";

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

/** Options of BPF.getTable beyond the name (bcc's get_table keytype, leaftype, reducer). */
export interface GetTableOptions {
  /** The key's type instead of the BTF's: a codec of the map's key size (bcc's keytype). */
  keyType?: TableCodec;
  /** The value's type instead of the BTF's (per-CPU maps: one CPU's value), of the map's value size (bcc's leaftype). */
  leafType?: TableCodec;
  /** Per-CPU maps only: combines the CPUs' values into what reads return, as reduce() does (bcc's reducer). */
  reducer?: (acc: unknown, value: unknown) => unknown;
}

const PER_CPU = new Set<number>([
  MapType.PERCPU_HASH,
  MapType.PERCPU_ARRAY,
  MapType.LRU_PERCPU_HASH,
  MapType.PERCPU_CGROUP_STORAGE,
]);

export class ObjectTables {
  /** bcc's tables dict: b[name] made on first use, set by setTable, dropped by deleteTable. */
  private readonly tables = new Map<string, Table>();
  /** Every table this object made (its buffers are closed with it), whether in `tables` or not. */
  private readonly made = new Set<Table>();
  private readonly perfReaders = new Set<EventReader>();
  private readonly ringReaders = new Set<EventReader>();
  private btfCache: Btf | null | undefined;

  constructor(
    private readonly loader: ProgramLoader,
    private readonly compiled: CompiledObject,
    /** Throws ClosedError once the object is closed. */
    private readonly check: () => void,
  ) {}

  /**
   * The object's BTF, read once (undefined when the object has none), its
   * types decoded as the tables ask for them: a tool's object carries the
   * kernel types it reads (~500), and decoding them all took 300 KB and a
   * few ms of a start for the handful a table or an event uses.
   */
  private btf(): Btf | undefined {
    if (this.btfCache === undefined) {
      const raw = this.loader.btfRaw();
      this.btfCache = raw ? Btf.parseLazy(raw) : null;
    }
    return this.btfCache ?? undefined;
  }

  /** Names of the program's maps (tsbpf's internal ones left out). */
  names(): string[] {
    return this.loader
      .mapInfos()
      .map((m) => m.name)
      .filter((n) => !n.startsWith("__tsbpf_") && !n.startsWith("__bpf_usdt_") && !n.includes("."));
  }

  /**
   * The table for map `name`: bcc's `b[name]`, made on first use and kept;
   * with options, a new table each call, not kept (bcc's get_table(name,
   * keytype, leaftype, reducer)): setTable keeps it.
   */
  get(name: string, opts?: GetTableOptions): Table {
    const custom = opts !== undefined && Object.values(opts).some((v) => v !== undefined);
    const hit = custom ? undefined : this.tables.get(name);
    if (hit) return hit;
    const info = this.info(name);
    if (custom) this.customize(info, opts as GetTableOptions);
    const table = this.make(info);
    this.made.add(table);
    if (!custom) this.tables.set(name, table);
    return table;
  }

  /** bcc's `b[name] = table`: getTable(name) returns it from now on. */
  set(name: string, table: Table): void {
    if (!(table instanceof Table))
      throw new BpfError(
        `setTable(${JSON.stringify(name)}): expected a Table (from getTable), got ${typeof table}`,
      );
    this.tables.set(name, table);
  }

  /**
   * bcc's `del b[name]`: forgets the table kept under name (false when none
   * was), closing the perf or ring buffer it opened, as bcc's wrapper does
   * when it goes. The kernel map stays, owned by the BPF object until close:
   * getTable(name) makes a new table over it.
   */
  delete(name: string): boolean {
    const t = this.tables.get(name);
    if (!t) return false;
    this.tables.delete(name);
    if (this.made.has(t) && ![...this.tables.values()].includes(t)) {
      this.closeBuffers(t);
      this.made.delete(t);
    }
    return true;
  }

  /** bcc's decode_table: the layout of map name's key and value, as text. */
  layout(name: string, opts: DecodeTableOptions = {}): string {
    return describeLayout(this.info(name), opts);
  }

  /** Applies getTable's options to a table's info. @throws BpfError for a codec of the wrong size or a reducer on a map that is not per-CPU. */
  private customize(info: TableInfo, opts: GetTableOptions): void {
    const sized = (c: TableCodec | undefined, size: number, what: string): Codec<unknown> | undefined => {
      if (c === undefined) return undefined;
      if (typeof c.decode !== "function" || typeof c.encode !== "function" || !Number.isInteger(c.size))
        throw new BpfError(`getTable(${info.name}): ${what} must be { size, decode(bytes), encode(value) }`);
      if (c.size !== size)
        throw new BpfError(`getTable(${info.name}): ${what} is ${c.size} bytes, the map's is ${size}`);
      return tableCodec(c, `map ${info.name} ${what}`);
    };
    info.keyCodec = sized(opts.keyType, info.keySize, "keyType");
    info.valueCodec = sized(opts.leafType, info.valueSize, "leafType");
    if (opts.reducer !== undefined) {
      if (typeof opts.reducer !== "function")
        throw new BpfError(`getTable(${info.name}): reducer must be a function (acc, value) => value`);
      if (!PER_CPU.has(info.mapType))
        throw new BpfError(
          `getTable(${info.name}): a reducer combines the CPUs' values of a per-CPU map, and ${info.name} is a ${mapTypeName(info.mapType)} map`,
        );
      info.reducer = opts.reducer;
    }
  }

  /** What a table of map `name` is made from. */
  private info(name: string): TableInfo {
    const fds = this.loader.ensureMaps();
    const m = this.loader.mapInfos().find((x) => x.name === name);
    const fd = fds.get(name);
    if (!m || fd === undefined) throw unknownNameError("map", name, this.names(), this.compiled.fileName);
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
      // The record type of a perf or ring buffer, anchored by the rewriter.
      const anchor = btf.datasecVars(".tsbpf.types").find((v) => v.name === `__tsbpf_type__${name}`);
      if (anchor) {
        const ptr = btf.type(btf.resolve(anchor.typeId));
        if (ptr.kind === "PTR") eventTypeId = (ptr as { type: number }).type;
      }
    }
    return {
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
      check: this.check,
    };
  }

  /** The table of its kind for info. */
  private make(info: TableInfo): Table {
    const { name, mapType: type } = info;
    const track =
      (set: Set<EventReader>) =>
      (r: EventReader | undefined, old: EventReader | undefined): void => {
        if (old) set.delete(old);
        if (r) set.add(r);
      };
    if (type === MapType.PERF_EVENT_ARRAY)
      return new PerfEventArray(info, track(this.perfReaders)) as unknown as Table;
    if (type === MapType.RINGBUF)
      return new RingBuf(
        info,
        track(this.ringReaders),
        (bytes) => this.setRingWakeup(name, bytes),
        () => this.ringDrops(name),
      ) as unknown as Table;
    return makeTable(info);
  }

  /** Sets a ring buffer's wake-up threshold (read by the translated ringbuf_output/submit, tsbpf/prelude.h). */
  private setRingWakeup(name: string, bytes: number): void {
    const idx = this.compiled.ringbufs.indexOf(name);
    const fd = this.loader.ensureMaps().get("__tsbpf_rb_wakeup");
    if (idx < 0 || fd === undefined) {
      if (bytes > 0)
        throw new BpfError(
          `ring buffer ${name}: wakeupBytes needs the ring buffer to be declared with BPF_RINGBUF_OUTPUT and written with ringbuf_output/ringbuf_submit`,
        );
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

  /** Delivers waiting perf (or ring) buffer records, waiting up to timeoutMs for the first. */
  poll(kind: "perf" | "ring", timeoutMs: number): number {
    return kind === "perf"
      ? pollReaders(this.perfReaders, timeoutMs, "perf buffer")
      : pollReaders(this.ringReaders, timeoutMs, "ring buffer");
  }

  /** Delivers waiting perf (or ring) buffer records without waiting. */
  consume(kind: "perf" | "ring"): number {
    let n = 0;
    for (const r of kind === "perf" ? this.perfReaders : this.ringReaders) n += r.consume();
    return n;
  }

  /** Closes the perf or ring buffer (and perf events) a table opened. */
  private closeBuffers(t: Table): void {
    if (t instanceof PerfEventArray) {
      t.closePerfBuffer();
      t.closePerfEvents();
    } else if (t instanceof RingBuf) t.closeRingBuffer();
  }

  /** Closes every buffer and perf event opened on the tables this object made. */
  close(): void {
    for (const t of this.made) {
      try {
        this.closeBuffers(t);
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
  }
}
