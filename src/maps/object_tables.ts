/**
 * The maps of one BPF object as typed tables (bcc's `b["name"]`), and the
 * perf and ring buffers opened on them: made on first use, decoded through
 * the object's BTF, polled together, closed together.
 */
import { Btf, mapDefFromBtf } from "../btf/btf.js";
import type { CompiledObject } from "../compile/compile.js";
import { MapType } from "../kernel/constants.js";
import { BpfError } from "../kernel/errors.js";
import { possibleCpus } from "../kernel/kernel_info.js";
import { type ProgramLoader, unknownNameError } from "../loader.js";
import { native } from "../native.js";
import { type EventReader, PerfEventArray, RingBuf } from "./event_tables.js";
import { makeTable, type Table, type TableInfo } from "./table.js";

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

export class ObjectTables {
  private readonly tables = new Map<string, Table>();
  private readonly perfReaders = new Set<EventReader>();
  private readonly ringReaders = new Set<EventReader>();
  private btfCache: Btf | null | undefined;

  constructor(
    private readonly loader: ProgramLoader,
    private readonly compiled: CompiledObject,
    /** Throws ClosedError once the object is closed. */
    private readonly check: () => void,
  ) {}

  /** The object's BTF, parsed once (undefined when the object has none). */
  private btf(): Btf | undefined {
    if (this.btfCache === undefined) {
      const raw = this.loader.btfRaw();
      this.btfCache = raw ? Btf.parse(raw) : null;
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

  /** The table for map `name`, made on first use. */
  get(name: string): Table {
    const hit = this.tables.get(name);
    if (hit) return hit;
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
      check: this.check,
    };
    const track =
      (set: Set<EventReader>) =>
      (r: EventReader | undefined, old: EventReader | undefined): void => {
        if (old) set.delete(old);
        if (r) set.add(r);
      };
    let table: Table;
    if (m.type === MapType.PERF_EVENT_ARRAY)
      table = new PerfEventArray(info, track(this.perfReaders)) as unknown as Table;
    else if (m.type === MapType.RINGBUF)
      table = new RingBuf(
        info,
        track(this.ringReaders),
        (bytes) => this.setRingWakeup(name, bytes),
        () => this.ringDrops(name),
      ) as unknown as Table;
    else table = makeTable(info);
    this.tables.set(name, table);
    return table;
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

  /** Closes every buffer and perf event opened on the tables. */
  close(): void {
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
  }
}
