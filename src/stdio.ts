/**
 * Writing to stdout and stderr without making Node's streams of them, where
 * that is safe.
 *
 * Node makes `process.stdout` and `process.stderr` on first use, and making
 * the first of them costs a start ~5 ms when it is a pipe or a terminal: it
 * loads Node's net and stream modules (Node 20). A command of the tsbpf CLI
 * that prints through {@link writeStdio} (printf, the tutorial's runner, the
 * tools) never makes them.
 *
 * Only a process that watched the streams from its start ({@link watchStdio},
 * which the CLI calls first) writes to the descriptor: there, a stream that
 * was never made holds nothing that a write to its descriptor could overtake.
 * Anywhere else (a script using the library, which may have printed through
 * `process.stdout` already, or replaced its `write`), writeStdio writes
 * through the stream, as before; so it does once the stream has been made.
 */
import { writeSync } from "node:fs";

type StdioName = "stdout" | "stderr";

const FD: Record<StdioName, number> = { stdout: 1, stderr: 2 };

/** The streams watched since the start and not made yet, with what runs on each when it is made. */
const unmade = new Map<StdioName, Array<(stream: NodeJS.WriteStream) => void>>();

/** Streams whose reader went away while written directly: later writes are dropped. */
const broken = new Set<StdioName>();

/**
 * Watches process.stdout and process.stderr from now on: until something
 * uses one, {@link writeStdio} writes to its descriptor. Call it before
 * anything else has printed (the CLI's first statement).
 */
export function watchStdio(): void {
  for (const name of ["stdout", "stderr"] as const) {
    if (unmade.has(name)) continue;
    const desc = Object.getOwnPropertyDescriptor(process, name);
    const get = desc?.get;
    if (!desc || !get || !desc.configurable) continue;
    const handlers: Array<(stream: NodeJS.WriteStream) => void> = [];
    unmade.set(name, handlers);
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: desc.enumerable,
      get() {
        // Node's own getter keeps the stream it makes: put it back, then hand the stream out
        Object.defineProperty(process, name, desc);
        unmade.delete(name);
        const stream = get.call(process) as NodeJS.WriteStream;
        for (const h of handlers) h(stream);
        return stream;
      },
    });
  }
}

/** Runs `handle` on the stream when it is made (at once if it is, or is not watched). */
export function onStdioUse(name: StdioName, handle: (stream: NodeJS.WriteStream) => void): void {
  const handlers = unmade.get(name);
  if (handlers) handlers.push(handle);
  else handle(process[name]);
}

const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes all of buf to fd, waiting out a non-blocking pipe's EAGAIN; a
 * reader gone (EPIPE) calls onEpipe with the error.
 */
export function writeAll(fd: number, buf: Buffer, onEpipe: (err: NodeJS.ErrnoException) => void): void {
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // The descriptor may be a non-blocking pipe (Node makes stdout one once
      // process.stdout is used; a parent may share one): wait for the reader
      // as a blocking write would, without spinning.
      if (code === "EAGAIN") {
        Atomics.wait(PAUSE, 0, 0, 1);
        continue;
      }
      if (code === "EPIPE") {
        onEpipe(err as NodeJS.ErrnoException);
        return;
      }
      throw err;
    }
  }
}

/**
 * Writes text to stdout or stderr: to the descriptor while the stream is
 * watched and not made, else through the stream. A reader that went away
 * (EPIPE) is reported as the stream reports it, an "error" event on the
 * stream (whose handlers, such as the CLI's that ends it quietly, run as it
 * is made), and the writes after it are dropped.
 */
export function writeStdio(name: StdioName, text: string): void {
  if (broken.has(name)) return;
  if (!unmade.has(name)) {
    process[name].write(text);
    return;
  }
  writeAll(FD[name], Buffer.from(text), (err) => {
    broken.add(name);
    process[name].destroy(err);
  });
}
