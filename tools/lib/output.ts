/**
 * What a tool prints: bcc's columns (printf formats, as bcc's tools write
 * them) or, with --json, one JSON object per line. Lines are gathered and
 * written once the callback that printed them returns (a microtask), so a
 * batch of events costs one write; a reader that goes away
 * (`tsbpf execsnoop | head`) ends the tool quietly, as it ends bcc's.
 */
import { sprintf } from "../../src/format/printf.js";
import { writeAll } from "../../src/stdio.js";

/**
 * How long an event tool's rows may wait while events keep coming (ms):
 * its ring buffer is opened with this `coalesceMs`, so under a storm the
 * tool wakes at most every ROW_BATCH_MS and prints a batch, instead of
 * waking per event; an event after a quiet spell is printed at once.
 * A wake-up costs a few hundred µs of CPU on a slow machine, a row a few
 * tens: at 10 ms an exec storm of ~120 execs/s still woke the tool for 87 %
 * of its rows, at 25 ms for a third (a third of the CPU per row), and 25 ms
 * is well under what a reader of the rows notices.
 */
export const ROW_BATCH_MS = 25;

/** Where text goes: a file descriptor (stdout) or a function (tests). */
export type Sink = number | ((text: string) => void);

/** JSON of a tool's record: bigints as numbers when exact, else as decimal strings. */
export function jsonLine(obj: unknown): string {
  return JSON.stringify(obj, (_k, v: unknown) => {
    if (typeof v === "bigint") {
      return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)
        ? Number(v)
        : v.toString();
    }
    return v;
  });
}

/** A tool's output, in text or JSON mode. */
export class Output {
  private pending: string[] = [];
  private scheduled = false;
  private closed = false;
  /** Called once when the reader went away (EPIPE). */
  onClosed: (() => void) | undefined;

  constructor(
    /** True with --json: {@link record} prints, {@link line} and {@link printf} do not. */
    readonly json: boolean,
    private readonly sink: Sink = 1,
  ) {}

  /** Text mode: one line (a newline is added). */
  line(text: string): void {
    if (!this.json) this.push(`${text}\n`);
  }

  /** Text mode: text as is. */
  text(text: string): void {
    if (!this.json) this.push(text);
  }

  /** Text mode: bcc's `print(fmt % args)`: Python's % formatting, plus a newline. */
  printf(fmt: string, ...args: unknown[]): void {
    if (!this.json) this.push(`${sprintf(fmt, ...args)}\n`);
  }

  /** JSON mode: one object on its own line. */
  record(obj: Record<string, unknown>): void {
    if (this.json) this.push(`${jsonLine(obj)}\n`);
  }

  private readonly flushTask = (): void => this.flush();

  private push(s: string): void {
    if (this.closed) return;
    this.pending.push(s);
    if (!this.scheduled) {
      this.scheduled = true;
      // A microtask runs when the callback (a ring or perf buffer batch, a
      // timer) returns: one write per batch, without a turn of the event
      // loop's check phase per event (setImmediate) when events trickle in.
      queueMicrotask(this.flushTask);
    }
  }

  /** Writes what is pending now (the tool calls it before it exits). */
  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0 || this.closed) return;
    const text = this.pending.join("");
    this.pending = [];
    if (typeof this.sink === "function") {
      this.sink(text);
      return;
    }
    writeAll(this.sink, Buffer.from(text), () => {
      this.closed = true;
      this.onClosed?.();
    });
  }
}

/** bcc's `strftime("%H:%M:%S")`: local wall-clock time. */
export function hms(d = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
