/**
 * The table calls of class BPF: bcc's `b[name]`, get_table, `b[name] = t`,
 * `del b[name]`, decode_table, and polling the perf and ring buffers opened
 * on them. Each delegates to the object's ObjectTables (maps/).
 */
import { BpfTargets } from "./bpf_targets.js";
import {
  type MapMetrics,
  type MetricSpec,
  type MetricsRegistry,
  type RegisterOptions,
  registerMetrics,
} from "./export/metrics.js";
import type { DecodeTableOptions } from "./maps/layout.js";
import type { GetTableOptions, ObjectTables } from "./maps/object_tables.js";
import type { Table } from "./maps/table.js";

export abstract class BpfTables extends BpfTargets {
  protected abstract readonly tables: ObjectTables;

  /** Names of the program's maps (tsbpf's internal ones left out). */
  tableNames(): string[] {
    this.check();
    return this.tables.names();
  }

  /**
   * A map as a typed table of its kind (HashTable, ArrayTable, PerCpuArray,
   * PerfEventArray, RingBuf, …), keys and values decoded through the
   * object's BTF. bcc's `b["name"]` / `b.get_table("name")`: the same table each time.
   * With options (bcc's get_table keytype, leaftype, reducer): a new table, not kept (setTable keeps it).
   * @throws BpfError for an unknown map, a codec of the wrong size, a reducer on a map that is not per-CPU.
   */
  getTable<T extends Table = Table>(name: string, opts?: GetTableOptions): T {
    this.check();
    return this.tables.get(name, opts) as T;
  }

  /** bcc's `b[name] = table`: getTable(name) and table(name) return it from now on. */
  setTable(name: string, table: Table): void {
    this.check();
    this.tables.set(name, table);
  }

  /**
   * bcc's `del b[name]`: drops the table kept under name (false when none), closing the buffer it
   * opened. The kernel map stays with this object until close(); getTable(name) makes a new table.
   */
  deleteTable(name: string): boolean {
    this.check();
    return this.tables.delete(name);
  }

  /** bcc's decode_table: "Layout of BPF map NAME (type T, FD n, ID m):" and its key's and value's types, from BTF. */
  decodeTable(name: string, opts: DecodeTableOptions = {}): string {
    this.check();
    return this.tables.layout(name, opts);
  }

  /**
   * Exports maps as Prometheus metrics on a prom-client Registry (or any
   * registry with registerMetric/removeSingleMetric): each spec's map is
   * read when the registry is scraped, its keys decoded into labels (BTF
   * fields or ebpf_exporter-style byte labels and decoders), as a counter,
   * gauge or histogram with cumulative `le` buckets.
   * @throws ConfigError naming the spec's field and the fix; nothing is registered then.
   */
  metrics(registry: MetricsRegistry, specs: MetricSpec[], opts: RegisterOptions = {}): MapMetrics {
    this.check();
    return registerMetrics(registry, specs, (name) => this.getTable(name), opts);
  }

  /** bcc's `b["name"]`: the same as {@link getTable}. */
  table<T extends Table = Table>(name: string): T {
    return this.getTable<T>(name);
  }

  /** Delivers waiting perf buffer records, waiting up to timeoutMs for the first (bcc's perf_buffer_poll). */
  perfBufferPoll(timeoutMs = -1): number {
    this.check();
    return this.tables.poll("perf", timeoutMs);
  }

  /** bcc's kprobe_poll, the old name of perf_buffer_poll. */
  kprobePoll(timeoutMs = -1): number {
    return this.perfBufferPoll(timeoutMs);
  }

  /** Delivers waiting perf buffer records without waiting (bcc's perf_buffer_consume). */
  perfBufferConsume(): number {
    this.check();
    return this.tables.consume("perf");
  }

  /** Delivers waiting ring buffer records, waiting up to timeoutMs (bcc's ring_buffer_poll). Linux 5.8+. */
  ringBufferPoll(timeoutMs = -1): number {
    this.check();
    return this.tables.poll("ring", timeoutMs);
  }

  /** Delivers waiting ring buffer records without waiting (bcc's ring_buffer_consume). */
  ringBufferConsume(): number {
    this.check();
    return this.tables.consume("ring");
  }
}
