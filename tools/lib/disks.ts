/**
 * Disks for the block I/O tools: a disk's device number from its name
 * (`-d sda`), a device number's name (from /sys/dev/block, else
 * /proc/partitions), which block tracepoints this kernel has, and how many
 * arguments a raw tracepoint takes here (from the kernel's BTF).
 */
import { readFileSync, readlinkSync, statSync } from "node:fs";
import { basename } from "node:path";
import { BPF } from "../../src/index.js";
import { native } from "../../src/native.js";
import { UsageError } from "./args.js";

/** The kernel's dev_t (MKDEV(major, minor): 20 bits of minor). */
export function mkdev(major: number, minor: number): number {
  return ((major << 20) | minor) >>> 0;
}

/** Major and minor of a kernel dev_t. */
export function devParts(dev: number): [major: number, minor: number] {
  return [dev >>> 20, dev & 0xfffff];
}

/** `-d NAME`: the kernel dev_t of /dev/NAME; UsageError as bcc's "no such disk". */
export function diskDev(name: string): number {
  let rdev: number;
  try {
    const st = statSync(`/dev/${name}`);
    if (!st.isBlockDevice()) throw new Error("not a block device");
    rdev = st.rdev;
  } catch {
    throw new UsageError(`no such disk '${name}'`);
  }
  // glibc's major()/minor() of the user-space dev_t
  const major = ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  const minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xff & 0xfffff);
  return mkdev(major, minor);
}

/** /proc/partitions now: dev_t → name. */
export function partitionNames(): Map<number, string> {
  const partitions = new Map<number, string>();
  try {
    for (const line of readFileSync("/proc/partitions", "utf8").split("\n").slice(2)) {
      const w = line.trim().split(/\s+/);
      if (w.length >= 4) partitions.set(mkdev(Number(w[0]), Number(w[1])), w[3] as string);
    }
  } catch {
    // no /proc/partitions: names come from /sys only
  }
  return partitions;
}

/** The name of a disk by its kernel dev_t ("loop0"), or undefined. */
export function diskName(dev: number): string | undefined {
  const [major, minor] = devParts(dev);
  try {
    return basename(readlinkSync(`/sys/dev/block/${major}:${minor}`));
  } catch {
    return partitionNames().get(dev);
  }
}

/** True when this kernel has the block tracepoint (block_io_start/done: 6.5+). */
export function hasBlockTp(event: string): boolean {
  return BPF.tracepointExists("block", event);
}

/**
 * The number of arguments the raw tracepoint `name` passes on this kernel
 * (its btf_trace_NAME prototype, less the leading data pointer), or
 * undefined when the kernel's BTF does not say.
 */
export function rawTpArgCount(name: string): number | undefined {
  try {
    // libbpf's dump of the one typedef (in C, without parsing the kernel's BTF in JS):
    // "typedef void (*btf_trace_NAME)(void *, struct request *);"
    const { header } = native().btfDumpSubset("/sys/kernel/btf/vmlinux", [`btf_trace_${name}`]);
    const m = new RegExp(`\\(\\*btf_trace_${name}\\)\\((.*)\\);`).exec(header);
    if (!m) return undefined;
    return (m[1] as string).split(",").length - 1;
  } catch {
    return undefined;
  }
}

/** block_rq_issue and block_rq_insert took (queue, request) before 5.11, (request) since. */
export function rqAfterQueue(): boolean {
  return rawTpArgCount("block_rq_issue") === 2;
}

/**
 * The block hooks the request-timing tools (biolatency, biosnoop, biotop)
 * use on this kernel, each a raw tracepoint taking the request: `account`
 * where bcc's blk_account_io_start kprobe is (block_io_start, 6.5+, else
 * block_rq_insert), `issue` (block_rq_issue: blk_mq_start_request) and
 * `done` (block_rq_complete, on every kernel: block_io_done, 6.5+, fires
 * only for requests with I/O accounting, which would leave the others'
 * start stamps behind for a reused request to pick up).
 */
export function blockHooks(): { account: string; issue: string; done: string } {
  return {
    account: hasBlockTp("block_io_start") ? "block_io_start" : "block_rq_insert",
    issue: "block_rq_issue",
    done: "block_rq_complete",
  };
}
