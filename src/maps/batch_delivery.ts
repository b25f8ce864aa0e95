// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Hands a batch of event records to the user's callback, one by one, and
 * loses none when the callback throws. The native readers have already
 * moved the ring's consumer position past the whole batch when it reaches
 * JavaScript (and in "view" mode the bytes are only valid during the call),
 * so the records after the one whose callback threw are copied and kept:
 * they are delivered first, before any later record, on the next batch, on
 * the next turn of the event loop (setImmediate) or at close, whichever
 * comes first. The exception itself propagates as before: to the caller of
 * consume()/poll(), or as an uncaught exception from the event loop, where
 * a process 'uncaughtException' handler lets the stream go on (and no
 * handler ends the process, whose exit handlers detach everything).
 */
export class BatchDelivery {
  /** Records not yet delivered because a callback threw: [meta, bytes]. */
  private readonly pending: Array<[number, Uint8Array]> = [];
  private scheduled = false;

  /**
   * @param each delivers one record (meta: the CPU for perf buffers, 0 for ring buffers)
   * @param stride entries per record in the batch index: [cpu,] offset, length
   */
  constructor(
    private readonly each: (meta: number, data: Uint8Array) => void,
    private readonly stride: 2 | 3,
  ) {}

  /** Delivers the kept records, then the batch's count records (bytes at index's offsets). */
  deliver(bytes: Uint8Array, index: Uint32Array, count: number): void {
    if (this.pending.length > 0) this.flush();
    const s = this.stride;
    for (let i = 0; i < count; i++) {
      const meta = s === 3 ? (index[3 * i] as number) : 0;
      const off = index[s * i + s - 2] as number;
      const len = index[s * i + s - 1] as number;
      try {
        this.each(meta, bytes.subarray(off, off + len));
      } catch (err) {
        for (let j = i + 1; j < count; j++) {
          const o = index[s * j + s - 2] as number;
          this.pending.push([
            s === 3 ? (index[3 * j] as number) : 0,
            bytes.slice(o, o + (index[s * j + s - 1] as number)),
          ]);
        }
        this.schedule();
        throw err;
      }
    }
  }

  /** Delivers the kept records (at close, and before anything newer). */
  flush(): void {
    while (this.pending.length > 0) {
      const [meta, data] = this.pending.shift() as [number, Uint8Array];
      try {
        this.each(meta, data);
      } catch (err) {
        this.schedule();
        throw err;
      }
    }
  }

  /** Records kept after a callback threw and not delivered yet. */
  get waiting(): number {
    return this.pending.length;
  }

  private schedule(): void {
    if (this.scheduled || this.pending.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }
}
