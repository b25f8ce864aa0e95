// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * kretprobes with maxactive (bcc's attach_kretprobe(maxactive=N)): how many
 * calls of the function may be in flight at once before returns go
 * uncounted (the kernel's default is about twice the CPUs). The kprobe PMU
 * (Linux 4.17+) has no such setting, so these go through tracefs'
 * kprobe_events ("r<N>:group/event function", Linux 4.12+ for maxactive),
 * opened as a tracepoint perf event. Unlike PMU probes the event outlives
 * the process unless it is removed: close() removes it, and a process that
 * dies first (SIGKILL) leaves it, as bcc does; the next attach here removes
 * the ones whose process is gone.
 */
import { appendFileSync, readFileSync } from "node:fs";
import { tracefsPath } from "../kernel/tracefs.js";
import type { LoadedFunction } from "../loader.js";
import { type NativeLink, native } from "../native.js";
import { PerfType } from "./perf_event.js";

const GROUP = "tsbpf";
let serial = 0;

/** The event name of this process's n-th probe on func (tracefs allows [A-Za-z0-9_]). */
function eventName(func: string): string {
  return `r_${func.replace(/[^\w]/g, "_")}_${process.pid}_${serial++}`;
}

function writeKprobeEvents(line: string): void {
  // Append: opening kprobe_events with O_TRUNC would remove every kprobe event of the system.
  appendFileSync(tracefsPath("kprobe_events"), `${line}\n`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes the kprobe events tsbpf processes that are gone left behind. */
function removeStale(): void {
  let text: string;
  try {
    text = readFileSync(tracefsPath("kprobe_events"), "utf8");
  } catch {
    return;
  }
  for (const m of text.matchAll(new RegExp(`^\\w+:${GROUP}/(r_\\w+_(\\d+)_\\d+) `, "gm"))) {
    if (processAlive(Number(m[2]))) continue;
    try {
      writeKprobeEvents(`-:${GROUP}/${m[1]}`);
    } catch {
      // in use by another process's perf event: leave it
    }
  }
}

/**
 * Attaches fn (loaded as a kprobe program) to func's return with up to
 * `maxactive` calls in flight; returns what undoes it.
 */
export function attachKretprobeMaxactive(fn: LoadedFunction, func: string, maxactive: number): NativeLink {
  removeStale();
  const name = eventName(func);
  writeKprobeEvents(`r${maxactive}:${GROUP}/${name} ${func}`);
  const remove = () => {
    try {
      writeKprobeEvents(`-:${GROUP}/${name}`);
    } catch {
      // already gone
    }
  };
  try {
    const id = Number(readFileSync(tracefsPath("events", GROUP, name, "id"), "utf8"));
    // A tracepoint-type event with pid -1 must name a CPU; the program runs on every CPU.
    const pfd = native().perfEventOpen({
      type: PerfType.TRACEPOINT,
      config: id,
      samplePeriod: 1,
      sampleFreq: 0,
      pid: -1,
      cpu: 0,
      groupFd: -1,
      disabled: false,
    });
    let link: NativeLink;
    try {
      link = native().attachPerfEvent(fn.object, fn.elfName, pfd);
    } catch (err) {
      native().closeFd(pfd);
      throw err;
    }
    return {
      fd: () => link.fd(),
      destroy: () => {
        link.destroy(); // closes the perf event too
        remove();
      },
    };
  } catch (err) {
    remove();
    throw err;
  }
}
