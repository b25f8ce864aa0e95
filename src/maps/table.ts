/**
 * Typed tables: bcc's Table API over BPF maps, with keys and values decoded
 * from the object's BTF into plain JS (numbers, bigint for 64-bit, strings
 * for char[], nested objects and arrays) and encoded back the same way.
 */
import { closeSync, constants, openSync } from "node:fs";
import type { Btf } from "../btf/btf.js";
import { type Codec, codecFor } from "../btf/codec.js";
import type { MapDecl } from "../compile/maps_dialect.js";
import { type BuildIdFrame, decodeBuildIdFrames } from "../elf/buildid_syms.js";
import { Errno, MapType, mapTypeName } from "../kernel/constants.js";
import { BpfError, isNativeError, MapFullError } from "../kernel/errors.js";
import { possibleCpus } from "../kernel/kernel_info.js";
import { native } from "../native.js";
import type { FlameGraphOptions } from "../profile/flamegraph.js";
import type { PprofOptions } from "../profile/pprof.js";
import { readStackCounts, type StackCountOptions, type StackCounts } from "../profile/stack_counts.js";
import {
  hasDeleteBatch,
  hasReadBatch,
  isArray,
  type RawMap,
  readInBatches,
  writeInBatches,
} from "./batch.js";
import {
  type HistSectionOptions,
  histogramSections,
  type JsonHistOptions,
  type LinearHistOptions,
  type Log2HistOptions,
  printJsonHist,
  printLinearHist,
  printLog2Hist,
} from "./histogram.js";
import { scanfValue, sprintfValue } from "./sprintf.js";

/** What a table knows about its map. */
export interface TableInfo {
  name: string;
  fd: number;
  mapType: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  /** The object's BTF, when it has one. */
  btf: Btf | undefined;
  keyTypeId: number;
  valueTypeId: number;
  /** The bcc declaration, when the map came from one. */
  decl: MapDecl | undefined;
  /** BTF type id of the records a perf/ring buffer carries (from tsbpf's type anchor), or 0. */
  eventTypeId: number;
  /** Throws ClosedError once the owning BPF object is closed. */
  check: () => void;
  /** The key codec to use instead of the BTF's (bcc's get_table keytype). */
  keyCodec?: Codec<unknown>;
  /** The value codec (per-CPU maps: of one CPU's value) to use instead of the BTF's (bcc's leaftype). */
  valueCodec?: Codec<unknown>;
  /** Per-CPU maps: combines the CPUs' values into the one value reads return (bcc's reducer). */
  reducer?: (acc: unknown, value: unknown) => unknown;
}

/**
 * A key or value type given by the caller instead of the object's BTF (bcc's
 * get_table keytype/leaftype, which take ctypes): `size` bytes, decoded from
 * and encoded to bytes (little-endian, as the kernel stores them).
 */
export interface TableCodec<T = unknown> {
  /** The key or value size in bytes; must be the map's (per-CPU maps: one CPU's value size). */
  readonly size: number;
  /** The value of `size` bytes (a copy the codec may keep). */
  decode(bytes: Uint8Array): T;
  /** The bytes of a value: `size` of them. */
  encode(value: T): Uint8Array;
  /** A value whose bytes are all zero (default: decode of zero bytes). */
  zero?(): T;
}

/** Wraps a caller's {@link TableCodec} as tsbpf's Codec, checking the sizes it encodes. */
export function tableCodec(c: TableCodec, what: string): Codec<unknown> {
  return {
    size: c.size,
    decode: (view, offset) =>
      c.decode(
        new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + c.size)),
      ),
    encode: (value, view, offset) => {
      const bytes = c.encode(value);
      if (!(bytes instanceof Uint8Array) || bytes.length !== c.size)
        throw new BpfError(
          `${what}: encode returned ${bytes instanceof Uint8Array ? `${bytes.length} bytes` : typeof bytes}, not ${c.size} bytes`,
        );
      new Uint8Array(view.buffer, view.byteOffset + offset, c.size).set(bytes);
    },
    zero: () => (c.zero ? c.zero() : c.decode(new Uint8Array(c.size))),
  };
}

/** Update flags (uapi/linux/bpf.h). */
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;

/** A codec for raw bytes, for maps whose types BTF does not describe. */
function bytesCodec(size: number): Codec<unknown> {
  return {
    size,
    decode: (view, offset) =>
      new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + size)),
    encode: (value, view, offset) => {
      const src = value as Uint8Array;
      const dst = new Uint8Array(view.buffer, view.byteOffset + offset, size);
      dst.fill(0);
      dst.set(src.subarray(0, size));
    },
    zero: () => new Uint8Array(size),
  };
}

/** A codec for a little-endian unsigned integer of 4 or 8 bytes. */
function uintCodec(size: number): Codec<unknown> {
  if (size === 8) {
    return {
      size,
      decode: (v, o) => v.getBigUint64(o, true),
      encode: (x, v, o) => v.setBigUint64(o, BigInt(x as number | bigint), true),
      zero: () => 0n,
    };
  }
  if (size === 4) {
    return {
      size,
      decode: (v, o) => v.getUint32(o, true),
      encode: (x, v, o) => v.setUint32(o, Number(x), true),
      zero: () => 0,
    };
  }
  return bytesCodec(size);
}

function codecOrBytes(btf: Btf | undefined, typeId: number, size: number): Codec<unknown> {
  if (btf && typeId > 0) {
    try {
      return codecFor(btf, typeId);
    } catch {
      // fall through to raw bytes
    }
  }
  return size === 4 || size === 8 ? uintCodec(size) : bytesCodec(size);
}

/** bcc's Table: a BPF map with typed keys and values. */
export class Table<K = unknown, V = unknown> implements Iterable<[K, V]> {
  readonly name: string;
  readonly mapType: number;
  readonly maxEntries: number;
  readonly keySize: number;
  readonly valueSize: number;
  protected readonly info: TableInfo;
  protected readonly keyCodec: Codec<K>;
  protected readonly valueCodec: Codec<V>;
  protected readonly keyBuf: Uint8Array;
  protected readonly keyView: DataView;
  protected readonly valueBuf: Uint8Array;
  protected readonly valueView: DataView;
  /** [key_size, value_size, type] for the addon, which checks buffers against them (no syscall to ask). */
  protected readonly sizes: Uint32Array;

  constructor(info: TableInfo) {
    this.info = info;
    this.name = info.name;
    this.mapType = info.mapType;
    this.maxEntries = info.maxEntries;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.keyCodec = (info.keyCodec ?? codecOrBytes(info.btf, info.keyTypeId, info.keySize)) as Codec<K>;
    this.valueCodec = (info.valueCodec ??
      codecOrBytes(info.btf, info.valueTypeId, info.valueSize)) as Codec<V>;
    this.keyBuf = new Uint8Array(Math.max(info.keySize, 1));
    this.keyView = new DataView(this.keyBuf.buffer);
    this.valueBuf = new Uint8Array(this.valueBytes());
    this.valueView = new DataView(this.valueBuf.buffer);
    this.sizes = Uint32Array.of(info.keySize, info.valueSize, info.mapType);
  }

  /** The map type's name ("HASH", "PERCPU_ARRAY"), as bcc's get_table_type_name says it. */
  get typeName(): string {
    return mapTypeName(this.mapType);
  }

  /** The map's fd (valid while the BPF object is open). */
  get fd(): number {
    this.info.check();
    return this.info.fd;
  }

  /** Bytes the kernel reads or writes for one value (per-CPU maps: all CPUs). */
  protected valueBytes(): number {
    return Math.max(this.info.valueSize, 1);
  }

  /** Encodes a key into a fresh buffer. */
  encodeKey(key: K): Uint8Array {
    const out = new Uint8Array(Math.max(this.keySize, 1));
    this.keyCodec.encode(key, new DataView(out.buffer), 0);
    return out;
  }

  /** Decodes a key from its bytes. */
  decodeKey(bytes: Uint8Array): K {
    return this.keyCodec.decode(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0);
  }

  /** Encodes a value into a fresh buffer. */
  encodeValue(value: V): Uint8Array {
    const out = new Uint8Array(this.valueBytes());
    this.valueCodec.encode(value, new DataView(out.buffer), 0);
    return out;
  }

  /** Decodes a value from its bytes. */
  decodeValue(bytes: Uint8Array): V {
    return this.valueCodec.decode(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0);
  }

  /** The key in bcc's text form ("0x1f", "{ 0x1 \"bash\" }"): bcc's key_sprintf. */
  keySprintf(key: K): string {
    return sprintfValue(this.info.btf, this.info.keyTypeId, this.encodeKey(key));
  }

  /** A value (for per-CPU maps: one CPU's) in bcc's text form: bcc's leaf_sprintf. */
  leafSprintf(value: unknown): string {
    const one = codecOrBytes(this.info.btf, this.info.valueTypeId, this.info.valueSize);
    const bytes = new Uint8Array(Math.max(this.info.valueSize, 1));
    one.encode(value, new DataView(bytes.buffer), 0);
    return sprintfValue(this.info.btf, this.info.valueTypeId, bytes);
  }

  /** A key from bcc's text form (bcc's key_scanf). @throws BpfError naming what it expected where. */
  keyScanf(text: string): K {
    return this.decodeKey(
      scanfValue(this.info.btf, this.info.keyTypeId, this.keySize, text, `${this.name} key`),
    );
  }

  /** A value (for per-CPU maps: one CPU's) from bcc's text form (bcc's leaf_scanf). */
  leafScanf(text: string): unknown {
    const bytes = scanfValue(
      this.info.btf,
      this.info.valueTypeId,
      this.info.valueSize,
      text,
      `${this.name} value`,
    );
    const one = codecOrBytes(this.info.btf, this.info.valueTypeId, this.info.valueSize);
    return one.decode(new DataView(bytes.buffer), 0);
  }

  /**
   * A value whose bytes are all zero (bcc's `Leaf()`, the type's constructor).
   * Not bcc's `TableBase.zero()`, which zeroes the table: that is {@link zeroValues}.
   */
  zero(): V {
    return this.valueCodec.zero();
  }

  /**
   * Sets the value of every key now in the table to zero, keeping the keys
   * (bcc's `TableBase.zero()`; tsbpf's {@link zero} is bcc's `Leaf()`). The
   * keys are collected first, then written in batches where the kernel has
   * them (5.6+): a key the program deletes meanwhile comes back, zeroed, as in bcc.
   * @throws BpfError for queues, stacks, perf and ring buffers (no values to zero).
   */
  zeroValues(): void {
    if (
      this.mapType === MapType.QUEUE ||
      this.mapType === MapType.STACK ||
      this.mapType === MapType.RINGBUF ||
      this.mapType === MapType.PERF_EVENT_ARRAY
    )
      throw new BpfError(`map ${this.name} is a ${this.typeName}: it has no values to zero`);
    const raws = this.rawKeys();
    const m = this.raw();
    const keys = new Uint8Array(raws.length * this.keySize);
    for (const [i, r] of raws.entries()) keys.set(r.subarray(0, this.keySize), i * this.keySize);
    const values = new Uint8Array(raws.length * m.valueBytes);
    if (hasReadBatch(m) && writeInBatches(m, keys, values, raws.length, BPF_ANY)) return;
    const zero = new Uint8Array(m.valueBytes);
    for (const r of raws) this.call("update", () => native().mapUpdate(m.fd, r, zero, BPF_ANY, this.sizes));
  }

  /** The value for key, or undefined when there is none. */
  get(key: K): V | undefined {
    const fd = this.fd;
    this.keyCodec.encode(key, this.keyView, 0);
    if (!this.call("lookup", () => native().mapLookup(fd, this.keyBuf, this.valueBuf, this.sizes)))
      return undefined;
    return this.decodeStored();
  }

  /** Decodes what the last lookup left in the value buffer. */
  protected decodeStored(): V {
    return this.valueCodec.decode(this.valueView, 0);
  }

  /** Sets key to value (flags: BPF_ANY, BPF_NOEXIST, BPF_EXIST). */
  set(key: K, value: V, flags = BPF_ANY): void {
    const fd = this.fd;
    const k = this.encodeKey(key);
    const v = this.encodeValue(value);
    this.call("update", () => native().mapUpdate(fd, k, v, flags, this.sizes));
  }

  /** bcc's insert: set only when the key is not there yet. */
  insert(key: K, value: V): void {
    this.set(key, value, BPF_NOEXIST);
  }

  /** bcc's update. */
  update(key: K, value: V): void {
    this.set(key, value, BPF_ANY);
  }

  /** Deletes key; false when it was not there. */
  delete(key: K): boolean {
    const fd = this.fd;
    const k = this.encodeKey(key);
    return this.call("delete", () => native().mapDelete(fd, k, this.sizes));
  }

  /** The key after `key` in the kernel's order (the first with none), or undefined at the end (bcc's next). */
  next(key?: K): K | undefined {
    const fd = this.fd;
    const out = new Uint8Array(Math.max(this.keySize, 1));
    const prev = key === undefined ? null : this.encodeKey(key);
    return this.call("next key", () => native().mapNextKey(fd, prev, out, this.sizes))
      ? this.decodeKey(out)
      : undefined;
  }

  /** True when key is in the map. */
  has(key: K): boolean {
    return this.get(key) !== undefined;
  }

  /** Every key, as the kernel iterates them (collected first, so deleting while iterating is safe). */
  *keys(): Generator<K> {
    for (const raw of this.rawKeys()) yield this.decodeKey(raw);
  }

  /** The raw bytes of every key. */
  protected rawKeys(): Uint8Array[] {
    const fd = this.fd;
    const out: Uint8Array[] = [];
    let prev: Uint8Array | null = null;
    for (let n = 0; ; n++) {
      const next = new Uint8Array(this.keySize);
      if (!this.call("next key", () => native().mapNextKey(fd, prev, next, this.sizes))) break;
      out.push(next);
      prev = next;
      // A hash map being changed while walked can restart; never loop forever.
      if (n > this.maxEntries * 4 + 16) break;
    }
    return out;
  }

  /** Every value. */
  *values(): Generator<V> {
    for (const [, v] of this.items()) yield v;
  }

  /**
   * Every [key, value] pair. Hash and array maps are read in batches of
   * 256 (one syscall each, Linux 5.6+); others, or older kernels, key by key.
   */
  *items(): Generator<[K, V]> {
    const batched = this.batchItems();
    if (batched) {
      yield* batched;
      return;
    }
    const fd = this.fd;
    for (const raw of this.rawKeys()) {
      if (!this.call("lookup", () => native().mapLookup(fd, raw, this.valueBuf, this.sizes))) continue; // deleted meanwhile
      yield [this.decodeKey(raw), this.decodeStored()];
    }
  }

  /**
   * Every entry with its key as the kernel stores it (bytes) and its value
   * decoded: for readers that lay out keys themselves, e.g. metrics labels
   * decoded field by field. Batched like {@link items}.
   */
  *rawKeyItems(): Generator<[Uint8Array, V]> {
    const m = this.raw();
    if (hasReadBatch(m)) {
      const out: Array<[Uint8Array, V]> = [];
      const ok = readInBatches(m, false, (keys, values, i) => {
        out.push([
          keys.slice(i * this.keySize, (i + 1) * this.keySize),
          this.decodeAt(values, i * m.valueBytes),
        ]);
      });
      if (ok) {
        yield* out;
        return;
      }
    }
    const fd = this.fd;
    for (const raw of this.rawKeys()) {
      if (!this.call("lookup", () => native().mapLookup(fd, raw, this.valueBuf, this.sizes))) continue; // deleted meanwhile
      yield [raw, this.decodeStored()];
    }
  }

  /** The object's BTF and the key's and value's type ids (0 when the map has no BTF types). */
  get btfTypes(): { btf: Btf | undefined; keyTypeId: number; valueTypeId: number } {
    return { btf: this.info.btf, keyTypeId: this.info.keyTypeId, valueTypeId: this.info.valueTypeId };
  }

  /** Reads the map with bpf_map_lookup_batch; undefined when the kernel or map kind cannot. */
  private batchItems(andDelete = false): Array<[K, V]> | undefined {
    const m = this.raw();
    if (!(andDelete ? hasDeleteBatch(m) : hasReadBatch(m))) return undefined;
    const out: Array<[K, V]> = [];
    const ok = readInBatches(m, andDelete, (keys, values, i) => {
      const key = this.keyCodec.decode(new DataView(keys.buffer, i * this.keySize, this.keySize), 0);
      out.push([key, this.decodeAt(values, i * m.valueBytes)]);
    });
    return ok ? out : undefined;
  }

  private raw(): RawMap {
    const { name, fd, mapType, keySize, sizes } = this;
    return { name, fd, mapType, keySize, valueBytes: this.valueBytes(), sizes };
  }

  /** Every entry, read in batches (bcc's items_lookup_batch); key by key where the kernel (before 5.6) or the map kind has no batch reads. */
  itemsLookupBatch(): Array<[K, V]> {
    return [...this.items()];
  }

  /**
   * Every entry, read and deleted in batches of one syscall each (bcc's
   * items_lookup_and_delete_batch), hash maps: an entry the program adds
   * meanwhile is either returned or left in the map, never lost (reading
   * with items() and then calling clear() loses what comes in between).
   * Where the kernel has no batches: each key read and deleted in one
   * syscall (Linux 5.14+), else read then deleted.
   */
  itemsLookupAndDeleteBatch(): Array<[K, V]> {
    const m = this.raw();
    if (isArray(m))
      throw new BpfError(
        `map ${this.name}: an array's entries cannot be deleted; read them with itemsLookupBatch()`,
      );
    const batched = this.batchItems(true);
    if (batched) return batched;
    const out: Array<[K, V]> = [];
    for (const raw of this.rawKeys()) {
      let found: boolean;
      try {
        found = native().mapLookupAndDelete(m.fd, raw, this.valueBuf, this.sizes);
      } catch (err) {
        if (!isNativeError(err) || (err.errno !== Errno.EINVAL && err.errno !== Errno.ENOTSUPP)) throw err;
        // Before 5.14 hash maps have no single-key lookup-and-delete.
        found = this.call("lookup", () => native().mapLookup(m.fd, raw, this.valueBuf, this.sizes));
        if (found) this.call("delete", () => native().mapDelete(m.fd, raw, this.sizes));
      }
      if (found) out.push([this.decodeKey(raw), this.decodeStored()]);
    }
    return out;
  }

  /** Deletes these keys (every key when omitted) in batches (bcc's items_delete_batch). @throws BpfError when a key is not there. */
  itemsDeleteBatch(keys?: K[]): void {
    const m = this.raw();
    if (isArray(m))
      throw new BpfError(`map ${this.name}: an array's entries cannot be deleted; use clear() to zero them`);
    const raws = keys === undefined ? this.rawKeys() : keys.map((k) => this.encodeKey(k));
    const packed = new Uint8Array(raws.length * this.keySize);
    for (const [i, r] of raws.entries()) packed.set(r.subarray(0, this.keySize), i * this.keySize);
    if (hasDeleteBatch(m) && writeInBatches(m, packed, null, raws.length)) return;
    for (const [i, r] of raws.entries())
      if (!this.call("delete", () => native().mapDelete(m.fd, r, this.sizes)))
        throw new BpfError(
          `map ${this.name}: delete batch failed after ${i} entries (a key is not in the map)`,
          {
            errno: Errno.ENOENT,
          },
        );
  }

  /** Sets keys[i] to values[i] in batches (bcc's items_update_batch). */
  itemsUpdateBatch(keys: K[], values: V[], flags = BPF_ANY): void {
    if (keys.length !== values.length)
      throw new BpfError(
        `map ${this.name}: itemsUpdateBatch got ${keys.length} keys and ${values.length} values`,
      );
    const m = this.raw();
    const k = new Uint8Array(keys.length * this.keySize);
    const v = new Uint8Array(values.length * m.valueBytes);
    for (const [i, key] of keys.entries())
      k.set(this.encodeKey(key).subarray(0, this.keySize), i * this.keySize);
    for (const [i, value] of values.entries()) v.set(this.encodeValue(value), i * m.valueBytes);
    if (hasReadBatch(m) && writeInBatches(m, k, v, keys.length, flags)) return;
    for (const [i, key] of keys.entries()) this.set(key, values[i] as V, flags);
  }

  /** Decodes a value stored at offset of view (per-CPU tables override). */
  protected decodeAt(view: DataView, offset: number): V {
    return this.valueCodec.decode(view, offset);
  }

  [Symbol.iterator](): Iterator<[K, V]> {
    return this.items();
  }

  /** Number of entries (walks the keys). */
  get size(): number {
    return this.rawKeys().length;
  }

  /** Deletes every entry. */
  clear(): void {
    const fd = this.fd;
    for (const raw of this.rawKeys()) this.call("delete", () => native().mapDelete(fd, raw, this.sizes));
  }

  /** Histogram entries: [{ key, value }] with numeric values. */
  protected histEntries(): Array<{ key: number | bigint | Record<string, unknown>; value: number | bigint }> {
    const out: Array<{ key: number | bigint | Record<string, unknown>; value: number | bigint }> = [];
    for (const [k, v] of this.items()) {
      out.push({ key: k as number | bigint | Record<string, unknown>, value: histValue(v) });
    }
    return out;
  }

  /**
   * A histogram keyed by a struct (section, slot) as per-section slot counts
   * (bcc's TableBase.decode_c_struct, the step its histogram printers share):
   * section = the key's first field (through bucketFn), slot = its second
   * (or its `slot` field); indexMax slots (default 65, bcc's log2_index_max).
   * @throws RangeError for a slot outside 0..indexMax-1; TypeError for a key that is not a struct.
   */
  decodeCStruct(opts: HistSectionOptions & { indexMax?: number } = {}): Map<unknown, bigint[]> {
    return histogramSections(this.histEntries(), opts, opts.indexMax ?? 65);
  }

  /** Prints the table as a log2 histogram, exactly as bcc's print_log2_hist. */
  printLog2Hist(valType = "value", opts: Log2HistOptions & { write?: (s: string) => void } = {}): void {
    printLog2Hist(this.histEntries(), valType, opts);
  }

  /** Prints the table as a linear histogram, exactly as bcc's print_linear_hist. */
  printLinearHist(valType = "value", opts: LinearHistOptions & { write?: (s: string) => void } = {}): void {
    printLinearHist(this.histEntries(), valType, opts);
  }

  /** Prints the table as bcc's print_json_hist does. */
  printJsonHist(valType = "value", opts: JsonHistOptions & { write?: (s: string) => void } = {}): void {
    printJsonHist(this.histEntries(), valType, opts);
  }

  /** Runs a native map call, turning its errors into BpfErrors that name the map. */
  protected call<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (isNativeError(err)) {
        const opts = { errno: err.errno, cause: err };
        // E2BIG: a hash, queue or stack at max_entries; ENOSPC: an LPM trie's (Linux 4.11+).
        if (
          (what === "update" || what === "push") &&
          (err.errno === Errno.E2BIG || err.errno === Errno.ENOSPC)
        )
          throw new MapFullError(this.name, this.maxEntries, opts);
        if (what === "update" && err.errno === Errno.EEXIST)
          throw new BpfError(
            `map ${this.name}: the key is already there (insert, or set with BPF_NOEXIST)`,
            opts,
          );
        if (what === "update" && err.errno === Errno.ENOENT)
          throw new BpfError(`map ${this.name}: the key is not there (set with BPF_EXIST)`, opts);
        throw new BpfError(`map ${this.name}: ${what} failed: ${err.message}`, opts);
      }
      throw err;
    }
  }
}

function histValue(v: unknown): number | bigint {
  if (typeof v === "number" || typeof v === "bigint") return v;
  if (Array.isArray(v)) {
    // per-CPU counters: summed
    let sum = 0n;
    for (const x of v) sum += BigInt(x as number | bigint);
    return sum;
  }
  throw new BpfError(`histogram values must be integers, got ${typeof v}`);
}

/** A hash map (BPF_HASH, LRU hash, histogram keyed by a struct). */
export class HashTable<K = unknown, V = unknown> extends Table<K, V> {}

/** An array map: every index exists; delete sets the entry to zero. */
export class ArrayTable<V = unknown> extends Table<number, V> {
  /** An index, negative ones counting from the end as in bcc (-1: the last). */
  protected index(key: number): number {
    const i = Number.isInteger(key) && key < 0 ? key + this.maxEntries : key;
    if (!Number.isInteger(i) || i < 0 || i >= this.maxEntries)
      throw new RangeError(`map ${this.name}: index ${key} is out of range 0..${this.maxEntries - 1}`);
    return i;
  }

  override delete(key: number): boolean {
    this.set(key, this.zero());
    return true;
  }

  override set(key: number, value: V, flags = BPF_ANY): void {
    super.set(this.index(key), value, flags);
  }

  override clear(): void {
    const zero = this.zero();
    for (let i = 0; i < this.maxEntries; i++) this.set(i, zero);
  }

  override *keys(): Generator<number> {
    for (let i = 0; i < this.maxEntries; i++) yield i;
  }

  override get size(): number {
    return this.maxEntries;
  }

  override get(key: number): V | undefined {
    return super.get(this.index(key));
  }

  /** The value at index (arrays always have one). */
  getValue(index: number): V {
    return this.get(index) as V;
  }
}

/**
 * A per-CPU map's value as bpf() reads and writes it: one slot per possible
 * CPU, each rounded up to 8 bytes (the kernel's bpf_map_value_size; the addon
 * sizes its buffers the same way, native/map.c).
 */
export function perCpuValueLayout(valueSize: number): { stride: number; cpus: number; bytes: number } {
  const stride = Math.ceil(valueSize / 8) * 8;
  const cpus = possibleCpus();
  return { stride, cpus, bytes: stride * cpus };
}

/** Per-CPU maps: a value per possible CPU. */
/**
 * Per-CPU maps: a value per possible CPU. Made with a reducer (bcc's
 * `get_table(name, reducer=fn)`), get(), items() and values() return the
 * CPUs' values combined by it (reduce, in CPU order) instead of the array: type
 * such a table as `Table<K, V>`. getValue(), sum(), max() and average() read the array.
 */
export class PerCpuTable<K = unknown, V = unknown> extends Table<K, V[]> {
  private readonly layout = perCpuValueLayout(this.info.valueSize);
  private readonly ncpus = this.layout.cpus;
  private readonly stride = this.layout.stride;
  private readonly elemCodec = (this.info.valueCodec ??
    codecOrBytes(this.info.btf, this.info.valueTypeId, this.info.valueSize)) as Codec<V>;
  /** bcc's reducer: the CPUs' values combined, when the table was made with one. */
  readonly reducer: ((acc: V, value: V) => V) | undefined = this.info.reducer as
    | ((acc: V, value: V) => V)
    | undefined;

  protected override valueBytes(): number {
    return perCpuValueLayout(this.info.valueSize).bytes;
  }

  /** Every CPU's value stored at offset of view. */
  private cpuValues(view: DataView, offset: number): V[] {
    const out: V[] = new Array(this.ncpus);
    for (let c = 0; c < this.ncpus; c++) out[c] = this.elemCodec.decode(view, offset + c * this.stride);
    return out;
  }

  /** The array, or with a reducer the one value it makes of it (typed V[] by the class; see above). */
  private reduced(vals: V[]): V[] {
    return this.reducer ? (vals.reduce(this.reducer) as unknown as V[]) : vals;
  }

  protected override decodeStored(): V[] {
    return this.reduced(this.cpuValues(this.valueView, 0));
  }

  protected override decodeAt(view: DataView, offset: number): V[] {
    return this.reduced(this.cpuValues(view, offset));
  }

  override decodeValue(bytes: Uint8Array): V[] {
    return this.reduced(this.cpuValues(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0));
  }

  override encodeValue(value: V[] | V): Uint8Array {
    const out = new Uint8Array(this.valueBytes());
    const view = new DataView(out.buffer);
    for (let c = 0; c < this.ncpus; c++) {
      const v = Array.isArray(value) ? (value[c] ?? this.elemCodec.zero()) : value;
      this.elemCodec.encode(v as V, view, c * this.stride);
    }
    return out;
  }

  override zero(): V[] {
    return Array.from({ length: this.ncpus }, () => this.elemCodec.zero());
  }

  /** bcc's getvalue: the per-CPU values of key (never reduced). */
  getValue(key: K): V[] {
    const fd = this.fd;
    this.keyCodec.encode(key, this.keyView, 0);
    if (!this.call("lookup", () => native().mapLookup(fd, this.keyBuf, this.valueBuf, this.sizes)))
      return this.zero();
    return this.cpuValues(this.valueView, 0);
  }

  /** Sum over CPUs of a numeric value. */
  sum(key: K): bigint | number {
    return reduceNumbers(this.getValue(key), (a, b) => a + b);
  }

  /** Maximum over CPUs of a numeric value. */
  max(key: K): bigint | number {
    // biome-ignore lint/complexity/useMathMinMax: bigints (Math.max takes numbers only)
    return reduceNumbers(this.getValue(key), (a, b) => (a > b ? a : b));
  }

  /** Average over CPUs of a numeric value. */
  average(key: K): number {
    const vals = this.getValue(key);
    return Number(this.sum(key)) / vals.length;
  }
}

function reduceNumbers(vals: unknown[], f: (a: bigint, b: bigint) => bigint): bigint | number {
  const asBig = vals.map((v) => {
    if (typeof v !== "number" && typeof v !== "bigint")
      throw new BpfError("sum/max/average need numeric values");
    return BigInt(v);
  });
  const r = asBig.reduce(f);
  return typeof vals[0] === "number" &&
    r <= BigInt(Number.MAX_SAFE_INTEGER) &&
    r >= -BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(r)
    : r;
}

/** A per-CPU array (BPF_PERCPU_ARRAY). */
export class PerCpuArray<V = unknown> extends PerCpuTable<number, V> {
  override *keys(): Generator<number> {
    for (let i = 0; i < this.maxEntries; i++) yield i;
  }
  override get size(): number {
    return this.maxEntries;
  }
  override delete(key: number): boolean {
    this.set(key, this.zero());
    return true;
  }
  override clear(): void {
    for (let i = 0; i < this.maxEntries; i++) this.set(i, this.zero());
  }
}

/** A per-CPU hash (BPF_PERCPU_HASH). */
export class PerCpuHash<K = unknown, V = unknown> extends PerCpuTable<K, V> {}

/** A longest-prefix-match trie (BPF_LPM_TRIE): keys are { prefixlen, data… }. */
export class LpmTrie<K = unknown, V = unknown> extends Table<K, V> {}

/** BPF_F_STACK_BUILD_ID: the map holds build-id frames (BPF_STACK_TRACE_BUILDID, Linux 4.17+). */
const BPF_F_STACK_BUILD_ID = 1 << 5;

/** A stack trace map (BPF_STACK_TRACE, BPF_STACK_TRACE_BUILDID). */
export class StackTrace extends Table<number, unknown> {
  /** Whether its frames are build-ids and file offsets (BPF_STACK_TRACE_BUILDID): read them with walkBuildId. */
  get buildId(): boolean {
    return (this.info.flags & BPF_F_STACK_BUILD_ID) !== 0;
  }

  /**
   * The frames of a BPF_STACK_TRACE_BUILDID stack, innermost first: each a
   * module's build-id and file offset ("valid"), or an address where the
   * kernel could not read the build-id ("ip"). Resolve them with b.sym(frame).
   */
  walkBuildId(stackId: number): BuildIdFrame[] {
    if (!this.buildId) throw new BpfError(`map ${this.name} holds addresses, not build-ids: use walk()`);
    if (stackId < 0) return [];
    const fd = this.fd;
    const key = this.encodeKey(stackId);
    if (!this.call("lookup", () => native().mapLookup(fd, key, this.valueBuf, this.sizes))) return [];
    return decodeBuildIdFrames(this.valueBuf);
  }

  /**
   * A counts map whose keys hold this map's stack ids, read and symbolized:
   * its rows (bcc's order), folded lines, a flame graph and a pprof file.
   */
  stackCounts<K = unknown>(counts: Table, opts: StackCountOptions<K> = {}): StackCounts<K> {
    return readStackCounts(counts, this, opts);
  }

  /** bcc's folded lines ("comm;outer;…;inner count\n" each) of a counts map keyed by this map's stack ids. */
  folded<K = unknown>(counts: Table, opts: StackCountOptions<K> = {}): string {
    return this.stackCounts(counts, opts).folded();
  }

  /** An interactive flame graph (SVG text) of a counts map keyed by this map's stack ids. */
  flameGraph<K = unknown>(
    counts: Table,
    opts: StackCountOptions<K> & { graph?: FlameGraphOptions } = {},
  ): string {
    return this.stackCounts(counts, opts).flameGraph(opts.graph);
  }

  /** A gzipped pprof profile of a counts map keyed by this map's stack ids. */
  pprof<K = unknown>(
    counts: Table,
    opts: StackCountOptions<K> & { profile?: PprofOptions } = {},
  ): Uint8Array {
    return this.stackCounts(counts, opts).pprof(opts.profile);
  }

  /** The most frames a stack holds (the kernel's sysctl kernel.perf_event_max_stack default, bcc's MAX_DEPTH). */
  static readonly MAX_DEPTH = 127;

  /**
   * The instruction pointers of stack id, innermost first, without the zero
   * padding; with `resolve`, what it makes of each (bcc's walk(id, resolve)).
   */
  walk(stackId: number): bigint[];
  walk<T>(stackId: number, resolve: (ip: bigint) => T): T[];
  walk<T>(stackId: number, resolve?: (ip: bigint) => T): Array<bigint | T> {
    const ips = this.ips(stackId);
    return resolve ? ips.map(resolve) : ips;
  }

  private ips(stackId: number): bigint[] {
    if (this.buildId)
      throw new BpfError(
        `map ${this.name} holds build-id frames (BPF_STACK_TRACE_BUILDID): use walkBuildId()`,
      );
    if (stackId < 0) return [];
    const v = this.get(stackId) as { ip?: bigint[] } | bigint[] | Uint8Array | undefined;
    if (v === undefined) return [];
    // A map declared without a value type (libbpf's value_size alone) holds raw bytes: u64 addresses.
    const ips =
      v instanceof Uint8Array
        ? Array.from({ length: Math.floor(v.byteLength / 8) }, (_, i) =>
            new DataView(v.buffer, v.byteOffset, v.byteLength).getBigUint64(i * 8, true),
          )
        : Array.isArray(v)
          ? v
          : (v.ip ?? []);
    const out: bigint[] = [];
    for (const ip of ips) {
      if (ip === 0n) break;
      out.push(ip);
    }
    return out;
  }
}

/**
 * A cgroup array (BPF_CGROUP_ARRAY): cgroups by index, for
 * bpf_current_task_under_cgroup (`check_current_task`) and bpf_skb_under_cgroup.
 */
export class CgroupArray extends Table<number, number> {
  /** Puts a cgroup at index: its v2 directory (bcc's CgroupArray[i] = path), or an fd of one. */
  override set(index: number, cgroup: string | number, flags = BPF_ANY): void {
    if (typeof cgroup === "number") {
      super.set(index, cgroup, flags);
      return;
    }
    let fd: number;
    try {
      fd = openSync(cgroup, constants.O_RDONLY | constants.O_DIRECTORY);
    } catch (err) {
      throw new BpfError(`map ${this.name}: cannot open cgroup ${cgroup}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    try {
      super.set(index, fd, flags);
    } finally {
      closeSync(fd);
    }
  }
}

/** A program array for tail calls (BPF_PROG_ARRAY). */
export class ProgArray extends Table<number, number> {
  /** Puts a program (its fd, or a loadFunc result) at index. */
  override set(index: number, prog: number | { fd: number }, flags = BPF_ANY): void {
    super.set(index, typeof prog === "number" ? prog : prog.fd, flags);
  }
}

/** A queue or stack map (BPF_QUEUE / BPF_STACK): no keys. */
export class QueueStack<V = unknown> extends Table<never, V> {
  /** Pushes a value (flags BPF_EXIST overwrites the oldest when full). */
  push(value: V, flags = BPF_ANY): void {
    const fd = this.fd;
    const v = this.encodeValue(value);
    this.call("push", () => native().mapUpdate(fd, new Uint8Array(0), v, flags, this.sizes));
  }

  /** Removes and returns the next value, or undefined when empty. */
  pop(): V | undefined {
    const fd = this.fd;
    if (!this.call("pop", () => native().mapLookupAndDelete(fd, null, this.valueBuf, this.sizes)))
      return undefined;
    return this.decodeStored();
  }

  /** The next value without removing it, or undefined when empty. */
  peek(): V | undefined {
    const fd = this.fd;
    if (!this.call("peek", () => native().mapLookup(fd, new Uint8Array(0), this.valueBuf, this.sizes)))
      return undefined;
    return this.decodeStored();
  }

  /** Pops every value (as bcc's QueueStack.values() does). */
  override *values(): Generator<V> {
    for (;;) {
      const v = this.pop();
      if (v === undefined) return;
      yield v;
    }
  }

  override items(): Generator<[never, V]> {
    throw new BpfError(
      `map ${this.name} is a ${this.mapType === MapType.QUEUE ? "queue" : "stack"}: it has no keys; use pop(), peek() or values()`,
    );
  }
}

/** A map of maps (BPF_ARRAY_OF_MAPS / BPF_HASH_OF_MAPS): values are inner map fds on write, ids on read. */
export class MapInMap<K = unknown> extends Table<K, number> {
  /** Puts an inner map (its fd, or a Table) at key. */
  override set(key: K, inner: number | { fd: number }, flags = BPF_ANY): void {
    const fd = typeof inner === "number" ? inner : inner.fd;
    const view = new DataView(new ArrayBuffer(4));
    view.setUint32(0, fd, true);
    const fdm = this.fd;
    const k = this.encodeKey(key);
    this.call("update", () => native().mapUpdate(fdm, k, new Uint8Array(view.buffer), flags, this.sizes));
  }

  /** The kernel reports the inner map's id on lookup. */
  override get(key: K): number | undefined {
    const fd = this.fd;
    this.keyCodec.encode(key, this.keyView, 0);
    if (!this.call("lookup", () => native().mapLookup(fd, this.keyBuf, this.valueBuf, this.sizes)))
      return undefined;
    return this.valueView.getUint32(0, true);
  }
}

/** Makes the right Table subclass for a map. */
export function makeTable(info: TableInfo): Table {
  switch (info.mapType) {
    case MapType.ARRAY:
      return new ArrayTable(info) as Table;
    case MapType.PERCPU_ARRAY:
      return new PerCpuArray(info) as unknown as Table;
    case MapType.PERCPU_HASH:
    case MapType.LRU_PERCPU_HASH:
    case MapType.PERCPU_CGROUP_STORAGE:
      return new PerCpuHash(info) as unknown as Table;
    case MapType.CGROUP_ARRAY:
      return new CgroupArray(info) as unknown as Table;
    case MapType.LPM_TRIE:
      return new LpmTrie(info);
    case MapType.STACK_TRACE:
      return new StackTrace(info) as Table;
    case MapType.PROG_ARRAY:
      return new ProgArray(info) as unknown as Table;
    case MapType.QUEUE:
    case MapType.STACK:
      return new QueueStack(info) as unknown as Table;
    case MapType.ARRAY_OF_MAPS:
    case MapType.HASH_OF_MAPS:
      return new MapInMap(info) as unknown as Table;
    default:
      return new HashTable(info);
  }
}
