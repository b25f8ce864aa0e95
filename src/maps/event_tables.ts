/**
 * Event streams: perf buffers (BPF_PERF_OUTPUT, Linux 4.4+) and ring buffers
 * (BPF_RINGBUF_OUTPUT, Linux 5.8+). Records cross into JS in batches driven
 * by the event loop (the addon polls the buffer's fd with uv_poll); each
 * record reaches the callback as a Uint8Array view that is valid during the
 * callback only, and `table.event(data)` decodes it through the object's BTF.
 */

import { openPerfEvents } from "../attach/perf_event.js";
import { type Codec, codecFor } from "../btf/codec.js";
import { Errno } from "../kernel/constants.js";
import { BpfError, isNativeError } from "../kernel/errors.js";
import { onlineCpus } from "../kernel/kernel_info.js";
import { type NativePerfBuffer, type NativeRingBuffer, native } from "../native.js";
import { BatchDelivery } from "./batch_delivery.js";
import { BPF_ANY, Table, type TableInfo } from "./table.js";

/** Something a BPF object polls and closes: an open perf or ring buffer. */
export interface EventReader {
  poll(timeoutMs: number): number;
  consume(): number;
  close(): void;
}

/** Decodes records of a perf or ring buffer (shared by both kinds). */
class RecordDecoder {
  private codec: Codec<unknown> | undefined;
  /** The shortest record accepted: the type's size, or where its last member starts when that is an array. */
  private minSize = 0;
  private scratch: Uint8Array | undefined;
  private lastBuffer: ArrayBufferLike | undefined;
  private lastView: DataView | undefined;

  constructor(
    private readonly info: TableInfo,
    private readonly kind: string,
  ) {}

  private codecFor(): Codec<unknown> {
    if (this.codec) return this.codec;
    const { btf, eventTypeId } = this.info;
    if (!btf || eventTypeId === 0) {
      throw new BpfError(
        `${this.kind} ${this.info.name}: the type of its records is unknown (tsbpf finds it from the submit call's ` +
          "sizeof(…) or the variable passed; use a struct defined at file scope), so event() cannot decode it; " +
          "read the bytes of data directly",
      );
    }
    this.codec = codecFor(btf, eventTypeId);
    this.minSize = this.codec.size;
    // A record may stop inside its last member when that is an array: programs
    // send `offsetof(struct event, buf) + len` bytes of a struct ending in a buffer.
    const t = btf.type(btf.resolve(eventTypeId));
    if (t.kind === "STRUCT") {
      const last = t.members[t.members.length - 1];
      if (last && btf.type(btf.resolve(last.type)).kind === "ARRAY") this.minSize = last.bitOffset / 8;
    }
    return this.codec;
  }

  /** Decodes one record (a view handed to a callback, or bytes kept from one). */
  decode(data: Uint8Array): unknown {
    const codec = this.codecFor();
    if (data.byteLength < codec.size) {
      if (data.byteLength < this.minSize) {
        throw new BpfError(
          `${this.kind} ${this.info.name}: record is ${data.byteLength} bytes, its type needs ${this.minSize === codec.size ? codec.size : `at least ${this.minSize}`}`,
        );
      }
      // a short tail: decode from a zero-filled copy of the full size
      if (!this.scratch || this.scratch.byteLength !== codec.size) this.scratch = new Uint8Array(codec.size);
      this.scratch.set(data);
      this.scratch.fill(0, data.byteLength);
      data = this.scratch;
    }
    if (data.buffer !== this.lastBuffer) {
      this.lastBuffer = data.buffer;
      this.lastView = new DataView(data.buffer);
    }
    return codec.decode(this.lastView as DataView, data.byteOffset);
  }
}

/** An async queue fed by callbacks, drained by `for await`. */
function eventStream<T>(
  open: (push: (x: T) => void) => () => void,
  signal: AbortSignal | undefined,
): AsyncGenerator<T> {
  const queue: T[] = [];
  let wake: (() => void) | undefined;
  const close = open((x) => {
    queue.push(x);
    if (wake) {
      const w = wake;
      wake = undefined;
      w();
    }
  });
  const onAbort = (): void => {
    if (wake) {
      const w = wake;
      wake = undefined;
      w();
    }
  };
  signal?.addEventListener("abort", onAbort);
  return (async function* () {
    try {
      for (;;) {
        while (queue.length > 0) {
          if (signal?.aborted) return;
          yield queue.shift() as T;
        }
        if (signal?.aborted) return;
        await new Promise<void>((r) => {
          wake = r;
        });
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      close();
    }
  })();
}

/** Options of {@link PerfEventArray.openPerfBuffer}. */
export interface PerfBufferOptions {
  /** Pages per CPU ring (a power of two; bcc's default 8). */
  pageCnt?: number;
  /** Called with the number of samples the kernel dropped on a CPU. */
  lostCb?: (lost: number, cpu: number) => void;
  /** Wake the consumer once every N samples (default 1: every sample). */
  wakeupEvents?: number;
}

/** A perf event array (BPF_PERF_OUTPUT, BPF_PERF_ARRAY). */
export class PerfEventArray extends Table<number, number> {
  private reader: NativePerfBuffer | undefined;
  private delivery: BatchDelivery | undefined;
  private readonly decoder: RecordDecoder;
  private readonly register: (r: EventReader | undefined, old?: EventReader) => void;
  /** Samples the kernel dropped because the buffer was full, since open. */
  lost = 0;

  constructor(info: TableInfo, register: (r: EventReader | undefined, old?: EventReader) => void) {
    super(info);
    this.decoder = new RecordDecoder(info, "perf buffer");
    this.register = register;
  }

  /**
   * Opens a perf buffer: cb(cpu, data, size) runs for every record, in
   * batches on the event loop (and from b.perfBufferPoll / perfBufferConsume).
   * `data` is valid during the callback only; decode it with {@link event}.
   */
  openPerfBuffer(
    cb: (cpu: number, data: Uint8Array, size: number) => void,
    opts: PerfBufferOptions = {},
  ): void {
    const fd = this.fd;
    if (this.reader) throw new BpfError(`perf buffer ${this.name} is already open`);
    const pageCnt = opts.pageCnt ?? 8;
    if (!Number.isInteger(pageCnt) || pageCnt <= 0 || (pageCnt & (pageCnt - 1)) !== 0) {
      throw new BpfError(`perf buffer ${this.name}: pageCnt must be a power of two, got ${pageCnt}`);
    }
    const delivery = new BatchDelivery((cpu, data) => cb(cpu, data, data.length), 3);
    this.delivery = delivery;
    try {
      this.reader = new (native().NativePerfBuffer)(fd, {
        pageCnt,
        wakeupEvents: opts.wakeupEvents ?? 1,
        batchBytes: 1 << 20,
        onBatch: (data, index, count) => delivery.deliver(new Uint8Array(data), index, count),
        onLost: (cpu, lost) => {
          this.lost += lost;
          opts.lostCb?.(lost, cpu);
        },
      });
    } catch (err) {
      if (isNativeError(err)) {
        throw new BpfError(`cannot open perf buffer ${this.name}: ${err.message}`, {
          errno: err.errno,
          cause: err,
        });
      }
      throw err;
    }
    this.reader.start();
    this.register(this.reader);
    // Registering the epoll fd polls each CPU ring once, which clears a
    // pending wake-up: records written just before (or while) the buffer
    // opened would wait for the next wake-up. Drain once on the next turn.
    const r = this.reader;
    setImmediate(() => {
      if (this.reader === r) r.consume();
    });
  }

  /** Decodes one record through the BTF type of what the program submits. */
  event(data: Uint8Array): unknown {
    return this.decoder.decode(data);
  }

  /**
   * The records as decoded objects, as they arrive, until signal aborts
   * (opens the perf buffer; closes it when the loop ends).
   */
  events(opts: PerfBufferOptions & { signal?: AbortSignal } = {}): AsyncGenerator<unknown> {
    return eventStream((push) => {
      this.openPerfBuffer((_cpu, data) => push(this.event(data)), opts);
      return () => this.closePerfBuffer();
    }, opts.signal);
  }

  /** Closes the perf buffer (bcc's close_perf_buffer). */
  closePerfBuffer(): void {
    if (!this.reader) return;
    const r = this.reader;
    const d = this.delivery;
    this.reader = undefined;
    this.delivery = undefined;
    r.close();
    this.register(undefined, r);
    // records kept after a callback threw: delivered before close returns
    d?.flush();
  }

  /** Sets an fd (a perf event) at index (BPF_PERF_ARRAY). */
  override set(index: number, fd: number, flags = BPF_ANY): void {
    super.set(index, fd, flags);
  }

  /** CPUs whose slot {@link openPerfEvent} filled. */
  private readonly perfEventCpus = new Set<number>();

  /**
   * Opens a counting perf event (type, config: PerfType / PerfHWConfig /
   * PerfSWConfig) on every online CPU and stores each in this array at its
   * CPU's index, so that `table.perf_read(CUR_CPU_IDENTIFIER)` in the
   * program reads the counter of the CPU it runs on (bcc's open_perf_event;
   * the map holds the events, as in bcc). pid -1: every process. For
   * BPF_PERF_ARRAY tables with at least one slot per CPU. Linux 4.3+.
   * @throws NotSupportedError for a hardware event the CPU lacks (naming
   * PERF_COUNT_SW_CPU_CLOCK, which can stand in).
   */
  openPerfEvent(type: number, config: number, pid = -1): void {
    const cpus = onlineCpus();
    const last = cpus[cpus.length - 1] ?? 0;
    if (last >= this.maxEntries) {
      throw new BpfError(
        `perf array ${this.name} has ${this.maxEntries} slots but CPU ${last} is online: declare it with BPF_PERF_ARRAY(${this.name}, ${last + 1}) or more`,
      );
    }
    for (const cpu of cpus) {
      const [fd] = openPerfEvents({ evType: type, evConfig: config, pid }, [cpu]);
      try {
        this.set(cpu, fd as number);
        this.perfEventCpus.add(cpu);
      } finally {
        // The map holds its own reference to the event.
        native().closeFd(fd as number);
      }
    }
  }

  /** Removes the events {@link openPerfEvent} stored (the kernel then releases them). Linux 4.3+. */
  closePerfEvents(): void {
    for (const cpu of this.perfEventCpus) {
      try {
        this.delete(cpu);
      } catch {
        // keep releasing the rest
      }
    }
    this.perfEventCpus.clear();
  }
}

/** With coalesceMs: a batch smaller than this pauses the ring's watch. */
const COALESCE_BATCH = 16;

/** Options of {@link RingBuf.openRingBuffer}. */
export interface RingBufferOptions {
  /**
   * Batch wake-ups: wake the consumer only once this many bytes are waiting
   * (applied in BPF by the translated ringbuf_output / ringbuf_submit);
   * the drain timer delivers the rest. 0 (default): the kernel's own
   * wake-up per record the consumer has not yet seen.
   */
  wakeupBytes?: number;
  /** With wakeupBytes: how often leftovers are drained (ms; default 10). */
  drainMs?: number;
  /**
   * Coalesce wake-ups under load (ms; 0, the default: none). After the
   * event loop has delivered a small batch (fewer than 16 records), the
   * ring is not watched for this long; then what arrived meanwhile is
   * delivered in one batch, and the ring is watched again once a pause
   * passes with nothing new (or a large batch came: at such rates each
   * wake-up already brings many records, and a pause could overfill the
   * ring). A record
   * that arrives after a quiet period is delivered at once; while records
   * keep coming, each waits at most this long, and the consumer wakes at
   * most 1000 / coalesceMs times a second instead of once per record (each
   * wake-up costs far more than a record). Records still waiting when the
   * ring buffer closes are delivered before it closes.
   */
  coalesceMs?: number;
  /**
   * "view" (default): records are read straight from the mapped ring and
   * released after the callback returns; "copy": copied out first.
   */
  mode?: "view" | "copy";
}

/** A ring buffer (BPF_RINGBUF_OUTPUT). Linux 5.8+. */
export class RingBuf extends Table<never, never> {
  private reader: NativeRingBuffer | undefined;
  private delivery: BatchDelivery | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  /** With coalesceMs: the end of the current pause (the ring unwatched until then). */
  private pauseTimer: NodeJS.Timeout | undefined;
  private readonly decoder: RecordDecoder;
  private readonly register: (r: EventReader | undefined, old?: EventReader) => void;
  private readonly setWakeup: (bytes: number) => void;
  private readonly readDrops: () => bigint;

  constructor(
    info: TableInfo,
    register: (r: EventReader | undefined, old?: EventReader) => void,
    setWakeup: (bytes: number) => void,
    readDrops: () => bigint,
  ) {
    super(info);
    this.decoder = new RecordDecoder(info, "ring buffer");
    this.register = register;
    this.setWakeup = setWakeup;
    this.readDrops = readDrops;
  }

  /**
   * Records the program could not put in the ring because it was full
   * (counted by the translated ringbuf_output / ringbuf_reserve, all CPUs).
   */
  get drops(): bigint {
    return this.readDrops();
  }

  /**
   * Opens the ring buffer: cb(ctx, data, size) runs for every record (bcc's
   * signature; ctx is `opts.ctx`, 0 when not given), in batches on the event
   * loop and from b.ringBufferPoll / ringBufferConsume. `data` is valid
   * during the callback only; decode it with {@link event}.
   */
  openRingBuffer<C = number>(
    cb: (ctx: C, data: Uint8Array, size: number) => void,
    opts: RingBufferOptions & { ctx?: C } = {},
  ): void {
    const ctx = (opts.ctx ?? 0) as C;
    const fd = this.fd;
    if (this.reader) throw new BpfError(`ring buffer ${this.name} is already open`);
    let bytes: Uint8Array | undefined;
    let lastData: ArrayBuffer | undefined;
    const coalesceMs = opts.coalesceMs ?? 0;
    if (!(coalesceMs >= 0)) throw new BpfError(`ring buffer ${this.name}: coalesceMs must be 0 or more`);
    // With coalesceMs: a pause ends by delivering what came meanwhile; a quiet one resumes the watch.
    const endPause = (): void => {
      this.pauseTimer = undefined;
      const reader = this.reader;
      if (!reader) return;
      // records delivered here start the next pause (onBatch); none: watch the ring again
      reader.consume();
      if (this.reader === reader && this.pauseTimer === undefined) reader.start();
    };
    const delivery = new BatchDelivery((_meta, data) => cb(ctx, data, data.length), 2);
    this.delivery = delivery;
    try {
      this.reader = new (native().NativeRingBuffer)(fd, {
        mode: opts.mode ?? "view",
        batchBytes: 1 << 20,
        onBatch: (data, index, count) => {
          if (data !== lastData) {
            lastData = data;
            bytes = new Uint8Array(data);
          }
          if (coalesceMs > 0 && count < COALESCE_BATCH && this.pauseTimer === undefined && this.reader) {
            // a small batch (a large one means the kernel already batches, and a pause could
            // overfill the ring): pause the watch
            this.reader.stop();
            this.pauseTimer = setTimeout(endPause, coalesceMs);
          }
          delivery.deliver(bytes as Uint8Array, index, count);
        },
      });
    } catch (err) {
      if (isNativeError(err)) {
        throw new BpfError(`cannot open ring buffer ${this.name}: ${err.message}`, {
          errno: err.errno,
          cause: err,
        });
      }
      throw err;
    }
    const wakeup = opts.wakeupBytes ?? 0;
    this.setWakeup(wakeup);
    if (wakeup > 0) {
      const reader = this.reader;
      this.drainTimer = setInterval(() => reader.consume(), opts.drainMs ?? 10);
      this.drainTimer.unref();
    }
    this.reader.start();
    this.register(this.reader);
  }

  /** Decodes one record through the BTF type of what the program submits. */
  event(data: Uint8Array): unknown {
    return this.decoder.decode(data);
  }

  /** The records as decoded objects, as they arrive, until signal aborts. */
  events(opts: RingBufferOptions & { signal?: AbortSignal } = {}): AsyncGenerator<unknown> {
    return eventStream((push) => {
      this.openRingBuffer((_ctx, data) => push(this.event(data)), opts);
      return () => this.closeRingBuffer();
    }, opts.signal);
  }

  /** Closes the ring buffer reader. */
  closeRingBuffer(): void {
    if (this.drainTimer) clearInterval(this.drainTimer);
    this.drainTimer = undefined;
    if (!this.reader) return;
    const r = this.reader;
    const paused = this.pauseTimer !== undefined;
    clearTimeout(this.pauseTimer);
    try {
      // records that were waiting for the pause to end (onBatch starts no new pause meanwhile)
      if (paused) r.consume();
    } catch (err) {
      // closed from inside its own callback: the native reader refuses a nested consume (EBUSY)
      if (!isNativeError(err) || err.errno !== Errno.EBUSY) throw err;
    } finally {
      this.pauseTimer = undefined;
      this.reader = undefined;
      r.close();
      this.register(undefined, r);
    }
    // records kept after a callback threw: delivered before close returns
    const d = this.delivery;
    this.delivery = undefined;
    d?.flush();
  }
}
