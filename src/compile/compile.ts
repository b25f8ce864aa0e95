// @init-at-first-use (scripts/bundle_rewrite.mjs)
/**
 * The compile pipeline: bcc dialect text → translated C → clang → BPF ELF,
 * with every result cached (key: source, flags, clang, kernel BTF).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { pauseForCompile } from "../compile_pause.js";
import { noteCompiled } from "../compiled_here.js";
import { CacheError, CompileError } from "../kernel/errors.js";
import {
  hasSyscallWrapper,
  kernelBtfId,
  linuxVersionCode,
  possibleCpus,
  targetArch,
} from "../kernel/kernel_info.js";
import { readTracepointFormat, tracepointExists, unknownTracepointMessage } from "../kernel/tracefs.js";
import { cacheSubdir, hashKey, readCached, writeAtomic } from "./cache.js";
import type { Clang } from "./clang.js";
import { adoptClang, findClang, prestartClang } from "./clang.js";
import { dropEarlyClang, takeEarlyClang } from "./early_clang.js";
import { withElfPrograms } from "./elf_programs.js";
import { HEADERS_DIR, headerStamps } from "./headers_dir.js";
import type { MapDecl } from "./maps_dialect.js";
import { usesPacketHeaders } from "./packet_headers.js";
import type { ProgramInfo } from "./rewriter.js";

/** bcc's debug flags (BPF(debug=…)). */
export const DEBUG_LLVM_IR = 0x1;
export const DEBUG_BPF = 0x2;
export const DEBUG_PREPROCESSOR = 0x4;
export const DEBUG_SOURCE = 0x8;
export const DEBUG_BPF_REGISTER_STATE = 0x10;
export const DEBUG_BTF = 0x20;

/** Where tsbpf's shim headers live (shipped as source, not compiled). */
export { HEADERS_DIR };

/** A compiled program: the ELF and what the rewriter learnt about it. */
export interface CompiledObject {
  elf: Uint8Array;
  programs: ProgramInfo[];
  /** Maps declared with bcc's macros (libbpf-style maps are found from the ELF). */
  maps: MapDecl[];
  /** Ring buffer maps in wake-up slot order. */
  ringbufs: string[];
  /** The user's file name (for messages). */
  fileName: string;
  /** The user's source text. */
  source: string;
  /** The translated C that clang compiled. */
  translated: string;
  /** True when the result came from the cache. */
  cached: boolean;
}

export interface CompileOptions {
  text: string;
  /** Name used in diagnostics, e.g. "printk_sample.c". */
  fileName?: string;
  cflags?: string[];
  debug?: number;
}

/** Flags every compile uses; the PCH is built with exactly these. */
export function baseFlags(): string[] {
  return [
    "-target",
    "bpf",
    "-O2",
    "-g",
    `-D__TARGET_ARCH_${targetArch()}`,
    "-D__BPF_TRACING__",
    "-fno-stack-protector",
    "-fno-color-diagnostics",
    "-Wno-unused-value",
    "-Wno-pointer-sign",
    "-Wno-compare-distinct-pointer-types",
    "-Wno-gnu-variable-sized-type-not-at-end",
    "-Wno-address-of-packed-member",
    "-Wno-tautological-compare",
    "-Wno-unknown-warning-option",
    "-Wno-incompatible-pointer-types-discards-qualifiers",
    // A call to an undeclared function would compile to an extern that libbpf
    // cannot resolve at open (a bare ENOENT): make it a compile error at its line.
    IMPLICIT_CALLS_ERROR,
  ];
}

const IMPLICIT_CALLS_ERROR = "-Werror=implicit-function-declaration";
const IMPLICIT_CALLS_WARNING = "-Wno-error=implicit-function-declaration";

/** Whether the object calls a function of those clang's diagnostics name as undeclared library functions. */
async function externCalls(objPath: string, stderr: string): Promise<boolean> {
  const { readElfSymbols, SHN_UNDEF } = await import("../elf/elf.js");
  const names = new Set(
    [...stderr.matchAll(/implicitly declaring library function '(\w+)'/g)].map((m) => m[1]),
  );
  return readElfSymbols(readFileSync(objPath)).some((s) => s.shndx === SHN_UNDEF && names.has(s.name));
}

/** Whether clang's only errors are calls of C library functions never declared (clang's builtins). */
function onlyLibraryCalls(stderr: string): boolean {
  const errors = stderr.split("\n").filter((l) => /: (fatal )?error: /.test(l));
  return errors.length > 0 && errors.every((l) => /: error: implicitly declaring library function '/.test(l));
}

let translatorId: string | undefined;

/** Changes whenever the shim headers or the UAPI headers change, so stale objects are never reused. */
function translatorVersion(): string {
  if (translatorId === undefined) {
    // Bump when the pipeline changes what it emits (flags, rewrites), so cached objects are rebuilt.
    const parts: string[] = ["tsbpf-translator-15", JSON.stringify(baseFlags()), ...headerStamps()];
    try {
      const st = statSync("/usr/include/linux/version.h");
      parts.push(`uapi:${st.size}:${st.mtimeMs}`);
    } catch {
      parts.push("uapi:none");
    }
    translatorId = hashKey(...parts);
  }
  return translatorId;
}

/** The texts of tsbpf's own force-included headers (their names seed the program's macros). */
function ownHeaderTexts(): string[] {
  const dir = join(HEADERS_DIR, "tsbpf");
  return readdirSync(dir)
    .sort()
    .map((f) => readFileSync(join(dir, f), "utf8"));
}

/** The #defines at the top of a program's generated header. */
function generatedDefines(definesModname: boolean, ringbufs: number): string[] {
  const out = [
    `#define __TSBPF_SYSCALL_WRAPPER ${hasSyscallWrapper() ? 1 : 0}`,
    `#define __TSBPF_NUM_CPUS ${possibleCpus()}`,
    `#define __TSBPF_NUM_RINGBUFS ${ringbufs}`,
    "#ifndef LINUX_VERSION_CODE",
    `#define LINUX_VERSION_CODE ${process.env.BCC_LINUX_VERSION_CODE ?? linuxVersionCode()}`,
    "#endif",
    "#define KERNEL_VERSION(a, b, c) (((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))",
  ];
  if (!definesModname) out.push('#define KBUILD_MODNAME "tsbpf"');
  return out;
}

/**
 * The generated header force-included into the program (defines, prelude,
 * tracepoint structs), and the pointer-typed fields of the non-syscall
 * tracepoint records in it (kernel memory: see needsImplicitReads).
 */
async function generatedHeader(
  tracepoints: Array<{ category: string; event: string }>,
  definesModname: boolean,
  fileName: string,
  source: string,
  ringbufs: number,
  kernelMacros: string,
): Promise<{ text: string; recordPointers: Set<string> }> {
  // Loaded only on a cache miss: a warm start never needs them.
  const { parseTpFormat, tpArgsStruct } = await import("./tp_format.js");
  const out: string[] = [
    "/* generated by tsbpf for one program */",
    ...generatedDefines(definesModname, ringbufs),
  ];
  out.push('#include "tsbpf/prelude.h"');
  // The kernel macros the program uses (kernel_macros.ts), after vmlinux.h
  // (in the prelude), so that they can never change its declarations.
  if (kernelMacros) out.push("/* kernel macros */", kernelMacros);
  const recordPointers = new Set<string>();
  for (const { category, event } of tracepoints) {
    if (!tracepointExists(category, event)) {
      const line = source.split("\n").findIndex((l) => l.includes(event)) + 1;
      const msg = unknownTracepointMessage(`${category}:${event}`);
      throw new CompileError(`${fileName}:${line}: error: ${msg}`, [
        { file: fileName, line, column: 1, severity: "error", message: msg },
      ]);
    }
    const format = parseTpFormat(readTracepointFormat(category, event));
    out.push(tpArgsStruct(category, event, format));
    if (category !== "syscalls")
      for (const f of format.fields) if (!f.dataLoc && f.type.includes("*")) recordPointers.add(f.name);
  }
  return { text: `${out.join("\n")}\n`, recordPointers };
}

/** The license line bcc adds: BPF_LICENSE (GPL unless the program #defines it). */
const LICENSE_TAIL = [
  "",
  "#ifndef BPF_LICENSE",
  "#define BPF_LICENSE GPL",
  "#endif",
  "#define __TSBPF_STR2(x) #x",
  "#define __TSBPF_STR(x) __TSBPF_STR2(x)",
  'char _license[] __attribute__((section("license"), used)) = __TSBPF_STR(BPF_LICENSE);',
  "",
].join("\n");

/** Compiles bcc-dialect (or libbpf-style) C into a BPF object, using the cache. */
export function compileBcc(opts: CompileOptions): Promise<CompiledObject> {
  return compile(opts, true);
}

/**
 * compileBcc. With `settleLater`, a cache miss's first compile takes the
 * names that the UAPI headers may #define, and that are not known yet, as
 * not defined, and settles them (a scan of the headers) while clang runs; in
 * the rare case that one is a UAPI macro the program needs, it compiles
 * again with the exact macros.
 */
async function compile(opts: CompileOptions, settleLater: boolean): Promise<CompiledObject> {
  const fileName = opts.fileName ?? "<text>.c";
  const cflags = opts.cflags ?? [];
  const clang = findClang();
  const key = hashKey(
    translatorVersion(),
    fileName,
    opts.text,
    JSON.stringify(cflags),
    clang.identity,
    kernelBtfId(),
    process.env.BCC_LINUX_VERSION_CODE ?? "",
  );
  const objDir = cacheSubdir("objects");
  const objPath = join(objDir, `${key}.o`);
  const metaPath = join(objDir, `${key}.json`);
  const cachedElf = readCached(objPath);
  const cachedMeta = cachedElf ? readCached(metaPath) : undefined;
  const keyMaterial = JSON.stringify([fileName, opts.text, cflags, clang.identity, kernelBtfId()]);
  const meta =
    cachedElf && cachedMeta
      ? (JSON.parse(cachedMeta.toString("utf8")) as {
          programs: ProgramInfo[];
          maps?: MapDecl[];
          ringbufs?: string[];
          translated: string;
          key?: string;
        })
      : undefined;
  // The file name is a 128-bit hash; the entry also records what it was made from.
  // (What clang makes of the text, DEBUG_LLVM_IR and DEBUG_PREPROCESSOR, needs clang to run again.)
  const debug = opts.debug ?? 0;
  if (cachedElf && meta && meta.key === keyMaterial && !(debug & (DEBUG_LLVM_IR | DEBUG_PREPROCESSOR))) {
    dropEarlyClang(); // (one the launcher started is not needed)
    if (debug & DEBUG_SOURCE) await reportSource(meta.translated, cachedElf);
    return {
      elf: cachedElf,
      programs: meta.programs,
      maps: meta.maps ?? [],
      ringbufs: meta.ringbufs ?? [],
      fileName,
      source: opts.text,
      translated: meta.translated,
      cached: true,
    };
  }

  // First on a miss: the compile's work directory, and a clang in it that waits for its
  // arguments while the program is translated (prestartClang says why).
  // (or the ones the CLI's launcher made for a command's first run: early_clang.ts)
  noteCompiled(); // (what code cache this command's first run leaves: bundle_runner.ts)
  const early = takeEarlyClang(clang.path);
  const work = early?.work ?? mkdtempSync(join(cacheSubdir("tmp"), "cc-"));
  let warmClang = early ? adoptClang(early.started, clang, work) : prestartClang(clang, work);
  using _work = {
    [Symbol.dispose]() {
      warmClang?.cancel();
      rmSync(work, { recursive: true, force: true });
    },
  };
  // A miss compiles without V8's optimizing compiler and with its young
  // generation held at its size, and the start-up that follows it (loading,
  // attaching) runs so for a second more (compile_pause.ts says why).
  using _paused = pauseForCompile({ lingerMs: 1000 });
  // The translator and the clang driver load only on a cache miss.
  const [
    { rewriteBcc },
    { compileErrorFrom, runClang },
    { vmlinuxDir, vmlinuxPch },
    { releaseKernelTypes, subsetVmlinuxHeader, withoutTypes },
    { needsImplicitReads, rewriteImplicitReads },
    { programMacros, programConditionals, flagDefines },
    { parseDefines },
  ] = await Promise.all([
    import("./rewriter.js"),
    import("./clang.js"),
    import("./vmlinux.js"),
    import("./kernel_types.js"),
    import("./implicit_reads/index.js"),
    import("./kernel_macros.js"),
    import("./macros.js"),
  ]);
  // The conditionals first: the rewriter sees the branches clang will compile.
  const programDefines = new Set(parseDefines(opts.text, fileName).map((m) => m.name));
  const definesKbuildModname = programDefines.has("KBUILD_MODNAME");
  const resolved = await programConditionals(
    clang,
    HEADERS_DIR,
    baseFlags(),
    cflags,
    generatedDefines(definesKbuildModname, 0).join("\n"),
    programDefines,
    opts.text,
  );
  const rw = rewriteBcc(resolved, fileName, flagDefines(cflags));
  // `let`: the implicit-reads pass below may replace it (and prints it for DEBUG_SOURCE).
  let translated = rw.hasLicenseSection ? rw.code : rw.code + LICENSE_TAIL;
  // bcc's packet headers read through a cursor (packet_headers.ts).
  if (usesPacketHeaders(translated)) {
    const { rewritePacketHeaders } = await import("./packet_headers.js");
    translated = rewritePacketHeaders(translated, HEADERS_DIR, fileName).code;
  }
  // The generated header's own #defines come before its kernel macros: a
  // kernel macro of the same name would be dead there, so none is looked up.
  const macros = await programMacros(
    clang,
    HEADERS_DIR,
    translated,
    rw.definedNames,
    ownHeaderTexts(),
    generatedDefines(rw.definesKbuildModname, rw.ringbufs.length).join("\n"),
    { settleLater },
  );
  let stands: boolean | undefined;
  /** Whether the kernel macros are the program's (settled once: see compile's settleLater). */
  const macrosStand = (): boolean => {
    stands ??= macros.settle?.() ?? true;
    return stands;
  };
  const { text: gen, recordPointers } = await generatedHeader(
    rw.tracepointStructs,
    rw.definesKbuildModname,
    fileName,
    opts.text,
    rw.ringbufs.length,
    macros.text,
  );

  try {
    const srcName = basename(fileName).replace(/[^\w.-]/g, "_") || "prog.c";
    const srcPath = join(work, srcName);
    const genPath = join(work, "tsbpf_generated.h");
    const outPath = join(work, "out.o");
    // The work directory is private (mkdtemp: 0700, in the checked cache);
    // O_EXCL all the same.
    writeFileSync(srcPath, translated, { flag: "wx" });
    writeFileSync(genPath, gen, { flag: "wx" });
    const flags = baseFlags();
    // clang runs in the work directory on the file's bare name, so line info
    // names the file as the user knows it; clang's BPF backend also reads the
    // source through that name to put each line's text in the BTF line info
    // (kernels before 6.x show only that text in verifier logs).
    const rest = [
      "-include",
      genPath,
      "-fdebug-compilation-dir=.",
      ...absoluteIncludes(cflags),
      "-c",
      srcName,
      "-o",
      outPath,
    ];
    // First against a vmlinux.h cut to the types this program names (fast),
    // then, if that fails, against the full header (through its PCH).
    const subsetDir = join(work, "kernel");
    mkdirSync(subsetDir);
    writeFileSync(
      join(subsetDir, "vmlinux.h"),
      withoutTypes(
        subsetVmlinuxHeader([translated, gen], HEADERS_DIR, rw.definedNames).header,
        rw.definedTypes,
      ).header,
      { flag: "wx" },
    );
    // The full vmlinux.h (for what the subset misses), without the types the
    // program defines itself: then a copy of its own, and no shared PCH.
    let fullDir: { dir: string; own: boolean } | undefined;
    const fullHeader = (): { dir: string; own: boolean } => {
      if (fullDir) return fullDir;
      const shared = vmlinuxDir();
      const header = readCached(join(shared, "vmlinux.h"));
      if (!header) throw new CacheError(join(shared, "vmlinux.h"), "it vanished while in use", "run again");
      const stripped = withoutTypes(header.toString("utf8"), rw.definedTypes);
      if (stripped.removed.length === 0) fullDir = { dir: shared, own: false };
      else {
        const dir = join(work, "kernel-full");
        mkdirSync(dir);
        writeFileSync(join(dir, "vmlinux.h"), stripped.header, { flag: "wx" });
        fullDir = { dir, own: true };
      }
      return fullDir;
    };
    // bcc's implicit kernel-memory reads (implicit_reads.ts): an AST pass over
    // the translated text with the compile's own headers, falling back to the
    // full vmlinux.h the same way. If it fails on the subset, so would the
    // compile: that then goes straight to the full header.
    let subsetFailed = false;
    if (needsImplicitReads(translated, rw.programs, recordPointers)) {
      const pass = (incs: string[]): ReturnType<typeof rewriteImplicitReads> =>
        rewriteImplicitReads({
          translated,
          clang,
          clangArgs: [...flags, ...incs, "-include", genPath, ...absoluteIncludes(cflags)],
          fileName,
          programs: rw.programs,
          srcPath,
          // The dump takes the waiting clang, and another starts for the compile that follows.
          prestarted: () => {
            const taken = warmClang;
            warmClang = prestartClang(clang, work);
            return taken;
          },
        });
      let ir = await pass([`-I${HEADERS_DIR}`, `-I${subsetDir}`]);
      if (ir.error !== undefined) {
        subsetFailed = true;
        ir = await pass([`-I${HEADERS_DIR}`, `-I${fullHeader().dir}`]);
      }
      if ((opts.debug ?? 0) & DEBUG_SOURCE) {
        if (!macrosStand()) return compile(opts, false);
        for (const n of ir.notes) process.stderr.write(`${n}\n`);
      }
      if (ir.rewrites > 0) {
        translated = ir.code;
        writeFileSync(srcPath, translated);
      }
    }
    if (debug & DEBUG_PREPROCESSOR) {
      if (!macrosStand()) return compile(opts, false);
      process.stderr.write(translated);
    }
    // The kernel's types have had their last reader (the bit-field widths of
    // the implicit reads): their index goes before clang runs, when a first
    // compile's memory peaks (1.7 MB lower, median of 9).
    releaseKernelTypes();
    let lastArgs: string[] = [];
    const clangRun = async (args: string[]) => {
      lastArgs = args;
      const warm = warmClang;
      warmClang = undefined;
      const r = await (warm ? warm.run(args) : runClang(clang, args, work));
      if (r.code === 0 || !onlyLibraryCalls(r.stderr)) return r;
      // A C library function called undeclared (sprintf, memset): bcc's clang only warns, and
      // clang makes it inline code or refuses it itself ("call to built-in function ... is not
      // supported"), so no unresolved extern is left for libbpf.
      lastArgs = args.flatMap((a) => (a === IMPLICIT_CALLS_ERROR ? [a, IMPLICIT_CALLS_WARNING] : [a]));
      const again = await runClang(clang, lastArgs, work);
      // A call clang could not make inline stays an extern: the first run's error says which.
      return again.code === 0 && !(await externCalls(outPath, r.stderr)) ? again : r;
    };
    let run = { code: 1, stdout: "", stderr: "" };
    if (!subsetFailed) {
      const running = clangRun([...flags, `-I${HEADERS_DIR}`, `-I${subsetDir}`, ...rest]);
      // The kernel macros are settled while clang runs.
      const stood = macrosStand();
      run = await running;
      if (!stood) return compile(opts, false);
    } else if (!macrosStand()) return compile(opts, false);
    if (run.code !== 0) {
      const { dir: fullIncludeDir, own } = fullHeader();
      const full = [`-I${HEADERS_DIR}`, `-I${fullIncludeDir}`, ...rest];
      const pch = cflags.length === 0 && !own ? await vmlinuxPch(clang, flags) : undefined;
      run = await clangRun([...flags, ...(pch ? ["-include-pch", pch] : []), ...full]);
      if (run.code !== 0 && pch && /precompiled header|PCH/i.test(run.stderr)) {
        run = await clangRun([...flags, ...full]);
      }
    }
    if (run.code !== 0) {
      // The kernel's BTF is read only on this path: the notes that name kernel drift.
      const { kernelDriftNotes } = await import("./kernel_drift.js");
      throw compileErrorFrom(run, srcName, fileName, opts.text, kernelDriftNotes);
    }
    const elf = readFileSync(outPath);
    const programs = withElfPrograms(rw.programs, elf);
    if (debug & (DEBUG_LLVM_IR | DEBUG_PREPROCESSOR)) await reportClang(clang, lastArgs, work, debug);
    if (debug & DEBUG_SOURCE) await reportSource(translated, elf);
    writeAtomic(objPath, elf);
    writeAtomic(
      metaPath,
      JSON.stringify({
        programs,
        maps: rw.maps,
        ringbufs: rw.ringbufs,
        translated,
        key: keyMaterial,
      }),
    );
    return {
      elf,
      programs,
      maps: rw.maps,
      ringbufs: rw.ringbufs,
      fileName,
      source: opts.text,
      translated,
      cached: false,
    };
  } catch (err) {
    // An error made with kernel macros that are not the program's is no answer.
    if (!macrosStand()) return compile(opts, false);
    throw err;
  } finally {
    releaseKernelTypes();
  }
}

/**
 * bcc's DEBUG_PREPROCESSOR (the clang command and the preprocessed text) and
 * DEBUG_LLVM_IR (the LLVM IR), from the compile that made the object: the
 * same arguments with -E, or -S -emit-llvm, instead of -c.
 */
async function reportClang(clang: Clang, args: string[], cwd: string, debug: number): Promise<void> {
  const { runClang } = await import("./clang.js");
  const c = args.indexOf("-c");
  const o = args.indexOf("-o");
  const src = args[c + 1] as string;
  const base = args.filter((_, i) => i !== c && i !== c + 1 && i !== o && i !== o + 1);
  if (debug & DEBUG_PREPROCESSOR) {
    process.stderr.write(`; clang (in ${cwd}): ${[clang.path, ...args].join(" ")}\n`);
    const pre = await runClang(clang, [...base, "-E", src, "-o", "-"], cwd);
    process.stderr.write(pre.code === 0 ? pre.stdout : `; clang -E failed:\n${pre.stderr}`);
  }
  if (debug & DEBUG_LLVM_IR) {
    const ir = await runClang(clang, [...base, "-S", "-emit-llvm", src, "-o", "-"], cwd);
    process.stderr.write(ir.code === 0 ? ir.stdout : `; clang -emit-llvm failed:\n${ir.stderr}`);
  }
}

/** bcc's DEBUG_SOURCE: the translated C, then the object's instructions with the source lines they come from. */
async function reportSource(translated: string, elf: Uint8Array): Promise<void> {
  const { disassemble } = await import("./disasm.js");
  process.stderr.write(translated);
  try {
    process.stderr.write(disassemble(elf));
  } catch (err) {
    process.stderr.write(`; no disassembly: ${(err as Error).message}\n`);
  }
}

/** The user's -I/-include paths made absolute (clang runs in the work directory). */
function absoluteIncludes(cflags: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < cflags.length; i++) {
    const f = cflags[i] as string;
    if (f.startsWith("-I") && f.length > 2) out.push(`-I${resolve(f.slice(2))}`);
    else if ((f === "-I" || f === "-include" || f === "-isystem") && i + 1 < cflags.length) {
      out.push(f, resolve(cflags[++i] as string));
    } else out.push(f);
  }
  return out;
}
