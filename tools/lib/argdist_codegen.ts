/**
 * The bcc-dialect C program of an argdist run: per specifier, a map (a hash
 * of struct keys counted for -C, a log2 histogram for -H), the probe
 * function, and for return probes that use `$entry(param)` or `$latency` an
 * entry probe saving the parameters and the time per thread. Pure.
 */
import { type ArgdistSpec, isStringType } from "./argdist_spec.js";

/** What the generated program is filtered by and how big its strings are. */
export interface CodegenOptions {
  /** -p: the process (tgid) to trace. */
  pid?: number;
  /** -t: the thread to trace. */
  tid?: number;
  /** -z: the longest string a char* key holds (bcc: 80). */
  stringSize: number;
  /** -I: headers to include. */
  includes: string[];
  /** --cgroup: a `cgroup_map` array filters by the current task's cgroup. */
  cgroup: boolean;
  /** u: the C type of argument n (from 1) of specifier i, from the probe's USDT note. */
  usdtArgType?: (spec: number, n: number) => string;
}

/** The names a probe's program and map have in the generated text. */
export interface ProbeNames {
  /** The probe's function (attached to the function's entry, return, or the tracepoint). */
  fn: string;
  /** The entry probe saving $entry/$latency values for a return probe, if it needs one. */
  entryFn: string | undefined;
  /** The map read at each interval (freq: struct key → count; hist: slot → count). */
  map: string;
}

export function probeNames(i: number, s: ArgdistSpec): ProbeNames {
  return {
    fn: `argdist_probe${i}`,
    entryFn: needsEntry(s) ? `argdist_probe${i}_entry` : undefined,
    map: `argdist_hash${i}`,
  };
}

/** A return probe that reads entry values needs an entry probe too. */
export function needsEntry(s: ArgdistSpec): boolean {
  return s.type === "r" && (s.latency || s.entryParams.length > 0);
}

/**
 * bcc's `STRCMP("literal", expr)` (true when the string at expr is the
 * literal): each becomes a call of a generated comparison, its definition
 * added to `helpers`. The string is read as a string key is, one byte
 * longer than the literal (a read truncated to the literal's length would
 * make every longer string equal to it).
 */
function rewriteStrcmp(expr: string, user: boolean, helpers: string[]): string {
  return expr.replace(
    /STRCMP\(\s*"((?:[^"\\]|\\.)*)"\s*,\s*([^()]*(?:\([^()]*\)[^()]*)*)\)/g,
    (_m, lit: string, arg: string) => {
      const bytes = [...Buffer.from(JSON.parse(`"${lit}"`) as string, "utf8")];
      const name = `argdist_streq${helpers.length}`;
      const cmp = bytes.map((b, i) => `  if (s[${i}] != ${b}) return 0;\n`).join("");
      helpers.push(
        `static __always_inline int ${name}(const void *p) {\n  char s[${bytes.length + 2}] = {};\n${stringRead("s", "p", user)}${cmp}  return s[${bytes.length}] == 0;\n}\n`,
      );
      return `${name}((const void *)(${arg.trim()}))`;
    },
  );
}

/** The expression with bcc's aliases ($PID, $retval, $entry(x), $latency) made C. */
function substitute(expr: string): string {
  return expr
    .replace(/\$entry\((\w+)\)/g, "(__entry.$1)")
    .replace(/\$latency/g, "(bpf_ktime_get_ns() - __entry.__ts)")
    .replace(/\$retval/g, "PT_REGS_RC(ctx)")
    .replace(/\$PID/g, "(bpf_get_current_pid_tgid() >> 32)");
}

function filters(o: CodegenOptions): string {
  let t = "";
  if (o.pid !== undefined) t += `  if (__tgid != ${o.pid}) return 0;\n`;
  if (o.tid !== undefined) t += `  if (__tid != ${o.tid}) return 0;\n`;
  if (o.cgroup) t += "  if (cgroup_map.check_current_task(0) <= 0) return 0;\n";
  return t;
}

const IDS =
  "  u64 __pid_tgid = bpf_get_current_pid_tgid();\n  u32 __tid = __pid_tgid;\n  u32 __tgid = __pid_tgid >> 32;\n";

/**
 * Reads a string key field. User probes read user memory; kernel probes and
 * tracepoints may hold either kind of pointer (a syscall tracepoint's
 * filename is a user one), so user memory is tried first, then kernel: each
 * refuses the other's addresses (x86-64, arm64 since Linux 5.5's split).
 */
function stringRead(dst: string, src: string, user: boolean): string {
  const u = `bpf_probe_read_user_str(&${dst}, sizeof(${dst}), (void *)(${src}))`;
  if (user) return `  ${u};\n`;
  return `  if (${u} < 0)\n    bpf_probe_read_kernel_str(&${dst}, sizeof(${dst}), (void *)(${src}));\n`;
}

/**
 * A USDT probe's `argN` (bcc: arg1 is the first), read into locals of the
 * note's C type before the filter and the expressions use them.
 */
function usdtReads(i: number, s: ArgdistSpec, o: CodegenOptions): string {
  const used = new Set<number>();
  for (const text of [...s.exprs, s.filter]) {
    for (const m of text.matchAll(/\barg(\d+)\b/g)) used.add(Number(m[1]));
  }
  let t = "";
  for (const n of [...used].sort((a, b) => a - b)) {
    const ctype = o.usdtArgType?.(i, n) ?? "u64";
    t += `  ${ctype} arg${n} = 0;\n  bpf_usdt_readarg(${n}, ctx, &arg${n});\n`;
  }
  return t;
}

function probeText(i: number, spec: ArgdistSpec, o: CodegenOptions, helpers: string[]): string {
  const n = probeNames(i, spec);
  const user = spec.library !== "" && spec.type !== "t";
  const s = {
    ...spec,
    exprs: spec.exprs.map((e) => rewriteStrcmp(e, user, helpers)),
    filter: rewriteStrcmp(spec.filter, user, helpers),
  };
  let decl = "";
  let body = IDS + filters(o);
  if (s.type === "u") body += usdtReads(i, s, o);
  if (n.entryFn) {
    const fields = s.entryParams.map((p) => `  ${s.params.find((q) => q.name === p)?.type} ${p};\n`).join("");
    decl += `struct ${n.map}_entry_t {\n  u64 __ts;\n${fields}};\n`;
    decl += `BPF_HASH(${n.map}_entry, u32, struct ${n.map}_entry_t);\n`;
    decl += `int ${n.entryFn}(struct pt_regs *ctx${s.signature ? `, ${s.signature}` : ""}) {\n${IDS}${filters(o)}`;
    decl += `  struct ${n.map}_entry_t __e = {};\n  __e.__ts = bpf_ktime_get_ns();\n`;
    decl += s.entryParams.map((p) => `  __e.${p} = ${p};\n`).join("");
    decl += `  ${n.map}_entry.update(&__tid, &__e);\n  return 0;\n}\n`;
    body += `  struct ${n.map}_entry_t *__ep = ${n.map}_entry.lookup(&__tid);\n  if (__ep == 0) return 0;\n`;
    body += `  struct ${n.map}_entry_t __entry = *__ep;\n  ${n.map}_entry.delete(&__tid);\n`;
  }
  if (s.filter) body += `  if (!(${substitute(s.filter)})) return 0;\n`;
  if (s.kind === "hist") {
    decl += `BPF_HISTOGRAM(${n.map});\n`;
    body += `  ${s.types[0]} __v = ${substitute(s.exprs[0] as string)};\n`;
    body += `  ${n.map}.atomic_increment(bpf_log2l(__v));\n`;
  } else {
    decl += `struct ${n.map}_key_t {\n`;
    s.types.forEach((t, k) => {
      decl += isStringType(t) || s.exprs[k] === "$COMM" ? `  struct __string_t v${k};\n` : `  ${t} v${k};\n`;
    });
    decl += `};\nBPF_HASH(${n.map}, struct ${n.map}_key_t, u64);\n`;
    body += `  struct ${n.map}_key_t __key = {};\n`;
    s.exprs.forEach((e, k) => {
      if (e === "$COMM") body += `  bpf_get_current_comm(&__key.v${k}.s, sizeof(__key.v${k}.s));\n`;
      else if (isStringType(s.types[k] as string)) body += stringRead(`__key.v${k}.s`, substitute(e), user);
      else body += `  __key.v${k} = ${substitute(e)};\n`;
    });
    body += `  ${n.map}.atomic_increment(__key);\n`;
  }
  const head =
    s.type === "t"
      ? `int ${n.fn}(struct tracepoint__${s.library}__${s.function} *args)`
      : `int ${n.fn}(struct pt_regs *ctx${s.type === "p" && s.signature ? `, ${s.signature}` : ""})`;
  return `\n${decl}${head} {\n${body}  return 0;\n}\n`;
}

/** The whole program for the specifiers, in order (probe i's names from {@link probeNames}). */
export function generateProgram(specs: ArgdistSpec[], o: CodegenOptions): string {
  let text = `struct __string_t { char s[${o.stringSize}]; };\n\n#include <uapi/linux/ptrace.h>\n`;
  for (const inc of o.includes) {
    text += inc.startsWith(".") || inc.startsWith("/") ? `#include "${inc}"\n` : `#include <${inc}>\n`;
  }
  if (o.cgroup) text += "BPF_CGROUP_ARRAY(cgroup_map, 1);\n";
  const helpers: string[] = [];
  const probes = specs.map((s, i) => probeText(i, s, o, helpers));
  return `${text}${helpers.length ? `\n${helpers.join("")}` : ""}${probes.join("")}`;
}
