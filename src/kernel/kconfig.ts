/**
 * The running kernel's build configuration (CONFIG_*), as kernel headers'
 * autoconf.h gives it to programs: from /proc/config.gz (CONFIG_IKCONFIG_PROC)
 * or /boot/config-<release>. Where neither exists (Debian's kernels have no
 * config.gz; a container may have no /boot), the few options tsbpf can tell
 * from the running kernel itself.
 */
import { readFileSync } from "node:fs";
import { lazyZlib } from "../lazy_zlib.js";
import { hasSyscallWrapper, kernelRelease } from "./kernel_info.js";

/** CONFIG name → its autoconf.h value ("1", a number, or a quoted string); =m options appear as NAME_MODULE. */
export type Kconfig = Map<string, string>;

let cached: { config: Kconfig; source: string } | undefined;

/** Parses a .config text into autoconf.h's macros. */
export function parseKconfig(text: string): Kconfig {
  const out: Kconfig = new Map();
  for (const line of text.split("\n")) {
    const m = /^(CONFIG_\w+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, name, value] = m as unknown as [string, string, string];
    if (value === "y") out.set(name, "1");
    else if (value === "m") out.set(`${name}_MODULE`, "1");
    else if (value !== "n" && value !== "") out.set(name, value);
  }
  return out;
}

/** The running kernel's configuration, and where it came from ("/proc/config.gz", … or "derived"). */
export function kernelConfig(): { config: Kconfig; source: string } {
  if (cached) return cached;
  for (const [path, gz] of [
    ["/proc/config.gz", true],
    [`/boot/config-${kernelRelease()}`, false],
  ] as const) {
    let raw: Buffer;
    try {
      raw = readFileSync(path);
    } catch {
      continue; // try the next one
    }
    cached = { config: parseKconfig((gz ? lazyZlib().gunzipSync(raw) : raw).toString("utf8")), source: path };
    return cached;
  }
  // What the running kernel shows of itself: BPF (tsbpf is using it), BTF,
  // the kprobe and uprobe PMUs, the syscall wrappers.
  const derived: Kconfig = new Map([
    ["CONFIG_BPF", "1"],
    ["CONFIG_BPF_SYSCALL", "1"],
  ]);
  const has = (path: string): boolean => {
    try {
      readFileSync(path);
      return true;
    } catch {
      return false;
    }
  };
  if (has("/sys/kernel/btf/vmlinux")) derived.set("CONFIG_DEBUG_INFO_BTF", "1");
  if (has("/sys/bus/event_source/devices/kprobe/type")) derived.set("CONFIG_KPROBES", "1");
  if (has("/sys/bus/event_source/devices/uprobe/type")) derived.set("CONFIG_UPROBES", "1");
  if (hasSyscallWrapper()) derived.set("CONFIG_ARCH_HAS_SYSCALL_WRAPPER", "1");
  if (process.arch === "x64") {
    derived.set("CONFIG_X86", "1");
    derived.set("CONFIG_X86_64", "1");
  }
  if (process.arch === "arm64") derived.set("CONFIG_ARM64", "1");
  derived.set("CONFIG_64BIT", "1");
  cached = { config: derived, source: "derived" };
  return cached;
}
