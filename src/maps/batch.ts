// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Batch map operations (BPF_MAP_*_BATCH, Linux 5.6+): many entries per
 * syscall, on the map kinds that have them. The callers (Table) fall back to
 * one syscall per entry where the kernel or the map kind has none.
 */
import { Errno, MapType } from "../kernel/constants.js";
import { BpfError, isNativeError } from "../kernel/errors.js";
import { native } from "../native.js";

/** What a batch operation needs of a map. */
export interface RawMap {
  name: string;
  fd: number;
  mapType: number;
  keySize: number;
  /** Bytes of one value as the kernel copies it (per-CPU maps: every CPU's). */
  valueBytes: number;
  /** [key_size, value_size, type] for the addon's size checks. */
  sizes: Uint32Array;
}

const HASHES = [MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH, MapType.LRU_PERCPU_HASH];
const ARRAYS = [MapType.ARRAY, MapType.PERCPU_ARRAY];

/** Kinds whose entries bpf_map_lookup_batch reads (and update_batch writes). */
const READ_BATCH = new Set<number>([...HASHES, ...ARRAYS]);
/** Kinds with lookup_and_delete_batch and delete_batch: the hash maps (arrays cannot delete). */
const DELETE_BATCH = new Set<number>(HASHES);

/** Entries per batch syscall. */
const BATCH = 256;

/** Set once the kernel has shown it has no batch operations at all (before 5.6). */
let kernelHasNoBatch = false;

/**
 * A batch call refused for want of the operation: fall back. The kinds are
 * gated above, so ENOTSUPP means the kernel has none (remembered); before
 * 5.6 the command itself is unknown (EINVAL), which may also be a reason of
 * this one call, so it only falls back.
 */
function unsupported(err: unknown): boolean {
  if (!isNativeError(err)) return false;
  if (err.errno === Errno.ENOTSUPP || err.errno === Errno.EOPNOTSUPP) {
    kernelHasNoBatch = true;
    return true;
  }
  return err.errno === Errno.EINVAL;
}

export function hasReadBatch(m: RawMap): boolean {
  return !kernelHasNoBatch && READ_BATCH.has(m.mapType);
}

export function hasDeleteBatch(m: RawMap): boolean {
  return !kernelHasNoBatch && DELETE_BATCH.has(m.mapType);
}

export function isArray(m: RawMap): boolean {
  return ARRAYS.includes(m.mapType as (typeof ARRAYS)[number]);
}

/**
 * Reads every entry in batches (deleting them, with andDelete), calling
 * each(keys, values, i) for the i-th entry of a batch, whose key is at
 * keys[i * keySize] and value at values[i * valueBytes]. false when the
 * kernel refused the first batch for want of the operation (nothing read).
 */
export function readInBatches(
  m: RawMap,
  andDelete: boolean,
  each: (keys: Uint8Array, values: DataView, i: number) => void,
): boolean {
  const token = Math.max(m.keySize, 8);
  const keys = new Uint8Array(m.keySize * BATCH);
  const values = new Uint8Array(m.valueBytes * BATCH);
  const view = new DataView(values.buffer);
  const read = andDelete ? native().mapLookupAndDeleteBatch : native().mapLookupBatch;
  let inBatch: Uint8Array | null = null;
  for (let first = true; ; first = false) {
    const outBatch = new Uint8Array(token);
    let r: { count: number; done: boolean };
    try {
      r = read(m.fd, inBatch, outBatch, keys, values, BATCH, m.sizes);
    } catch (err) {
      if (first && unsupported(err)) return false;
      throw mapError(m, andDelete ? "lookup and delete batch" : "lookup batch", err);
    }
    for (let i = 0; i < r.count; i++) each(keys, view, i);
    if (r.done) return true;
    inBatch = outBatch;
  }
}

/**
 * Writes (values given) or deletes (values null) `count` entries, BATCH per
 * syscall; false when the kernel refused the first call for want of the
 * operation (nothing written).
 */
export function writeInBatches(
  m: RawMap,
  keys: Uint8Array,
  values: Uint8Array | null,
  count: number,
  flags = 0,
): boolean {
  for (let at = 0; at < count; at += BATCH) {
    const n = Math.min(BATCH, count - at);
    const k = keys.subarray(at * m.keySize, (at + n) * m.keySize);
    try {
      if (values)
        native().mapUpdateBatch(
          m.fd,
          k,
          values.subarray(at * m.valueBytes, (at + n) * m.valueBytes),
          n,
          flags,
          m.sizes,
        );
      else native().mapDeleteBatch(m.fd, k, n, m.sizes);
    } catch (err) {
      if (at === 0 && unsupported(err)) return false;
      throw mapError(m, values ? "update batch" : "delete batch", err, at);
    }
  }
  return true;
}

function mapError(m: RawMap, what: string, err: unknown, before = 0): unknown {
  if (!isNativeError(err)) return err;
  const done = before + ((err as { done?: number }).done ?? 0);
  const missing = err.errno === Errno.ENOENT ? " (a key is not in the map)" : "";
  return new BpfError(`map ${m.name}: ${what} failed after ${done} entries${missing}: ${err.message}`, {
    errno: err.errno,
    cause: err,
  });
}
