/** What BPF.load and BPF.open take. */
import type { USDT } from "./attach/usdt.js";

/** Options of BPF.load: a program as C text, compiled (and cached) at load. */
export interface LoadOptions {
  /** The C program, in bcc's dialect or libbpf style. */
  text?: string;
  /** A file holding the C program. */
  srcFile?: string;
  /** Extra clang flags. */
  cflags?: string[];
  /** bcc's debug flags (DEBUG_SOURCE, DEBUG_BPF_REGISTER_STATE, …). */
  debug?: number;
  /**
   * bcc's allow_rlimit (default true): whether tsbpf (through libbpf) may raise
   * RLIMIT_MEMLOCK to unlimited when the kernel needs it. Kernels before 5.11
   * charge BPF maps and programs to that limit; 5.11+ charge the memory
   * cgroup instead and nothing is changed. false leaves the limit alone: a
   * load that hits it fails with EPERM, saying so.
   */
  allowRlimit?: boolean;
  /**
   * bcc's device: a network device to offload the maps to (their kernel copy
   * lives on the NIC; Linux 4.16+, a driver with BPF offload such as nfp).
   * Programs are offloaded with loadFunc(name, type, { device }).
   */
  device?: string;
  /** Attach kprobe__X, tracepoint__cat__ev, SEC("kprobe/X"), … functions at load, as bcc and libbpf do (default true). */
  autoAttach?: boolean;
  /** USDT contexts whose enabled probes are attached at load, before the auto-attach functions (bcc's usdt_contexts). */
  usdtContexts?: USDT[];
  /** Attach USDT contexts made for a pid to every process running the binaries (bcc's attach_usdt_ignore_pid). */
  attachUsdtIgnorePid?: boolean;
}

/** Options of BPF.open: a BPF object built ahead of time; no compiler runs. */
export interface OpenOptions {
  /** The object (`tsbpf compile prog.bpf.c -o prog.bpf.o`, or clang's for libbpf): a path, or its bytes. */
  object: string | Uint8Array;
  /**
   * Read-only globals (`const volatile` variables in .rodata) by name, set
   * before load, encoded through the object's BTF: numbers or bigints for
   * integers, booleans, strings for char arrays, objects for structs.
   */
  rodata?: Record<string, unknown>;
  /** Maximum entries by map name, set before the maps are created. */
  mapSizes?: Record<string, number>;
  /**
   * As for BPF.load: bcc's allow_rlimit (default true): whether tsbpf (through libbpf) may raise
   * RLIMIT_MEMLOCK to unlimited when the kernel needs it. Kernels before 5.11
   * charge BPF maps and programs to that limit; 5.11+ charge the memory
   * cgroup instead and nothing is changed. false leaves the limit alone: a
   * load that hits it fails with EPERM, saying so.
   */
  allowRlimit?: boolean;
  /**
   * bcc's device: a network device to offload the maps to (their kernel copy
   * lives on the NIC; Linux 4.16+, a driver with BPF offload such as nfp).
   * Programs are offloaded with loadFunc(name, type, { device }).
   */
  device?: string;
  /** bcc's debug flags, as for BPF.load. */
  debug?: number;
  /** Attach the functions whose section or bcc name says where, at open (default true). */
  autoAttach?: boolean;
  /** USDT contexts whose enabled probes are attached at open. */
  usdtContexts?: USDT[];
  /** As for BPF.load. */
  attachUsdtIgnorePid?: boolean;
}
