/**
 * A bounded map that forgets its least recently used entries: the caches of
 * a long-running tool (per-process symbols, ELF files, demangled names) keep
 * their memory bounded with it.
 *
 * A Map keeps insertion order, so its first key is the least recently used:
 * a hit moves the key to the end (delete, then set again), except when it is
 * already the most recent one, the usual case of a run of lookups of one key.
 */
export class Lru<K, V> {
  private readonly map = new Map<K, V>();
  /** The most recently used key (no move needed to touch it again). */
  private newest: K | undefined;
  private hasNewest = false;

  /**
   * @param capacity The most entries kept (at least 1).
   * @param onEvict Called with each entry that {@link set} pushes out, or {@link delete}/{@link clear} remove.
   */
  constructor(
    readonly capacity: number,
    private readonly onEvict?: (key: K, value: V) => void,
  ) {
    if (!(capacity >= 1)) throw new RangeError(`an LRU cache holds at least 1 entry, not ${capacity}`);
  }

  /** The value of key (making it the most recently used), or undefined. */
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v === undefined || (this.hasNewest && this.newest === key)) return v;
    this.map.delete(key);
    this.map.set(key, v);
    this.newest = key;
    this.hasNewest = true;
    return v;
  }

  /** The value of key, leaving the order alone. */
  peek(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Sets key (the most recently used now), evicting the least recently used entries beyond the capacity. */
  set(key: K, value: V): this {
    const old = this.map.get(key);
    if (old !== undefined) {
      this.map.delete(key);
      if (old !== value) this.onEvict?.(key, old);
    }
    this.map.set(key, value);
    this.newest = key;
    this.hasNewest = true;
    while (this.map.size > this.capacity) {
      const [k, v] = this.map.entries().next().value as [K, V];
      this.map.delete(k);
      this.onEvict?.(k, v);
    }
    return this;
  }

  /** Removes key; whether it was there. */
  delete(key: K): boolean {
    const v = this.map.get(key);
    if (!this.map.delete(key)) return false;
    if (this.hasNewest && this.newest === key) {
      this.newest = undefined;
      this.hasNewest = false;
    }
    this.onEvict?.(key, v as V);
    return true;
  }

  /** Removes every entry. */
  clear(): void {
    const entries = this.onEvict ? [...this.map] : [];
    this.map.clear();
    this.newest = undefined;
    this.hasNewest = false;
    for (const [k, v] of entries) this.onEvict?.(k, v);
  }

  get size(): number {
    return this.map.size;
  }

  /** The entries, least recently used first (deleting while iterating is safe). */
  entries(): IterableIterator<[K, V]> {
    return this.map.entries();
  }

  /** The keys, least recently used first. */
  keys(): IterableIterator<K> {
    return this.map.keys();
  }
}
