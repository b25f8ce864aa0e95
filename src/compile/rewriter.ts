/**
 * bcc dialect → libbpf-style C.
 *
 * Works on tokens (src/compile/tokenizer.ts), never on raw text, so comments,
 * strings and macros are never mistaken for code. Every edit keeps the user's
 * line numbers: text is only inserted or replaced on the lines it came from,
 * and generated programs are appended after a function's closing brace on the
 * same line, so clang's diagnostics and BTF line info point at the user's lines.
 */

import {
  type AttachKindName,
  attachKind,
  bccMacroPrefix,
  kindOfBccName,
  kindOfSection,
} from "../attach/kinds.js";
import { CompileError } from "../kernel/errors.js";
import {
  ALL_METHODS,
  MAP_MACROS,
  type MapDecl,
  MapType,
  mapDefinition,
  methodCall,
  methodsOf,
} from "./maps_dialect.js";
import { checkTracePrintk, decodeCStringLiteral } from "./printk_check.js";
import { significant, type Token, tokenize } from "./tokenizer.js";

/**
 * How a program is attached automatically at load: from its name (bcc's
 * prefixes) or its libbpf section (src/attach/kinds.ts).
 */
export interface AutoAttach {
  kind: AttachKindName;
  /** Kernel function, "category:event", raw (or BTF) tracepoint name, LSM hook, or "path:function" for uprobes. */
  target: string;
}

/** A BPF program found in the source: every non-static function definition. */
export interface ProgramInfo {
  /** The function's name as the user wrote it. */
  name: string;
  /** 1-based line of the definition. */
  line: number;
  /** Arguments declared after ctx (bcc maps them onto the probe's arguments). */
  declaredArgs: string[];
  /** Attached at load because of its name (kprobe__X, tracepoint__cat__ev, …). */
  autoAttach: AutoAttach | undefined;
  /**
   * Program names, in the ELF, of the same function compiled for another hook.
   * syscall__X functions get a "tracepoint" variant that reads the declared
   * arguments from syscalls:sys_enter_X.
   */
  variants: { tracepoint?: string };
  /** The ELF section name given to the program. */
  section: string;
}

/** The output of {@link rewriteBcc}. */
export interface RewriteResult {
  /** The translated C, line for line with the user's source. */
  code: string;
  programs: ProgramInfo[];
  /** Tracepoints whose args struct (`struct tracepoint__cat__ev`) the code uses. */
  tracepointStructs: Array<{ category: string; event: string }>;
  /** The source #defines KBUILD_MODNAME itself. */
  definesKbuildModname: boolean;
  /** The source declares its own license section (libbpf style). */
  hasLicenseSection: boolean;
  /** Maps declared with bcc's macros, in source order. */
  maps: MapDecl[];
  /** Ring buffer maps in the order of their wake-up threshold slots (see tsbpf/prelude.h). */
  ringbufs: string[];
  /**
   * Names the program defines at file scope (maps, functions, variables,
   * struct tags, typedefs): kernel types of the same name must stay out of
   * its vmlinux.h, or they would clash (vmlinux has e.g. `typedef … config`).
   */
  definedNames: string[];
  /**
   * The types the program defines at file scope, as "struct X", "union X",
   * "enum X" or "typedef X": the program's own definition wins over the
   * kernel's (kernel_types.ts withoutTypes), as it does with kernel headers,
   * where private structs (fs/mount.h's mnt_namespace) are not in any header.
   */
  definedTypes: string[];
}

/**
 * Headers that tsbpf ships as real headers. Every other kernel include is
 * covered by vmlinux.h (types) and the program's kernel macros (kernel_macros.ts,
 * whose shims are named after the headers they stand in for).
 */
export const SHIM_HEADERS = new Set(["bcc/proto.h", "bcc/helpers.h"]);

const KERNEL_INCLUDE =
  /^(linux|uapi|net|asm|asm-generic|bcc|trace|generated|xen|crypto|scsi|video|media|sound)\//;

interface Edit {
  start: number;
  end: number;
  text: string;
}

function fail(fileName: string, tok: Token, message: string): never {
  throw new CompileError(`${fileName}:${tok.line}:${tok.column}: error: ${message}`, [
    { file: fileName, line: tok.line, column: tok.column, severity: "error", message },
  ]);
}

/** Index of the token closing the bracket opened at sig[open]. */
function matchClose(sig: Token[], open: number): number {
  const o = sig[open]?.text;
  const c = o === "(" ? ")" : o === "{" ? "}" : "]";
  let depth = 0;
  for (let i = open; i < sig.length; i++) {
    const t = (sig[i] as Token).text;
    if ((sig[i] as Token).kind !== "punct") continue;
    if (t === o) depth++;
    else if (t === c) {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** Splits sig[from..to) at top-level commas. */
function splitArgs(sig: Token[], from: number, to: number): Token[][] {
  const out: Token[][] = [];
  let cur: Token[] = [];
  let depth = 0;
  for (let i = from; i < to; i++) {
    const t = sig[i] as Token;
    if (t.kind === "punct" && (t.text === "(" || t.text === "[" || t.text === "{")) depth++;
    if (t.kind === "punct" && (t.text === ")" || t.text === "]" || t.text === "}")) depth--;
    if (depth === 0 && t.kind === "punct" && t.text === ",") {
      out.push(cur);
      cur = [];
    } else cur.push(t);
  }
  if (cur.length > 0 || out.length > 0) out.push(cur);
  return out;
}

/**
 * The tokens' texts on one line: a space where the source has whitespace or
 * comments between them, line continuations inside a token removed.
 */
function joined(toks: Token[]): string {
  return toks
    .map((t, k) => {
      const text = t.text.replace(/\\\r?\n/g, "");
      return k > 0 && (toks[k - 1] as Token).end < t.start ? ` ${text}` : text;
    })
    .join("");
}

/** Source text spanning tokens a..b inclusive (with the whitespace between them). */
function spanText(src: string, a: Token, b: Token): string {
  return src.slice(a.start, b.end);
}

/** bcc's auto-attach rules for a function name. */
export function autoAttachFor(name: string): AutoAttach | undefined {
  return kindOfBccName(name);
}

/**
 * Translates bcc-dialect C into C that clang and libbpf accept, keeping line
 * numbers. `defines` are the program's -D flags (NAME to value), for a
 * BPF_TABLE whose type is a macro (`BPF_TABLE(MAPTYPE, ...)` with
 * `-DMAPTYPE="percpu_array"`), as the preprocessor would expand it for bcc.
 */
export function rewriteBcc(
  src: string,
  fileName = "<text>",
  defines: ReadonlyMap<string, string> = new Map(),
): RewriteResult {
  const all = tokenize(src);
  const sig = significant(all);
  const edits: Edit[] = [];
  const programs: ProgramInfo[] = [];
  const tpStructs = new Map<string, { category: string; event: string }>();
  let definesKbuildModname = false;
  let hasLicenseSection = false;

  // Preprocessor lines: includes and defines.
  for (const t of sig) {
    if (t.kind !== "pp") continue;
    const inc = /^#\s*include\s*[<"]([^>"]+)[>"]/.exec(t.text);
    if (inc) {
      const header = inc[1] as string;
      if (!SHIM_HEADERS.has(header) && KERNEL_INCLUDE.test(header)) {
        edits.push({
          start: t.start,
          end: t.end,
          // The directive may go on over continuation lines: keep them, as empty lines.
          text:
            `/* tsbpf: <${header}> is covered by vmlinux.h and tsbpf's kernel macros */` +
            "\n".repeat(t.text.split("\n").length - 1),
        });
      }
      continue;
    }
    if (/^#\s*define\s+KBUILD_MODNAME\b/.test(t.text)) definesKbuildModname = true;
  }

  // struct tracepoint__cat__ev used anywhere (bcc generates it on demand).
  for (let i = 0; i + 1 < sig.length; i++) {
    if ((sig[i] as Token).text !== "struct") continue;
    const m = /^tracepoint__(.+?)__(.+)$/.exec((sig[i + 1] as Token).text);
    if (m) tpStructs.set(`${m[1]}:${m[2]}`, { category: m[1] as string, event: m[2] as string });
  }

  // Map declarations: BPF_HASH(…); and friends at top level.
  const maps = collectMaps(src, sig, fileName, edits, objectMacros(sig, defines));
  const ringbufs = [...maps.values()].filter((m) => m.mapType === MapType.RINGBUF).map((m) => m.name);
  const bodies: Array<{ open: number; close: number }> = [];
  const inlineEdits: Edit[] = [];

  // Top-level function definitions.
  let depth = 0;
  let declStart = 0; // index in sig of the first token of the current top-level declaration
  for (let i = 0; i < sig.length; i++) {
    const t = sig[i] as Token;
    if (t.kind === "pp") {
      if (depth === 0) declStart = i + 1;
      continue;
    }
    // SEC("license") / __attribute__((section("license"))): the program sets its own license.
    if (t.kind === "string" && t.text === '"license"' && sig[i - 1]?.text === "(") {
      const fn = sig[i - 2]?.text;
      if (fn === "SEC" || fn === "section" || fn === "__section__") hasLicenseSection = true;
    }
    if (t.kind !== "punct") continue;
    if (t.text === "(" || t.text === "[") {
      depth++;
      continue;
    }
    if (t.text === ")" || t.text === "]") {
      depth--;
      continue;
    }
    if (t.text === "}") {
      depth--;
      if (depth === 0) declStart = i + 1;
      continue;
    }
    if (t.text === ";") {
      if (depth === 0) declStart = i + 1;
      continue;
    }
    if (t.text !== "{") continue;
    if (depth !== 0) {
      depth++;
      continue;
    }
    // A '{' at top level: a function body if the tokens before it end in ident ( ... ).
    const bodyOpen = i;
    const bodyClose = matchClose(sig, bodyOpen);
    if (bodyClose < 0) fail(fileName, t, "unbalanced '{': no matching '}'");
    const prev = sig[i - 1];
    if (prev?.text === ")") {
      const parenOpen = findOpenParen(sig, i - 1);
      const nameTok = sig[parenOpen - 1];
      if (parenOpen > 0 && nameTok?.kind === "ident") {
        handleFunction({
          src,
          sig,
          fileName,
          declStart,
          nameIdx: parenOpen - 1,
          parenOpen,
          parenClose: i - 1,
          bodyOpen,
          bodyClose,
          edits,
          programs,
          tpStructs,
          inlineEdits,
        });
      }
    }
    if (prev?.text === ")") bodies.push({ open: bodyOpen, close: bodyClose });
    // Skip the body: function bodies hold no top-level declarations.
    // (Struct/union/enum bodies at top level are skipped the same way.)
    i = bodyClose;
    depth = 0;
    // declStart moves past the body only for functions; a struct definition
    // continues until its ';'.
    if (prev?.text === ")") declStart = i + 1;
  }

  // bcc inlines static helpers into its programs; a libbpf-style file (every
  // program in a SEC() of its own, no bcc maps) is compiled as written.
  const libbpfStyle =
    maps.size === 0 &&
    programs.every((p) => !p.section.startsWith("tsbpf/")) &&
    sig.some((t) => t.kind === "ident" && t.text === "SEC");
  if (!libbpfStyle) edits.push(...inlineEdits);

  // Calls inside function bodies: bpf_trace_printk and map methods, nested ones included.
  const calls: CallCtx = {
    src,
    sig,
    fileName,
    maps,
    ringbufs,
    structs: topLevelTypes(sig),
    libbpfEvents: new Map(),
  };
  for (const b of bodies) {
    const open = sig[b.open] as Token;
    const close = sig[b.close] as Token;
    const first = sig[b.open + 1] as Token;
    const text =
      src.slice(open.end, Math.min(first.start, close.start)) + rewriteCalls(calls, b.open + 1, b.close);
    if (text !== src.slice(open.end, close.start)) edits.push({ start: open.end, end: close.start, text });
  }

  edits.sort((a, b) => b.start - a.start || b.end - a.end);
  let code = src;
  for (const e of edits) code = code.slice(0, e.start) + e.text + code.slice(e.end);
  // Anchors that put each perf/ring buffer's record type into the BTF
  // (libbpf skips the section; tsbpf reads the type to decode events).
  const anchors = [...maps.values()]
    .filter((m) => m.eventType !== undefined)
    .map((m) => `${m.eventType} *__tsbpf_type__${m.name} __attribute__((section(".tsbpf.types"), used));`);
  for (const [name, type] of calls.libbpfEvents)
    anchors.push(`${type} *__tsbpf_type__${name} __attribute__((section(".tsbpf.types"), used));`);
  // And every type the program defines at file scope, so that JS can decode
  // records of it that reach user space by other ways (an iterator's
  // bpf_seq_write, a value read with bpf_probe_read_user into a map).
  const anchored = new Set([...[...maps.values()].map((m) => m.eventType), ...calls.libbpfEvents.values()]);
  for (const [i, t] of [...calls.structs].filter((x) => !anchored.has(x)).entries())
    anchors.push(`${t} *__tsbpf_type__defined_${i} __attribute__((section(".tsbpf.types"), used));`);
  if (anchors.length > 0) code += `\n${anchors.join("\n")}\n`;
  return {
    code,
    programs,
    tracepointStructs: [...tpStructs.values()],
    definesKbuildModname,
    hasLicenseSection,
    maps: [...maps.values()],
    ringbufs,
    definedNames: [...definedNames(sig, maps)],
    definedTypes: definedTypes(sig),
  };
}

function findOpenParen(sig: Token[], close: number): number {
  let depth = 0;
  for (let k = close; k >= 0; k--) {
    const x = sig[k] as Token;
    if (x.kind !== "punct") continue;
    if (x.text === ")") depth++;
    else if (x.text === "(") {
      depth--;
      if (depth === 0) return k;
    }
  }
  return -1;
}

interface FunctionCtx {
  src: string;
  sig: Token[];
  fileName: string;
  declStart: number;
  nameIdx: number;
  parenOpen: number;
  parenClose: number;
  bodyOpen: number;
  bodyClose: number;
  edits: Edit[];
  programs: ProgramInfo[];
  tpStructs: Map<string, { category: string; event: string }>;
  /** always_inline for static helpers: applied unless the file is libbpf-style. */
  inlineEdits: Edit[];
}

/** bcc's BPF_PROG-style probe macros → the prefix of the function they define. */
function sectionAttr(name: string): string {
  return `__attribute__((section("tsbpf/${name}"), used)) `;
}

function handleFunction(f: FunctionCtx): void {
  const { src, sig, edits } = f;
  const nameTok = sig[f.nameIdx] as Token;
  const specifiers = sig.slice(f.declStart, f.nameIdx);
  const macroArgs = splitArgs(sig, f.parenOpen + 1, f.parenClose).map((a) => a.map((x) => x.text).join(""));

  // bcc's probe macros: no return type, the macro name takes its place.
  if (specifiers.length === 0 && nameTok.text === "TRACEPOINT_PROBE") {
    if (macroArgs.length !== 2) fail(f.fileName, nameTok, "TRACEPOINT_PROBE takes (category, event)");
    const [category, event] = macroArgs as [string, string];
    const name = `tracepoint__${category}__${event}`;
    f.tpStructs.set(`${category}:${event}`, { category, event });
    edits.push({
      start: nameTok.start,
      end: (sig[f.parenClose] as Token).end,
      text: `${sectionAttr(name)}int ${name}(struct ${name} *args)`,
    });
    f.programs.push(program(name, nameTok.line, [], name));
    return;
  }
  if (specifiers.length === 0 && nameTok.text === "RAW_TRACEPOINT_PROBE") {
    if (macroArgs.length !== 1) fail(f.fileName, nameTok, "RAW_TRACEPOINT_PROBE takes (event)");
    const name = `raw_tracepoint__${macroArgs[0]}`;
    edits.push({
      start: nameTok.start,
      end: (sig[f.parenClose] as Token).end,
      text: `${sectionAttr(name)}int ${name}(struct bpf_raw_tracepoint_args *ctx)`,
    });
    f.programs.push(program(name, nameTok.line, [], name));
    return;
  }
  if (specifiers.length === 0 && nameTok.text === "BPF_ITER") {
    // bcc's BPF_ITER(target): an iterator program over the kernel's <target> objects, its context struct bpf_iter__<target>.
    const target = splitArgs(sig, f.parenOpen + 1, f.parenClose)[0];
    const tok = target?.[0];
    if (target?.length !== 1 || tok?.kind !== "ident")
      fail(f.fileName, nameTok, "BPF_ITER takes (target), e.g. BPF_ITER(task)");
    const name = `bpf_iter__${tok.text}`;
    edits.push({
      start: nameTok.start,
      end: (sig[f.parenClose] as Token).end,
      text: `${sectionAttr(name)}int ${name}(struct bpf_iter__${tok.text} *ctx)`,
    });
    f.programs.push(program(name, nameTok.line, [], name));
    return;
  }
  if (
    specifiers.length === 0 &&
    (nameTok.text === "MODULE_KFUNC_PROBE" || nameTok.text === "MODULE_KRETFUNC_PROBE")
  ) {
    // bcc's MODULE_KFUNC_PROBE(module, fn, args…): kfunc__<module>__<fn>, a function of a kernel module's BTF.
    const [mod, fn] = splitArgs(sig, f.parenOpen + 1, f.parenClose);
    const m = mod?.[0];
    const fnTok = fn?.[0];
    if (mod?.length !== 1 || fn?.length !== 1 || m?.kind !== "ident" || fnTok?.kind !== "ident")
      fail(f.fileName, nameTok, `${nameTok.text} takes (module, function, typed arguments…)`);
    const name = `${nameTok.text === "MODULE_KFUNC_PROBE" ? "kfunc__" : "kretfunc__"}${m.text}__${fnTok.text}`;
    const spanned = src.slice(nameTok.start, fnTok.end).split("\n").length - 1;
    edits.push({
      start: nameTok.start,
      end: fnTok.end,
      text: `${sectionAttr(name)}int BPF_PROG(${name}${"\n".repeat(spanned)}`,
    });
    f.programs.push(program(name, nameTok.line, [], name));
    return;
  }
  // KFUNC_PROBE(fn, args…), KRETFUNC_PROBE(fn, args…, ret), KMOD_RET(fn, args…, ret), LSM_PROBE(hook, args…),
  // BTF_TRACEPOINT_PROBE(event, args…): libbpf's BPF_PROG, typed arguments from the
  // BTF context, in a function named after the macro and its first argument.
  const btfPrefix = specifiers.length === 0 ? bccMacroPrefix(nameTok.text) : undefined;
  if (btfPrefix !== undefined) {
    const target = splitArgs(sig, f.parenOpen + 1, f.parenClose)[0];
    const tok = target?.[0];
    if (target?.length !== 1 || tok?.kind !== "ident")
      fail(
        f.fileName,
        nameTok,
        `${nameTok.text} takes (${nameTok.text === "LSM_PROBE" ? "hook" : "function"}, typed arguments…)`,
      );
    const name = `${btfPrefix}${tok.text}`;
    const spanned = src.slice(nameTok.start, tok.end).split("\n").length - 1;
    edits.push({
      start: nameTok.start,
      end: tok.end,
      text: `${sectionAttr(name)}int BPF_PROG(${name}${"\n".repeat(spanned)}`,
    });
    f.programs.push(program(name, nameTok.line, [], name));
    return;
  }
  if (specifiers.length === 0) return; // a macro invocation followed by a block: not ours to judge
  const specTexts = specifiers.map((s) => s.text);
  if (specTexts.includes("static") || specTexts.includes("inline") || specTexts.includes("__always_inline")) {
    // A helper function, inlined into its callers as bcc does (its programs
    // were written for it: a string constant passed to a helper is then
    // folded into the caller instead of being read from .rodata, and older
    // kernels have no BPF-to-BPF calls). An explicit noinline is kept.
    const inlining = specTexts.some((t) => /^(__always_inline|always_inline|noinline|__noinline)$/.test(t));
    if (!inlining && !specTexts.includes("typedef") && !specTexts.includes("extern")) {
      const first = specifiers[0] as Token;
      f.inlineEdits.push({ start: first.start, end: first.start, text: "__attribute__((always_inline)) " });
    }
    return;
  }
  if (specTexts.includes("typedef") || specTexts.includes("extern")) return;

  const name = nameTok.text;
  const first = specifiers[0] as Token;
  const hasSection =
    specTexts.includes("SEC") || specTexts.includes("section") || specTexts.includes("__section");
  const params = splitArgs(sig, f.parenOpen + 1, f.parenClose);
  const isVoidParams = params.length === 1 && params[0]?.length === 1 && params[0][0]?.text === "void";
  const declared = isVoidParams ? [] : params.slice(1);

  if (hasSection) {
    // libbpf style: the section is the user's; keep the function as it is.
    const sec = /SEC\s*\(\s*"([^"]*)"/.exec(spanText(src, first, nameTok));
    // libbpf's BPF_PROG(name, …), BPF_KPROBE(name, …), …: the program is the macro's first argument.
    const progName =
      /^BPF_(PROG2?|KPROBE|KRETPROBE|KSYSCALL|KPROBE_SYSCALL|UPROBE|URETPROBE|USDT)$/.test(name) &&
      /^[A-Za-z_]\w*$/.test(macroArgs[0] ?? "")
        ? (macroArgs[0] as string)
        : name;
    const section = sec?.[1] ?? "";
    const fromSection = kindOfSection(section);
    f.programs.push({
      ...program(progName, nameTok.line, [], progName),
      section,
      autoAttach: fromSection && attachKind(fromSection.kind).sectionAttaches ? fromSection : undefined,
    });
    return;
  }

  if (declared.length === 0) {
    edits.push({ start: first.start, end: first.start, text: sectionAttr(name) });
    f.programs.push(program(name, nameTok.line, [], name));
    return;
  }

  // Declared probe arguments: the body becomes an always-inline function that
  // takes them, and the program (appended after the body, on the same line)
  // reads them from the probe's registers and calls it.
  if (declared.length > 6)
    fail(
      f.fileName,
      nameTok,
      `${name} declares ${declared.length} arguments after ctx; at most 6 fit in registers`,
    );
  const ctxParam = params[0] as Token[];
  const ctxName = lastIdent(ctxParam);
  if (!ctxName)
    fail(
      f.fileName,
      nameTok,
      `the first parameter of ${name} must be the context (e.g. struct pt_regs *ctx)`,
    );
  const argTypes = declared.map((p) => {
    const id = lastIdent(p);
    if (!id || p.length < 2)
      fail(f.fileName, p[0] ?? nameTok, `cannot read the type of a parameter of ${name}`);
    const idIdx = p.indexOf(id);
    return { type: joined(p.slice(0, idIdx)), name: id.text };
  });
  // Types are copied into the program appended on the closing brace's line: as
  // their tokens on one line (the text as written may span lines and hold comments).
  const retType = joined(specifiers);
  const isVoid = retType.trim() === "void";
  const inner = `____${name}`;
  const ctxType = joined(ctxParam);
  const isSyscall = name.startsWith("syscall__");
  const call = (argExprs: string[]): string =>
    isVoid
      ? `${inner}(${[ctxName.text, ...argExprs].join(", ")}); return 0;`
      : `return ${inner}(${[ctxName.text, ...argExprs].join(", ")});`;
  const kprobeArgs = argTypes.map(
    (a, k) =>
      `(${a.type})${isSyscall ? "__TSBPF_SYSCALL_ARG" : "__TSBPF_KPROBE_ARG"}${k + 1}(${ctxName.text})`,
  );
  const progRet = isVoid ? "int" : retType;
  let appended = ` ${sectionAttr(name)}${progRet} ${name}(${ctxType}) { ${call(kprobeArgs)} }`;
  const variants: { tracepoint?: string } = {};
  if (isSyscall) {
    const tpName = `${name}__tp`;
    variants.tracepoint = tpName;
    const tpArgs = argTypes.map((a, k) => `(${a.type})__TSBPF_TP_SYSCALL_ARG(${ctxName.text}, ${k})`);
    appended +=
      ` ${sectionAttr(tpName)}${progRet} ${tpName}(void *${ctxName.text}__raw)` +
      ` { void *${ctxName.text} = ${ctxName.text}__raw; ${call(tpArgs)} }`;
  }
  edits.push({ start: first.start, end: first.start, text: "static __always_inline " });
  edits.push({ start: nameTok.start, end: nameTok.end, text: inner });
  const closeTok = sig[f.bodyClose] as Token;
  edits.push({ start: closeTok.end, end: closeTok.end, text: appended });
  f.programs.push({
    ...program(
      name,
      nameTok.line,
      argTypes.map((a) => a.name),
      name,
    ),
    variants,
  });
}

function program(name: string, line: number, declaredArgs: string[], section: string): ProgramInfo {
  return {
    name,
    line,
    declaredArgs,
    autoAttach: autoAttachFor(name),
    variants: {},
    section: `tsbpf/${section}`,
  };
}

function lastIdent(toks: Token[]): Token | undefined {
  for (let k = toks.length - 1; k >= 0; k--) {
    const t = toks[k] as Token;
    if (t.kind === "ident") return t;
    if (t.kind === "punct" && t.text === "]") {
      // char buf[16]: the identifier is before the brackets
      while (k > 0 && (toks[k] as Token).text !== "[") k--;
    }
  }
  return undefined;
}

interface CallCtx {
  src: string;
  sig: Token[];
  fileName: string;
  maps: Map<string, MapDecl>;
  ringbufs: string[];
  /** struct/union tags and typedef names defined at top level of the source. */
  structs: Set<string>;
  /** Record types of BTF-defined (libbpf-style) buffers, from their helper calls. */
  libbpfEvents: Map<string, string>;
}

/**
 * libbpf's buffer helpers, as the bcc method whose arguments they carry
 * (and how to pick those arguments from the helper's): the map is `&NAME`.
 */
const LIBBPF_SUBMITS: Record<string, { method: string; map: number; pick: number[] }> = {
  bpf_ringbuf_reserve: { method: "ringbuf_reserve", map: 0, pick: [1, 2] },
  bpf_ringbuf_output: { method: "ringbuf_output", map: 0, pick: [1, 2, 3] },
  bpf_perf_event_output: { method: "perf_submit", map: 1, pick: [0, 3, 4] },
};

/** Text of sig[from..to) with bcc's call rewrites applied, nested calls first. */
function rewriteCalls(c: CallCtx, from: number, to: number): string {
  const { src, sig } = c;
  if (from >= to) return "";
  let out = "";
  let cursor = (sig[from] as Token).start;
  const end = (sig[to] as Token | undefined)?.start ?? src.length;
  for (let i = from; i < to; i++) {
    const t = sig[i] as Token;
    // bpf_trace_printk("literal", …)
    if (
      t.kind === "ident" &&
      t.text === "bpf_trace_printk" &&
      sig[i + 1]?.text === "(" &&
      !isMember(sig, i)
    ) {
      const close = matchClose(sig, i + 1);
      if (close < 0 || close >= to) fail(c.fileName, t, "unbalanced '(' in bpf_trace_printk call");
      const args = splitArgs(sig, i + 2, close);
      const fmtToks = args[0] ?? [];
      if (fmtToks.length > 0 && fmtToks.every((x) => x.kind === "string")) {
        let fmt = "";
        try {
          fmt = decodeCStringLiteral(fmtToks.map((x) => x.text).join(" "));
        } catch (err) {
          // An unterminated literal (the tokenizer ends it at the end of the line).
          fail(
            c.fileName,
            fmtToks[0] as Token,
            `bad format string for bpf_trace_printk: ${(err as Error).message}`,
          );
        }
        const problem = checkTracePrintk(fmt, args.length - 1);
        if (problem) fail(c.fileName, t, problem);
        const lastFmt = fmtToks[fmtToks.length - 1] as Token;
        const lastFmtIdx = sig.indexOf(lastFmt);
        out += src.slice(cursor, t.start);
        out +=
          `({ char ____fmt[] = ${spanText(src, fmtToks[0] as Token, lastFmt)}; ` +
          `bpf_trace_printk(____fmt, sizeof(____fmt)${gapAndRewrite(c, lastFmtIdx + 1, close)}); })`;
        cursor = (sig[close] as Token).end;
        i = close;
        continue;
      }
    }
    // bpf_ringbuf_reserve(&events, sizeof(*e), 0) and the like on a
    // BTF-defined map: only noted (the record type, for JS to decode), not rewritten.
    const submit = t.kind === "ident" && sig[i + 1]?.text === "(" ? LIBBPF_SUBMITS[t.text] : undefined;
    if (submit && !isMember(sig, i)) {
      const close = matchClose(sig, i + 1);
      if (close > 0 && close < to) {
        const argRanges = splitRanges(sig, i + 2, close);
        const mapArg = argRanges[submit.map];
        const mapName =
          mapArg && mapArg[1] - mapArg[0] === 2 && sig[mapArg[0]]?.text === "&"
            ? sig[mapArg[0] + 1]?.text
            : undefined;
        if (mapName && !c.maps.has(mapName) && !c.libbpfEvents.has(mapName)) {
          const picked = submit.pick
            .map((k) => argRanges[k])
            .filter((r): r is [number, number] => r !== undefined);
          const type = eventTypeOf(c, submit.method, picked, i);
          if (type) c.libbpfEvents.set(mapName, type);
        }
      }
    }
    // map.method(…)
    if (
      t.kind === "ident" &&
      sig[i + 1]?.text === "." &&
      sig[i + 2]?.kind === "ident" &&
      sig[i + 3]?.text === "(" &&
      !isMember(sig, i) &&
      (c.maps.has(t.text) || ALL_METHODS.has((sig[i + 2] as Token).text))
    ) {
      const method = (sig[i + 2] as Token).text;
      const m = c.maps.get(t.text);
      if (!m) {
        fail(
          c.fileName,
          t,
          `${t.text}.${method}(): ${t.text} is not a map; declare it with BPF_HASH, BPF_ARRAY, BPF_PERF_OUTPUT, … before use`,
        );
      }
      if (!methodsOf(m.mapType).includes(method)) {
        const has = methodsOf(m.mapType);
        fail(
          c.fileName,
          sig[i + 2] as Token,
          `${m.name} is a ${m.tableType} map and has no method ${method}()` +
            (has.length ? `; its methods are ${has.join(", ")}` : ""),
        );
      }
      const close = matchClose(sig, i + 3);
      if (close < 0 || close >= to) fail(c.fileName, t, `unbalanced '(' in ${t.text}.${method}( call`);
      const argRanges = splitRanges(sig, i + 4, close);
      const args = argRanges.map(([a, b]) => rewriteCalls(c, a, b).trim());
      if (
        m.eventType === undefined &&
        ["perf_submit", "perf_submit_skb", "ringbuf_output", "ringbuf_reserve"].includes(method)
      ) {
        m.eventType = eventTypeOf(c, method, argRanges, i);
      }
      const call = methodCall(m, method, args, (name) => c.ringbufs.indexOf(name));
      if (typeof call !== "string") fail(c.fileName, t, call.error);
      out += src.slice(cursor, t.start) + call;
      // Keep line numbers: the call may have spanned lines.
      const spanned = src.slice(t.start, (sig[close] as Token).end).split("\n").length - 1;
      out += "\n".repeat(spanned);
      cursor = (sig[close] as Token).end;
      i = close;
    }
  }
  return out + src.slice(cursor, end);
}

/** The source between sig[from] and sig[to] (exclusive), calls rewritten, keeping the leading gap. */
function gapAndRewrite(c: CallCtx, from: number, to: number): string {
  if (from >= to) return c.src.slice((sig(c, from - 1) as Token).end, (sig(c, to) as Token).start);
  const lead = c.src.slice((sig(c, from - 1) as Token).end, (sig(c, from) as Token).start);
  return lead + rewriteCalls(c, from, to);
}

function sig(c: CallCtx, i: number): Token | undefined {
  return c.sig[i];
}

/** True when sig[i] is reached through `.` or `->` (a member, not a name of its own). */
function isMember(s: Token[], i: number): boolean {
  const p = s[i - 1]?.text;
  return p === "." || p === "->";
}

/** Index ranges [from, to) of the top-level comma-separated arguments in sig[from..to). */
function splitRanges(s: Token[], from: number, to: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = from;
  let depth = 0;
  for (let i = from; i < to; i++) {
    const t = s[i] as Token;
    if (t.kind !== "punct") continue;
    if (t.text === "(" || t.text === "[" || t.text === "{") depth++;
    else if (t.text === ")" || t.text === "]" || t.text === "}") depth--;
    else if (t.text === "," && depth === 0) {
      out.push([start, i]);
      start = i + 1;
    }
  }
  if (to > from) out.push([start, to]);
  return out;
}

/** struct/union tags and typedef names defined at the top level of the source. */
function topLevelTypes(s: Token[]): Set<string> {
  const out = new Set<string>();
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const t = s[i] as Token;
    if (t.text === "{") depth++;
    else if (t.text === "}") depth--;
    if (depth !== 0) continue;
    if ((t.text === "struct" || t.text === "union") && s[i + 1]?.kind === "ident" && s[i + 2]?.text === "{") {
      out.add(`${t.text} ${(s[i + 1] as Token).text}`);
    }
    if (t.text === "typedef") {
      // the typedef name is the last identifier before the ';' at this level
      let d = 0;
      for (let k = i + 1; k < s.length; k++) {
        const x = s[k] as Token;
        if (x.text === "{" || x.text === "(") d++;
        else if (x.text === "}" || x.text === ")") d--;
        else if (x.text === ";" && d === 0) {
          const name = s[k - 1];
          if (name?.kind === "ident") out.add(name.text);
          break;
        }
      }
    }
  }
  return out;
}

const SCALARS =
  /^(u8|u16|u32|u64|s8|s16|s32|s64|__u8|__u16|__u32|__u64|__s8|__s16|__s32|__s64|int|long|char|short|unsigned( int| long| char)?)$/;

/**
 * The C type of the records a submit call sends, from `sizeof(T)` or from
 * the declaration of the variable it passes (`&data`, or a pointer `data`).
 * Only types defined at the top level (or scalars) qualify: the anchor
 * that records the type lives at file scope.
 */
function eventTypeOf(
  c: CallCtx,
  method: string,
  args: Array<[number, number]>,
  callIdx: number,
): string | undefined {
  const { sig: s } = c;
  const text = (r: [number, number] | undefined): string =>
    r
      ? s
          .slice(r[0], r[1])
          .map((t) => t.text)
          .join(" ")
      : "";
  const usable = (type: string): string | undefined => {
    const ty = type.replace(/\s+/g, " ").trim();
    return c.structs.has(ty) || SCALARS.test(ty) ? ty : undefined;
  };
  // perf_submit_skb(ctx, pkt_size, data, size): the record is data, then the packet's bytes.
  const [dataAt, sizeAt] =
    method === "perf_submit"
      ? [1, 2]
      : method === "perf_submit_skb"
        ? [2, 3]
        : method === "ringbuf_output"
          ? [0, 1]
          : [0, 0];
  const sizeArg = args[sizeAt];
  const sz = /^sizeof \( (.*) \)$/.exec(text(sizeArg));
  if (sz) {
    const inner = (sz[1] as string).trim();
    const direct = usable(inner);
    if (direct) return direct;
    const deref = /^\* (\w+)$/.exec(inner);
    const varName = deref ? deref[1] : /^\w+$/.test(inner) ? inner : undefined;
    if (varName) {
      const decl = declaredType(s, varName, callIdx);
      if (decl) return usable(deref ? decl.replace(/\s*\*$/, "") : decl);
    }
  }
  if (method === "ringbuf_reserve") return undefined;
  const dataArg = text(args[dataAt]);
  const addr = /^& (\w+)$/.exec(dataArg);
  if (addr) {
    const decl = declaredType(s, addr[1] as string, callIdx);
    return decl ? usable(decl) : undefined;
  }
  if (/^\w+$/.test(dataArg)) {
    const decl = declaredType(s, dataArg, callIdx);
    if (decl?.endsWith("*")) return usable(decl.slice(0, -1));
  }
  return undefined;
}

/** The declared type text of variable `name`, searching backwards from sig[before]. */
function declaredType(s: Token[], name: string, before: number): string | undefined {
  for (let k = before - 1; k > 0; k--) {
    const t = s[k] as Token;
    if (t.kind !== "ident" || t.text !== name) continue;
    const next = s[k + 1]?.text;
    if (next !== "=" && next !== ";" && next !== "[" && next !== "," && next !== ")") continue;
    const typeToks: string[] = [];
    for (let j = k - 1; j >= 0; j--) {
      const x = s[j] as Token;
      if (x.kind === "ident" || x.text === "*") typeToks.unshift(x.text);
      else break;
    }
    const cleaned = typeToks.filter(
      (x) => x !== "const" && x !== "volatile" && x !== "static" && x !== "register",
    );
    // `sizeof(*e)` or `(*e)` is a use of e, not its declaration: a type has a name
    if (!cleaned.some((x) => x !== "*")) continue;
    return cleaned.join(" ").replace(/ \*/g, " *").replace(/\* /g, "*");
  }
  return undefined;
}

/** Object-like macros: the -D flags, then the source's own #defines (a later one wins, as in C). */
function objectMacros(sig: Token[], flags: ReadonlyMap<string, string>): Map<string, string> {
  const macros = new Map(flags);
  for (const t of sig) {
    if (t.kind !== "pp") continue;
    const m = /^#\s*define\s+([A-Za-z_]\w*)(?:\s+(.*?))?\s*$/s.exec(t.text);
    if (m) macros.set(m[1] as string, (m[2] ?? "").replace(/\\\r?\n/g, " ").trim());
    const u = /^#\s*undef\s+([A-Za-z_]\w*)/.exec(t.text);
    if (u) macros.delete(u[1] as string);
  }
  return macros;
}

/** A BPF_TABLE type given as a macro name, expanded (a few levels) as the preprocessor would. */
function expandTableType(arg: string, macros: ReadonlyMap<string, string>): string {
  let text = arg.trim();
  for (let i = 0; i < 8 && /^[A-Za-z_]\w*$/.test(text) && macros.has(text); i++)
    text = macros.get(text) as string;
  return text;
}

/** Finds and translates bcc's map declarations; returns them by name. */
function collectMaps(
  src: string,
  s: Token[],
  fileName: string,
  edits: Edit[],
  macros: ReadonlyMap<string, string>,
): Map<string, MapDecl> {
  const maps = new Map<string, MapDecl>();
  const sites: Array<{ decl: MapDecl; start: number; end: number }> = [];
  // Where each declaration sits in #if/#elif/#else branches ("<#if number>:<branch>"), so
  // that bcc code declaring a map once per branch (#ifdef USE_ARRAY … #else … #endif) is
  // not taken for a duplicate: the preprocessor keeps one of them.
  const conditionals: Array<{ id: number; branch: number }> = [];
  let nextConditional = 0;
  const branchesOf = new Map<string, string[][]>();
  const exclusive = (a: string[], b: string[]): boolean =>
    a.some((x) => {
      const [id, branch] = x.split(":");
      return b.some((y) => y.startsWith(`${id}:`) && y.split(":")[1] !== branch);
    });
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const t = s[i] as Token;
    if (t.kind === "pp") {
      const directive = /^#\s*(\w+)/.exec(t.text)?.[1];
      if (directive === "if" || directive === "ifdef" || directive === "ifndef")
        conditionals.push({ id: nextConditional++, branch: 0 });
      else if ((directive === "elif" || directive === "else") && conditionals.length)
        (conditionals[conditionals.length - 1] as { branch: number }).branch++;
      else if (directive === "endif") conditionals.pop();
      continue;
    }
    if (t.kind === "punct" && (t.text === "{" || t.text === "(")) depth++;
    else if (t.kind === "punct" && (t.text === "}" || t.text === ")")) depth--;
    if (depth !== 0 || t.kind !== "ident" || s[i + 1]?.text !== "(") continue;
    const build = MAP_MACROS[t.text];
    if (!build) continue;
    const close = matchClose(s, i + 1);
    if (close < 0) fail(fileName, t, `unbalanced '(' in ${t.text}`);
    // A declaration missing its ';': clang would point at the next line's first token.
    const after = s[close + 1];
    const closeTok = s[close] as Token;
    if (after && after.text !== ";" && after.kind !== "pp" && after.line > closeTok.line)
      fail(fileName, { ...closeTok, column: closeTok.column + 1 }, `expected ';' after ${t.text}(...)`);
    const args = splitArgs(s, i + 2, close).map((a) =>
      a.length ? spanText(src, a[0] as Token, a[a.length - 1] as Token) : "",
    );
    if (t.text.startsWith("BPF_TABLE") && args[0] !== undefined) args[0] = expandTableType(args[0], macros);
    const built = build(args);
    if (typeof built === "string") fail(fileName, t, built);
    if (built.mapType === 0) fail(fileName, t, `unknown table type "${built.tableType}" in ${t.text}`);
    if (!/^[A-Za-z_]\w*$/.test(built.name)) fail(fileName, t, `"${built.name}" is not a valid map name`);
    const path = conditionals.map((c) => `${c.id}:${c.branch}`);
    const earlier = branchesOf.get(built.name) ?? [];
    if (earlier.some((p) => !exclusive(p, path))) fail(fileName, t, `map ${built.name} is declared twice`);
    branchesOf.set(built.name, [...earlier, path]);
    const decl: MapDecl = { ...built, line: t.line };
    if (!maps.has(decl.name)) maps.set(decl.name, decl); // the first branch's types drive the rewrites
    sites.push({ decl, start: t.start, end: (s[close] as Token).end });
    i = close;
  }
  for (const site of sites) {
    if (site.decl.inner !== undefined && !maps.has(site.decl.inner)) {
      const tok = s.find((x) => x.start === site.start) as Token;
      fail(
        fileName,
        tok,
        `${site.decl.name}: inner map ${site.decl.inner} is not declared (declare it before)`,
      );
    }
    const spanned = src.slice(site.start, site.end).split("\n").length - 1;
    edits.push({
      start: site.start,
      end: site.end,
      text: mapDefinition(site.decl, maps) + "\n".repeat(spanned),
    });
  }
  return maps;
}

/** Types defined at file scope: "struct X", "union X", "enum X" (with a body) and "typedef X". */
function definedTypes(s: Token[]): string[] {
  const out = new Set<string>();
  for (const t of topLevelTypes(s)) out.add(t.includes(" ") ? t : `typedef ${t}`);
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const t = s[i] as Token;
    if (t.text === "{") depth++;
    else if (t.text === "}") depth--;
    else if (depth === 0 && t.text === "enum" && s[i + 1]?.kind === "ident" && s[i + 2]?.text === "{")
      out.add(`enum ${(s[i + 1] as Token).text}`);
  }
  return [...out];
}

/** Names defined at file scope: maps, functions, variables, struct/union/enum tags and typedefs. */
function definedNames(s: Token[], maps: Map<string, MapDecl>): Set<string> {
  const out = new Set<string>(maps.keys());
  for (const t of topLevelTypes(s)) out.add(t.replace(/^(struct|union) /, ""));
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const t = s[i] as Token;
    if (t.kind === "punct" && (t.text === "{" || t.text === "(" || t.text === "[")) depth++;
    else if (t.kind === "punct" && (t.text === "}" || t.text === ")" || t.text === "]")) depth--;
    if (depth !== 0 || t.kind !== "ident") continue;
    const next = s[i + 1]?.text;
    const prev = s[i - 1];
    // a declarator: preceded by a type-ish token, followed by ( = ; [ or ,
    const declarator = prev !== undefined && (prev.kind === "ident" || prev.text === "*");
    if (declarator && (next === "(" || next === "=" || next === ";" || next === "[" || next === ","))
      out.add(t.text);
    if (t.text === "enum" && s[i + 1]?.kind === "ident") out.add((s[i + 1] as Token).text);
  }
  // Keywords and types that precede declarators are not names the program defines.
  for (const k of ["struct", "union", "enum", "static", "const", "volatile", "inline", "extern", "SEC"])
    out.delete(k);
  return out;
}
