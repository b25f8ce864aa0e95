// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Symbols of build-id stack frames (BPF_STACK_TRACE_BUILDID, Linux 4.17+):
 * the kernel records a user frame as the build-id of the file mapped there
 * and the file offset, so a stack resolves after the process is gone, on
 * another machine, or from a stripped binary whose debug file is installed.
 * The files come from the modules registered with BPF.addModule (bcc's
 * add_module) or, failing that, from the debug-file directory's
 * .build-id/xx/rest(.debug) (debuginfo.ts's root, so TSBPF_DEBUGINFO_ROOT
 * and BCC_DEBUGINFO_ROOT apply); a registered binary's own program headers
 * place the offsets exactly, a debug file's by the usual linker layout.
 */
import { existsSync } from "node:fs";
import { basename } from "node:path";
import { ElfError } from "../kernel/errors.js";
import { buildIdPath, debugInfoRoot } from "./debuginfo.js";
import { type ElfFile, elfFile, elfFunctionIndex, fileOffsetToAddr, PT_LOAD } from "./elf.js";

/** One frame of a build-id stack. */
export interface BuildIdFrame {
  /**
   * "valid": buildId and offset are set; "ip": the kernel could not read the
   * file's build-id and left the address (ip); "empty": no frame.
   */
  status: "empty" | "valid" | "ip";
  /** The build-id, lower-case hex ("" unless valid). */
  buildId: string;
  /** File offset in the module (valid frames). */
  offset: bigint;
  /** The instruction pointer ("ip" frames). */
  ip: bigint;
}

/** enum bpf_stack_build_id_status: what a build-id frame holds. */
export const BPF_STACK_BUILD_ID_EMPTY = 0;
export const BPF_STACK_BUILD_ID_VALID = 1;
export const BPF_STACK_BUILD_ID_IP = 2;

/** struct bpf_stack_build_id: s32 status, u8 build_id[20], union { u64 offset; u64 ip; } (32 bytes). */
export const BUILD_ID_FRAME_SIZE = 32;

/** The frames of a build-id stack trace value, without the empty padding. */
export function decodeBuildIdFrames(bytes: Uint8Array): BuildIdFrame[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: BuildIdFrame[] = [];
  for (let off = 0; off + BUILD_ID_FRAME_SIZE <= bytes.length; off += BUILD_ID_FRAME_SIZE) {
    const status = view.getInt32(off, true);
    if (status === 0) break; // BPF_STACK_BUILD_ID_EMPTY: the rest is padding
    const word = view.getBigUint64(off + 24, true);
    out.push(
      status === 1
        ? {
            status: "valid",
            buildId: Buffer.from(bytes.subarray(off + 4, off + 24)).toString("hex"),
            offset: word,
            ip: 0n,
          }
        : { status: "ip", buildId: "", offset: 0n, ip: word },
    );
  }
  return out;
}

const modules = new Map<string, string>();

/** Registers a binary whose frames build-id stacks may hold (bcc's add_module); returns its build-id. */
export function addModule(path: string): string {
  const id = elfFile(path).buildId;
  if (id === undefined) throw new ElfError(path, "it has no build-id note (link it with --build-id)");
  modules.set(id, path);
  return id;
}

/**
 * Where a build-id's symbols are: a registered module (its own program
 * headers map file offsets to addresses; its symbols may come from its debug
 * file), else the debug-file directory's file, whose program headers keep
 * the addresses but not the file offsets (objcopy --only-keep-debug empties
 * the segments).
 */
export function moduleOfBuildId(buildId: string): { path: string; debugOnly: boolean } | undefined {
  const registered = modules.get(buildId);
  if (registered && existsSync(registered)) return { path: registered, debugOnly: false };
  const base = buildIdPath(debugInfoRoot(), buildId);
  if (existsSync(base)) return { path: base, debugOnly: false }; // a link to the binary itself
  if (existsSync(`${base}.debug`)) return { path: `${base}.debug`, debugOnly: true };
  return undefined;
}

/**
 * A file offset's address from a debug file alone: as GNU ld and lld lay a
 * binary out, the file is loaded from its first segment's address on, so
 * that code sits as far from the file's start as from that address.
 */
function addrFromDebugFile(elf: ElfFile, offset: bigint): bigint | undefined {
  const loads = elf.segments.filter((g) => g.type === PT_LOAD);
  if (loads.length === 0) return undefined;
  let first = loads[0]?.vaddr ?? 0n;
  for (const g of loads) if (g.vaddr < first) first = g.vaddr;
  const align = loads[0]?.align && loads[0].align > 0n ? loads[0].align : 0x1000n;
  return first - (first % align) + offset;
}

/** "name+0xoff [module]" of a build-id frame, as BPF.sym prints addresses; "[unknown]" when nothing resolves it. */
export function symBuildId(
  frame: BuildIdFrame,
  opts: { showModule?: boolean; showOffset?: boolean } = {},
): string {
  if (frame.status !== "valid") return "[unknown]";
  const mod = moduleOfBuildId(frame.buildId);
  if (!mod) return "[unknown]";
  let name: string | undefined;
  let offset = 0n;
  try {
    const { elf, index } = elfFunctionIndex(mod.path);
    const addr = mod.debugOnly
      ? addrFromDebugFile(elf, frame.offset)
      : fileOffsetToAddr(elf, frame.offset, true);
    const f = addr === undefined ? undefined : index.lookup(addr);
    name = f?.name;
    offset = f?.offset ?? 0n;
  } catch {
    name = undefined;
  }
  let out = name ?? "[unknown]";
  if (name !== undefined && opts.showOffset) out += `+0x${offset.toString(16)}`;
  if (opts.showModule) out += ` [${basename(mod.path).replace(/\.debug$/, "")}]`;
  return out;
}
