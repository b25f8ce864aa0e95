/**
 * Reading /sys/kernel/tracing/trace_pipe, where bpf_trace_printk writes.
 *
 * trace_pipe is one global, destructive reader: what one process reads, no
 * other sees. It is opened O_NONBLOCK and drained from a timer on the event
 * loop, so no libuv worker thread sits blocked in read(2) and close() never
 * waits for one, every 20 ms. Right after opening, the waits are 1 ms,
 * then 2, 3, … up to 20 (the first ~200 ms): the first line after attaching
 * (what a user waits for) is read within a few ms instead of up to 20. The
 * waits do not start over at a line: under a stream of lines, a look every
 * few ms costs three times the CPU per line of one every 20 ms (a wake-up
 * per line or two instead of a batch).
 */
import { closeSync, constants, openSync, readSync } from "node:fs";
import { sleepUnlessAborted } from "../sleep.js";
import { writeStdio } from "../stdio.js";
import { Errno } from "./constants.js";
import { BpfError } from "./errors.js";
import { formatTraceFields, isLostEvents, parseTraceLine, type TraceLine } from "./trace_line.js";
import { tracefsPath } from "./tracefs.js";

export type { TraceLine } from "./trace_line.js";

/** How soon a reader just opened looks again after finding nothing (ms); 1 ms more at each wait. */
const IDLE_POLL_FIRST_MS = 1;
/** ... up to this, from then on (ms). */
const IDLE_POLL_MS = 20;

/** A line-oriented, non-blocking trace_pipe reader. */
export class TracePipe {
  private fd: number | undefined;
  private partial = "";
  private readonly buf = Buffer.allocUnsafe(64 * 1024);
  private readonly lines: string[] = [];
  /** The wait after the next empty look (ms). */
  private idleMs = IDLE_POLL_FIRST_MS;
  /** Events the kernel dropped, from its `CPU:N [LOST M EVENTS]` markers. */
  lostEvents = 0;

  /** Opens trace_pipe now (reads open it on demand), so that an error such as another reader surfaces at once. */
  open(): number {
    if (this.fd === undefined) {
      const path = tracefsPath("trace_pipe");
      try {
        this.fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
        this.idleMs = IDLE_POLL_FIRST_MS;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EBUSY") {
          throw new BpfError(
            `${path} is being read by another process (the kernel allows one reader at a time): ` +
              `stop it (e.g. "cat trace_pipe", another tsbpf or bcc tool) and try again`,
            { errno: Errno.EBUSY, cause: err },
          );
        }
        throw new BpfError(`cannot open ${path}: ${(err as Error).message}`, { cause: err });
      }
    }
    return this.fd;
  }

  /** Reads what is available now, without blocking. */
  private fill(): void {
    const fd = this.open();
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, this.buf, 0, this.buf.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EAGAIN") return;
        throw err;
      }
      if (n <= 0) return;
      const text = this.partial + this.buf.toString("utf8", 0, n);
      const parts = text.split("\n");
      this.partial = parts.pop() ?? "";
      for (const p of parts) this.lines.push(p);
      if (n < this.buf.length) return;
    }
  }

  /** The next raw line if one is available now, else undefined. */
  readlineNow(): string | undefined {
    if (this.lines.length === 0) this.fill();
    return this.lines.shift();
  }

  /** The next raw line, waiting for it (undefined when signal aborts). */
  async readline(signal?: AbortSignal): Promise<string | undefined> {
    for (;;) {
      if (signal?.aborted) return undefined;
      const line = this.readlineNow();
      if (line !== undefined) return line;
      if (await sleepUnlessAborted(this.idleMs, signal)) return undefined;
      this.idleMs = Math.min(this.idleMs + 1, IDLE_POLL_MS);
    }
  }

  /** The next parsed bpf_trace_printk line available now, else undefined. Other lines are skipped. */
  fieldsNow(): TraceLine | undefined {
    for (;;) {
      const line = this.readlineNow();
      if (line === undefined) return undefined;
      const parsed = this.parse(line);
      if (parsed) return parsed;
    }
  }

  /** Parsed lines as they arrive, until signal aborts. */
  async *fields(signal?: AbortSignal): AsyncGenerator<TraceLine> {
    for (;;) {
      const line = await this.readline(signal);
      if (line === undefined) return;
      const parsed = this.parse(line);
      if (parsed) yield parsed;
    }
  }

  private parse(line: string): TraceLine | undefined {
    const parsed = parseTraceLine(line);
    if (parsed === null) return undefined;
    if (isLostEvents(parsed)) {
      this.lostEvents += parsed.lostEvents;
      return undefined;
    }
    return parsed;
  }

  /** Closes the file; the reader can be used again (it reopens). */
  close(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

/** The process's one trace_pipe reader (trace_pipe is global and destructive). */
let shared: TracePipe | undefined;
export function sharedTracePipe(): TracePipe {
  shared ??= new TracePipe();
  return shared;
}

/** Releases the shared reader: the kernel lets one process at a time hold trace_pipe open. */
export function closeSharedTracePipe(): void {
  shared?.close();
}

/** Events the kernel dropped from trace_pipe, as its markers counted them. */
export function traceLostEvents(): number {
  return shared?.lostEvents ?? 0;
}

/**
 * Prints trace_pipe lines until signal aborts: raw, or formatted with bcc's
 * fields {0}..{5} = task, pid, cpu, flags, ts, msg (bcc's trace_print).
 */
export async function tracePrint(
  opts: { fmt?: string; signal?: AbortSignal; write?: (s: string) => void } = {},
): Promise<void> {
  const write = opts.write ?? ((s: string) => writeStdio("stdout", s));
  const pipe = sharedTracePipe();
  if (opts.fmt === undefined) {
    for (;;) {
      const line = await pipe.readline(opts.signal);
      if (line === undefined) return;
      // Since bpf_trace_printk became a trace event (5.x), a message ending in "\n" is
      // followed by the event's own newline: an empty line that says nothing.
      if (line.trim() === "") continue;
      write(`${line}\n`);
    }
  }
  for await (const f of pipe.fields(opts.signal)) write(`${formatTraceFields(f, opts.fmt)}\n`);
}
