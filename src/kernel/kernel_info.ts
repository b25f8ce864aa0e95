/**
 * Facts about the running kernel that tsbpf reads cheaply and often.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { hashKey } from "../compile/cache.js";
import { native } from "../native.js";
import { NotSupportedError } from "./errors.js";

/** Where the running kernel exposes its BTF. */
export const VMLINUX_BTF = "/sys/kernel/btf/vmlinux";

/**
 * The error when the kernel publishes no BTF of its own (the file exists since Linux 5.4);
 * cause: what failed for want of it (libbpf's CO-RE relocation of a prebuilt object).
 */
export function missingKernelBtf(cause?: unknown): NotSupportedError {
  return new NotSupportedError(
    "kernel BTF",
    existsSync(VMLINUX_BTF)
      ? `${VMLINUX_BTF} cannot be read as BTF`
      : `${VMLINUX_BTF} is missing (CONFIG_DEBUG_INFO_BTF is off)`,
    "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distributions since 2020); an object built elsewhere " +
      "(BPF.open) runs here only if it reads no kernel types through CO-RE",
    { minKernel: "5.4", cause },
  );
}

/**
 * The kernel's BTF as bytes, to read and never write: a read-only mapping
 * where the kernel allows one (Linux 6.15 made sysfs's BTF mappable; its
 * pages are the kernel's, so they cost this process no resident memory),
 * else read into a buffer (its size: 5.5 MB on 6.18). Throws the read's error.
 */
export function kernelBtfBytes(): Uint8Array {
  try {
    return new Uint8Array(native().mapFile(VMLINUX_BTF));
  } catch {
    return readFileSync(VMLINUX_BTF);
  }
}

let cachedId: string | undefined;

/**
 * An identity for the running kernel's BTF, used as a cache key. Hashing the
 * whole BTF (several MB) costs more than a warm start may spend, so this
 * hashes the kernel's release, its build string (`uname -v`, which carries the
 * build number and date) and the BTF's size: a different build changes at
 * least one of them.
 */
export function kernelBtfId(): string {
  if (cachedId === undefined) {
    const release = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
    const version = readFileSync("/proc/sys/kernel/version", "utf8").trim();
    let size = 0;
    try {
      size = statSync(VMLINUX_BTF).size;
    } catch {
      size = -1;
    }
    cachedId = hashKey(release, version, String(size)).slice(0, 24);
  }
  return cachedId;
}

/** `uname -r` of the running kernel. */
export function kernelRelease(): string {
  return readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
}

/** The running kernel's version as [major, minor, patch]. */
export function kernelVersion(): [number, number, number] {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(kernelRelease());
  return [Number(m?.[1] ?? 0), Number(m?.[2] ?? 0), Number(m?.[3] ?? 0)];
}

/** LINUX_VERSION_CODE of the running kernel (patch capped at 255, as the kernel does). */
export function linuxVersionCode(): number {
  const [a, b, c] = kernelVersion();
  return (a << 16) + (b << 8) + Math.min(c, 255);
}

/** The __TARGET_ARCH_x value libbpf's bpf_tracing.h expects for this machine. */
export function targetArch(): string {
  switch (process.arch) {
    case "x64":
      return "x86";
    case "arm64":
      return "arm64";
    case "s390x":
      return "s390";
    case "ppc64":
      return "powerpc";
    case "riscv64":
      return "riscv";
    case "loong64":
      return "loongarch";
    default:
      return process.arch;
  }
}

/**
 * The prefix of syscall entry functions. Kernels with ARCH_HAS_SYSCALL_WRAPPER
 * (x86-64 since 4.17, arm64 since 4.19, s390 since 4.19) name them
 * `__<arch>_sys_X` and pass the user's registers as one `struct pt_regs *`.
 * Reading /proc/kallsyms to check costs ~50 ms, so this decides from the
 * architecture and version; attachKprobe checks the real symbol anyway.
 */
export function syscallPrefix(): string {
  const [major, minor] = kernelVersion();
  const atLeast = (a: number, b: number): boolean => major > a || (major === a && minor >= b);
  switch (process.arch) {
    case "x64":
      return atLeast(4, 17) ? "__x64_sys_" : "sys_";
    case "arm64":
      return atLeast(4, 19) ? "__arm64_sys_" : "sys_";
    case "s390x":
      return atLeast(4, 19) ? "__s390x_sys_" : "sys_";
    default:
      return "sys_";
  }
}

/** True when syscall functions take the user's registers as one pt_regs pointer. */
export function hasSyscallWrapper(): boolean {
  return syscallPrefix() !== "sys_";
}

/** Number of possible CPUs (/sys/devices/system/cpu/possible). */
export function possibleCpus(): number {
  return parseCpuList(readFileSync("/sys/devices/system/cpu/possible", "utf8")).length;
}

/** CPUs that are online now (bcc's utils.get_online_cpus()). */
export function onlineCpus(): number[] {
  return parseCpuList(readFileSync("/sys/devices/system/cpu/online", "utf8"));
}

/** Parses a kernel CPU list such as "0-3,5,7-8". */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(",")) {
    if (part === "") continue;
    const [a, b] = part.split("-").map(Number) as [number, number | undefined];
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}
