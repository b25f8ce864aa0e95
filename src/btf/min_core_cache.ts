// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * The minimized kernel BTF of a prebuilt object (min_core.ts), cached per
 * object and kernel, for `btf_custom_path`: libbpf then resolves the
 * object's CO-RE relocations against a few hundred bytes instead of parsing
 * the kernel's whole BTF at every start (5.5 MB and 126,000 types on 6.18:
 * ~12 ms, and 6-7 MB of execsnoop's peak RSS).
 *
 * The first start with an object on a kernel reads the kernel's BTF in
 * JavaScript (lazily: only the types the relocations reach are decoded,
 * ~50 ms) and writes two files under the cache's core-btf/ directory:
 * `<key>.btf` (the minimized BTF, when the object can use one) and
 * `<key>.json` (what was decided and why). Later starts read the JSON, a few
 * hundred bytes. The key covers the object's bytes and the kernel's BTF
 * identity (release, build, BTF size: {@link kernelBtfId}), so another kernel
 * (the kernel matrix's 6.1 guest) gets its own entry.
 *
 * Kernel modules: given the kernel's BTF, libbpf searches the modules' BTF
 * for a local type that vmlinux does not have; given a custom BTF it does
 * not. So when some relocation's type is not in vmlinux, the modules'
 * BTF are searched here: if one has it, the object loads with the kernel's
 * BTF as before; if none has, the set of modules is recorded and a later
 * start with another set decides again.
 *
 * Nothing here fails a load: any error means "use the kernel's BTF".
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cachedFileExists, cacheSubdir, hashKey, readCached, writeAtomic } from "../compile/cache.js";
import { kernelBtfBytes, kernelBtfId } from "../kernel/kernel_info.js";
import { native } from "../native.js";
import { BTF_KIND, Btf, type BtfKind, btfTypeExtraBytes } from "./btf.js";
import {
  essentialName,
  MinCoreUnsupported,
  minimizeCoreBtf,
  type RawBtfLayout,
  rawBtfLayout,
  readObjectCore,
} from "./min_core.js";

/** The directory with the kernel's BTF and its modules'. */
const SYS_BTF = "/sys/kernel/btf";

/** Bumped whenever what is written, or how it is decided, changes. */
const FORMAT = 1;

/** What {@link coreBtfFor} decided for an object. */
export interface CoreBtfChoice {
  /** The minimized BTF to pass as btf_custom_path; undefined: use the kernel's BTF. */
  path: string | undefined;
  /** Why (for DEBUG_BTF): what the BTF holds, or why the object uses the kernel's. */
  why: string;
  /** true when read from the cache, false when decided by this call. */
  cached: boolean;
}

/** The JSON file kept with each decision. */
interface Meta {
  format: number;
  kernel: string;
  size: number;
  /** File name of the minimized BTF next to this file; absent when the object uses the kernel's BTF. */
  btf?: string;
  why: string;
  /** Local types no vmlinux type can serve ("STRUCT foo"): the modules' BTF were searched for them. */
  unresolved: string[];
  /** The modules with BTF when that search ran (only when unresolved is not empty). */
  modules: string[];
}

/**
 * A digest of the object's bytes (hex), by the addon: the same loop in
 * JavaScript (~17,000 iterations for execsnoop's object) was hot enough for
 * V8 to optimize it on the stack, which brought the optimizing compiler into
 * every tool's start: ~4 MB of peak RSS (Node 20).
 */
export function objectDigest(bytes: Uint8Array): string {
  return native().digest(bytes);
}

/** The kernel modules that have BTF, sorted. */
function modulesWithBtf(): string[] {
  try {
    return readdirSync(SYS_BTF)
      .filter((n) => n !== "vmlinux")
      .sort();
  } catch {
    return [];
  }
}

/**
 * For an object about to be opened: the minimized BTF to resolve its CO-RE
 * relocations against, from the cache or computed now; `path` undefined when
 * it should use the kernel's (no CO-RE relocations, libbpf needs the
 * kernel's BTF anyway, a relocation this cannot reproduce, an error).
 * TSBPF_MIN_CORE_BTF=0 turns it off.
 */
export function coreBtfFor(elf: Uint8Array): CoreBtfChoice {
  if (process.env.TSBPF_MIN_CORE_BTF === "0")
    return { path: undefined, why: "TSBPF_MIN_CORE_BTF=0", cached: false };
  try {
    const kernel = kernelBtfId();
    const key = hashKey(`min-core-btf-${FORMAT}`, kernel, String(elf.byteLength), objectDigest(elf));
    const dir = cacheSubdir("core-btf");
    const metaPath = join(dir, `${key}.json`);
    const hit = readMeta(metaPath, kernel, elf.byteLength);
    if (hit) {
      const btfPath = hit.btf === undefined ? undefined : join(dir, hit.btf);
      const stale =
        (hit.unresolved.length > 0 && hit.modules.join("\n") !== modulesWithBtf().join("\n")) ||
        (btfPath !== undefined && !cachedFileExists(btfPath));
      if (!stale) return { path: btfPath, why: hit.why, cached: true };
    }
    const meta = decide(elf, kernel);
    if (meta === undefined) return { path: undefined, why: "could not decide", cached: false };
    let path: string | undefined;
    if (meta.raw !== undefined) {
      path = join(dir, `${key}.btf`);
      writeAtomic(path, meta.raw);
      meta.meta.btf = `${key}.btf`;
    }
    writeAtomic(metaPath, `${JSON.stringify(meta.meta)}\n`);
    return { path, why: meta.meta.why, cached: false };
  } catch (err) {
    return { path: undefined, why: `failed: ${(err as Error).message}`, cached: false };
  }
}

function readMeta(path: string, kernel: string, size: number): Meta | undefined {
  const raw = readCached(path);
  if (raw === undefined) return undefined;
  try {
    const m = JSON.parse(raw.toString("utf8")) as Meta;
    if (m.format !== FORMAT || m.kernel !== kernel || m.size !== size) return undefined;
    if (!Array.isArray(m.unresolved) || !Array.isArray(m.modules) || typeof m.why !== "string")
      return undefined;
    if (m.btf !== undefined && (typeof m.btf !== "string" || m.btf.includes("/"))) return undefined;
    return m;
  } catch {
    return undefined;
  }
}

/**
 * Decides for an object: a minimized BTF, or why not. undefined for an error
 * that says nothing about the object (the kernel's BTF unreadable), which is
 * not cached.
 */
function decide(elf: Uint8Array, kernel: string): { meta: Meta; raw?: Uint8Array } | undefined {
  const meta: Meta = { format: FORMAT, kernel, size: elf.byteLength, why: "", unresolved: [], modules: [] };
  const core = readObjectCore(elf);
  if (core.btf === undefined || core.relos.length === 0) {
    meta.why = "no CO-RE relocations";
    return { meta };
  }
  if (core.needsKernelBtf !== undefined) {
    meta.why = `libbpf reads the kernel's BTF for its ${core.needsKernelBtf} anyway`;
    return { meta };
  }
  let vmlinuxRaw: Uint8Array;
  try {
    vmlinuxRaw = kernelBtfBytes();
  } catch {
    return undefined;
  }
  // Read here rather than through kernelBtf(): it is garbage once this is
  // written. Lazily: only the types the relocations reach are decoded.
  const kernelBtf = Btf.parseLazy(vmlinuxRaw);
  // From here on, whatever goes wrong is kept as the decision, so that later
  // starts do not parse the kernel's BTF again to fail the same way.
  try {
    const min = minimizeCoreBtf(core.btf, core.relos, kernelBtf, vmlinuxRaw);
    meta.unresolved = min.unresolved.map((u) => `${u.kind} ${u.name}`);
    if (meta.unresolved.length > 0) {
      meta.modules = modulesWithBtf();
      const found = moduleCandidates(vmlinuxRaw, meta.modules, min.unresolved);
      if (found !== undefined) {
        meta.why = `uses the kernel's BTF: module ${found.module} has ${found.what}, which libbpf would relocate against`;
        return { meta };
      }
    }
    meta.why = `minimized BTF: ${min.types} types, ${min.raw.byteLength} bytes for ${min.relocations} CO-RE relocations`;
    return { meta, raw: min.raw };
  } catch (err) {
    meta.why = `uses the kernel's BTF: ${err instanceof MinCoreUnsupported ? "" : "minimizing failed: "}${(err as Error).message}`;
    return { meta };
  }
}

/** The kinds libbpf's candidate search takes for each other (btf_kind_core_compat). */
function kindsCompat(a: number, b: number): boolean {
  const { ENUM, ENUM64 } = BTF_KIND;
  return a === b || ((a === ENUM || a === ENUM64) && (b === ENUM || b === ENUM64));
}

/**
 * The first module whose BTF has a candidate for one of the `wanted` local
 * types (same essential name, compatible kind), or undefined. Module BTF is
 * split BTF over vmlinux's: only names and kinds are read, a name's offset
 * below the base's string section size being the base's.
 */
function moduleCandidates(
  vmlinuxRaw: Uint8Array,
  modules: string[],
  wanted: Array<{ kind: string; name: string }>,
): { module: string; what: string } | undefined {
  const byName = new Map<string, number[]>();
  for (const w of wanted) {
    const k = BTF_KIND[w.kind as BtfKind];
    if (k === undefined) continue;
    byName.set(w.name, [...(byName.get(w.name) ?? []), k]);
  }
  const base = rawBtfLayout(vmlinuxRaw);
  for (const mod of modules) {
    let raw: Buffer;
    try {
      raw = readFileSync(join(SYS_BTF, mod));
    } catch {
      continue;
    }
    const hit = scanSplitBtf(raw, vmlinuxRaw, base, byName);
    if (hit !== undefined) return { module: mod, what: hit };
  }
  return undefined;
}

/** The "kind name" of the first type of a split BTF that one of `byName` would take as a candidate. */
function scanSplitBtf(
  raw: Uint8Array,
  baseRaw: Uint8Array,
  base: RawBtfLayout,
  byName: Map<string, number[]>,
): string | undefined {
  const h = rawBtfLayout(raw);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const name = (off: number): string => {
    const [bytes, start, limit] =
      off < base.strLen
        ? [baseRaw, base.strStart + off, base.strStart + base.strLen]
        : [raw, h.strStart + off - base.strLen, h.strStart + h.strLen];
    let end = start;
    while (end < limit && bytes[end] !== 0) end++;
    return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString("utf8");
  };
  let p = h.typeStart;
  while (p + 12 <= h.typeEnd) {
    const nameOff = dv.getUint32(p, h.le);
    const info = dv.getUint32(p + 4, h.le);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    if (nameOff !== 0) {
      const kinds = byName.get(essentialName(name(nameOff)));
      if (kinds?.some((k) => kindsCompat(k, kind))) return `${name(nameOff)} (BTF kind ${kind})`;
    }
    p += 12 + btfTypeExtraBytes(kind, vlen);
  }
  return undefined;
}
