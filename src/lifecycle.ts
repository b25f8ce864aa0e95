/**
 * Releases every open BPF object on every way out of the process: normal
 * exit, SIGINT, SIGTERM and an uncaught exception (Node runs 'exit' handlers
 * then). Attachments are fd-based where the kernel allows (bpf_link / perf
 * event; XDP as a link from Linux 5.9), so even SIGKILL leaves nothing in the
 * kernel: the kernel closes the fds. What the kernel keeps after the process
 * (an XDP program attached over netlink, a kprobe_events entry, a
 * BPF_PROG_ATTACH on a cgroup) only these handlers remove:
 * test/kernel/lifecycle.test.ts fails without them.
 */

interface Closable {
  close(): void;
}

const open = new Set<Closable>();
let installed = false;
const lastWords = new Set<() => void>();

function closeAll(): void {
  for (const c of [...open]) {
    try {
      c.close();
    } catch {
      // keep closing the others
    }
  }
  open.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  // If the program has its own handler it decides what happens (bcc programs
  // print their maps on Ctrl-C); the 'exit' handler still cleans up after it.
  if (process.listenerCount(signal) > 1) return;
  closeAll();
  for (const fn of lastWords) {
    try {
      fn();
    } catch {
      // the signal still ends the process
    }
  }
  process.removeListener(signal, onSignal);
  // Re-raise so the process ends the way the signal says (status 128+n).
  process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", closeAll);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.removeListener("exit", closeAll);
  process.removeListener("SIGINT", onSignal);
  process.removeListener("SIGTERM", onSignal);
}

/** Registers an object to be closed when the process ends. */
export function track(c: Closable): void {
  open.add(c);
  install();
}

/** Forgets an object (after it was closed by its owner). */
export function untrack(c: Closable): void {
  open.delete(c);
  // With nothing left to clean, stop holding SIGINT/SIGTERM so that the
  // process's default signal behaviour is back.
  if (open.size === 0) uninstall();
}

/**
 * Runs fn when the library ends the process for SIGINT or SIGTERM: it
 * re-raises the signal, so 'exit' listeners do not run then. For the
 * library's loader, which writes V8's code cache as the process ends
 * (src/library_loader.ts).
 */
export function beforeSignalExit(fn: () => void): void {
  lastWords.add(fn);
}
