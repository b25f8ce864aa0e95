/**
 * The contract between TypeScript and the native addon (native/*.c).
 *
 * The addon is a thin layer over the system libbpf: it owns libbpf objects,
 * programs, maps and links and nothing else. Every failure is thrown as a
 * {@link NativeError}; src/kernel/errors.ts turns those into typed errors.
 */
import { createRequire } from "node:module";
import { join } from "node:path";
import { packageRoot } from "./paths.js";

/** What the addon throws: a plain Error with the errno and what libbpf said. */
export interface NativeError extends Error {
  /** Positive errno (e.g. 1 for EPERM), 0 when there is none. */
  errno: number;
  /** Symbolic errno ("EPERM"), or "" when unknown. */
  code: string;
  /** The libbpf call that failed, e.g. "bpf_object__load". */
  op: string;
  /** Everything libbpf printed (all levels) while the failing call ran. */
  libbpfLog: string;
  /** The kernel verifier log of the failing program, when a load failed. */
  verifierLog?: string;
  /** The program whose load failed, when known. */
  program?: string;
}

export interface NativeProgramInfo {
  name: string;
  section: string;
  /** enum bpf_prog_type as libbpf guessed it from the section (0 when unknown). */
  type: number;
  insnCount: number;
}

export interface NativeMapInfo {
  name: string;
  /** enum bpf_map_type */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  /** -1 before the object is loaded. */
  fd: number;
  /** BTF type ids of key and value in the object's BTF (0 when none). */
  btfKeyTypeId: number;
  btfValueTypeId: number;
}

export interface NativeLoadOptions {
  /** Verifier log level used for every program (0: only on failure). */
  logLevel: number;
  /** Size in bytes of the verifier log buffer. */
  logSize: number;
}

/** An opened (and later loaded) bpf_object. */
export interface NativeObject {
  programs(): NativeProgramInfo[];
  maps(): NativeMapInfo[];
  setAutoload(program: string, autoload: boolean): void;
  setProgramType(program: string, progType: number, expectedAttachType: number): void;
  setAttachTarget(program: string, targetFn: string): void;
  reuseMapFd(map: string, fd: number): void;
  load(opts: NativeLoadOptions): void;
  /** Verifier log of a successful load when logLevel > 0 ("" otherwise). */
  verifierLog(program: string): string;
  programFd(program: string): number;
  mapFd(map: string): number;
  /** Raw BTF of the object (the .BTF section as libbpf holds it), or null. */
  btfRaw(): Uint8Array | null;
  close(): void;
}

/** A bpf_link; destroying it detaches. */
export interface NativeLink {
  fd(): number;
  destroy(): void;
}

export interface NativeAddon {
  libbpfVersion(): string;
  /** vmlinux.h text for the kernel BTF at path (btf_dump, like bpftool's "format c"). */
  btfDumpHeader(btfPath: string): string;
  /**
   * A vmlinux.h cut down to the types a program uses, for clang to parse in a
   * few tens of milliseconds instead of the whole header's quarter second.
   * Same wrapping as {@link NativeAddon.btfDumpHeader} (it defines
   * `__VMLINUX_H__` too, so the full header is never pulled in on top).
   *
   * `names` are the identifiers of the program's source. Each selects every
   * struct, union, enum, typedef or forward declaration of that name, and for
   * an enumerator (`TASK_COMM_LEN`, `BPF_ANY`) the enum that holds it, or the
   * struct, union or typedef that defines an anonymous enum inline. btf_dump
   * adds what those need to compile: embedded types complete, types behind
   * pointers as forward declarations. Then a member of a reached struct whose
   * name is in `names` makes the type it leads to complete too, through
   * pointers, so `BPF_CORE_READ(t, mm, arg_start)` compiles from the
   * identifiers alone.
   *
   * The parsed BTF and its name index stay cached for the next call with the
   * same path (until the file changes).
   *
   * Always add the names libbpf's headers need (bpf_helper_defs.h:
   * `__u64 __s32 __s64 __be16 __be32 __wsum`, with `__u16 __u32` through
   * them; the macros: `__u8 __u16` (BPF_PROG2) and `pt_regs` (PT_REGS_*,
   * BPF_KPROBE, BPF_KSYSCALL on x86)).
   *
   * @returns the header; `types`, the number of root types dumped (named
   * and reached through members, before btf_dump's dependencies); `missing`,
   * the names that selected nothing (each once, in order), for diagnostics.
   */
  btfDumpSubset(btfPath: string, names: string[]): { header: string; types: number; missing: string[] };
  NativeObject: new (elf: Uint8Array, name: string) => NativeObject;
  attachTracepoint(obj: NativeObject, program: string, category: string, event: string): NativeLink;
  attachRawTracepoint(obj: NativeObject, program: string, event: string): NativeLink;
  attachKprobe(
    obj: NativeObject,
    program: string,
    opts: { func: string; offset: number; retprobe: boolean },
  ): NativeLink;
  /** libbpf_probe_bpf_prog_type: 1 yes, 0 no, negative errno when it could not tell. */
  probeProgType(progType: number): number;
  /** libbpf_probe_bpf_map_type: 1 yes, 0 no, negative errno when it could not tell. */
  probeMapType(mapType: number): number;
  /** libbpf_probe_bpf_helper: 1 yes, 0 no, negative errno when it could not tell. */
  probeHelper(progType: number, helperId: number): number;
  /**
   * Loads a minimal fentry program (BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY)
   * on a kernel function found in the vmlinux BTF and attaches it, then
   * releases both: 1 when that works, 0 when the kernel refuses (EPERM,
   * EINVAL, ENOTSUPP, ...), negative errno when it could not tell.
   */
  probeTracing(): number;
  /** IDs of every BPF program / map / link currently in the kernel. */
  progIds(): number[];
  mapIds(): number[];
  linkIds(): number[];
  mapLookup(fd: number, key: Uint8Array, value: Uint8Array): boolean;
  mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags: number): void;
  mapDelete(fd: number, key: Uint8Array): boolean;
  /** Writes the key after `key` (or the first key when key is null) into next; false at the end. */
  mapNextKey(fd: number, key: Uint8Array | null, next: Uint8Array): boolean;
  closeFd(fd: number): void;
}

let addon: NativeAddon | undefined;

/** Loads build/Release/tsbpf.node once. */
export function native(): NativeAddon {
  if (addon === undefined) {
    const require = createRequire(import.meta.url);
    addon = require(join(packageRoot(), "build", "Release", "tsbpf.node")) as NativeAddon;
  }
  return addon;
}
