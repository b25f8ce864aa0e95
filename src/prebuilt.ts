// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * Prebuilt objects (BPF.open): a BPF ELF built ahead of time, by
 * `tsbpf compile -o` (which carries tsbpf's metadata, see
 * compile/object_meta.ts) or by clang for libbpf (CO-RE, SEC() names), made
 * into what BPF.load makes of source text, with no compiler at run time.
 * Before the maps are created, its read-only globals (`const volatile`
 * variables in .rodata, as libbpf-tools configure their programs) are set by
 * name from JavaScript values, encoded through the object's BTF, and maps are
 * resized.
 */
import { readFileSync } from "node:fs";
import { Btf } from "./btf/btf.js";
import { codecFor } from "./btf/codec.js";
import type { CompiledObject } from "./compile/compile.js";
import { programOf, withElfPrograms } from "./compile/elf_programs.js";
import { notBpfObject, readMeta } from "./compile/object_meta.js";
import { Errno } from "./kernel/constants.js";
import { BpfError, isNativeError } from "./kernel/errors.js";
import { objectNameOf, unknownNameError } from "./loader.js";
import { type NativeObject, native } from "./native.js";
import type { OpenOptions } from "./options.js";

/** What the loader does to the maps before it creates them (and how it opens the object). */
export interface MapSetup {
  /** Global-data map name → its initial bytes. */
  initialValues: Map<string, Uint8Array>;
  /** Map name → max entries. */
  maxEntries: Map<string, number>;
  /**
   * Resolve the CO-RE relocations against a minimized kernel BTF, cached per
   * object and kernel (btf/min_core_cache.ts), rather than have libbpf parse
   * the kernel's whole BTF at each load.
   */
  minCoreBtf?: boolean;
}

/** A prebuilt object as BPF.load's compile step would have made it, with the map setup its options ask for. */
export function openPrebuilt(opts: OpenOptions): { compiled: CompiledObject; setup: MapSetup } {
  const what = typeof opts.object === "string" ? opts.object : "the object";
  const elf = readObject(opts.object);
  const why = notBpfObject(elf, what);
  if (why)
    throw new BpfError(
      `${what} is not a BPF object: ${why}; make one with "tsbpf compile prog.bpf.c -o prog.bpf.o" (or clang -target bpf -g -O2 -c)`,
    );
  const meta = readMeta(elf, what);
  const fileName = meta?.fileName ?? what;
  const probe = openNative(elf, objectNameOf(fileName), what);
  try {
    const programs = meta
      ? withElfPrograms(meta.programs, probe.programs()) // (libbpf's list: no second parse of the ELF)
      : probe.programs().map((p) => programOf(p.name, p.section));
    const compiled: CompiledObject = {
      elf,
      programs,
      maps: meta?.maps ?? [],
      ringbufs: meta?.ringbufs ?? [],
      fileName,
      source: meta?.source ?? "",
      translated: meta?.translated ?? "",
      cached: false,
    };
    return { compiled, setup: mapSetup(probe, fileName, opts) };
  } finally {
    probe.close();
  }
}

function readObject(object: string | Uint8Array): Uint8Array {
  if (object instanceof Uint8Array) return object;
  if (typeof object !== "string")
    throw new BpfError(
      `BPF.open needs { object }: the object's path or its bytes (a Uint8Array), not ${object === null ? "null" : typeof object}`,
    );
  try {
    return readFileSync(object);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BpfError(`cannot read the BPF object ${object}: ${(err as Error).message}`, {
      errno: code === undefined ? undefined : Errno[code],
      cause: err,
    });
  }
}

function openNative(elf: Uint8Array, objectName: string, what: string): NativeObject {
  try {
    return new (native().NativeObject)(elf, objectName);
  } catch (err) {
    if (!isNativeError(err)) throw err;
    throw new BpfError(`libbpf cannot open ${what}: ${err.message}`, { errno: err.errno, cause: err });
  }
}

function mapSetup(obj: NativeObject, fileName: string, opts: OpenOptions): MapSetup {
  const setup: MapSetup = { initialValues: new Map(), maxEntries: new Map(), minCoreBtf: true };
  const maps = obj.maps();
  const userMaps = maps.filter((m) => !m.name.includes(".")).map((m) => m.name);
  for (const [name, size] of Object.entries(opts.mapSizes ?? {})) {
    if (!userMaps.includes(name)) throw unknownNameError("map", name, userMaps, fileName);
    if (!Number.isInteger(size) || size < 1 || size > 0xffffffff)
      throw new BpfError(`mapSizes.${name} must be a positive integer, not ${String(size)}`);
    setup.maxEntries.set(name, size);
  }
  const rodata = Object.entries(opts.rodata ?? {});
  if (rodata.length === 0) return setup;
  const rodataMap = maps.find((m) => m.name.endsWith(".rodata"));
  const raw = obj.btfRaw();
  // (only the .rodata variables' types are read: a full parse of a tool's BTF took ~4 ms of its start)
  const btf = raw ? Btf.parseLazy(raw) : undefined;
  const vars = btf?.datasecVars(".rodata") ?? [];
  const initial = rodataMap ? obj.mapInitialValue(rodataMap.name) : null;
  if (!rodataMap || !btf || !initial)
    throw new BpfError(
      `${fileName} has no read-only globals to set (no .rodata section with BTF): declare them as ` +
        "`const volatile int name = default;` and compile with -g",
    );
  const bytes = new Uint8Array(initial);
  const view = new DataView(bytes.buffer);
  for (const [name, value] of rodata) {
    const v = vars.find((x) => x.name === name);
    if (!v)
      throw new BpfError(
        `no read-only global ${name} in ${fileName}; its read-only globals are: ${vars.map((x) => x.name).join(", ") || "(none)"}`,
      );
    try {
      checkFits(btf, v.typeId, value);
      codecFor(btf, v.typeId).encode(value, view, v.offset);
    } catch (err) {
      throw new BpfError(
        `rodata.${name} (${btf.cName(v.typeId)}) cannot hold ${describe(value)}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  setup.initialValues.set(rodataMap.name, bytes);
  return setup;
}

/**
 * The table codecs coerce (a string into an int is 0, a long string is cut):
 * a program's configuration must not change silently, so integers must be
 * in range, enums and booleans match, and strings fit with their NUL.
 */
function checkFits(btf: Btf, typeId: number, value: unknown): void {
  const t = btf.type(btf.resolve(typeId));
  if (t.kind === "INT") {
    if (t.bool) {
      if (typeof value !== "boolean") throw new TypeError("expected a boolean");
      return;
    }
    if (typeof value === "boolean") return;
    if (!(typeof value === "bigint" || (typeof value === "number" && Number.isInteger(value))))
      throw new TypeError("expected an integer (a number or a bigint)");
    const bits = BigInt(t.bits);
    const min = t.signed ? -(1n << (bits - 1n)) : 0n;
    const max = t.signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
    const big = BigInt(value);
    if (big < min || big > max) throw new RangeError(`out of range ${min}..${max}`);
  } else if (t.kind === "ENUM" || t.kind === "ENUM64") {
    if (!(typeof value === "bigint" || (typeof value === "number" && Number.isInteger(value))))
      throw new TypeError("expected an integer (a number or a bigint)");
  } else if (t.kind === "ARRAY" && typeof value === "string") {
    const elem = btf.type(btf.resolve(t.type));
    const bytes = new TextEncoder().encode(value).byteLength;
    if (elem.kind === "INT" && elem.size === 1 && bytes > t.nelems - 1)
      throw new RangeError(`${bytes} bytes do not fit in ${t.nelems} with the terminating NUL`);
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  return typeof value === "object" && value !== null ? "that object" : String(value);
}
