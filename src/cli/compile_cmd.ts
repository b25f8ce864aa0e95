/**
 * `tsbpf compile PROGRAM.c [-o OUT] [--emit obj|c|asm]`: what tsbpf makes of
 * a program: the BPF object (the default; it carries tsbpf's metadata, so
 * BPF.open runs it with no compiler), the translated C, or its disassembly.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { compileBcc } from "../compile/compile.js";
import { disassemble } from "../compile/disasm.js";
import { embedMeta } from "../compile/object_meta.js";
import { BpfError } from "../kernel/errors.js";

const USAGE = "usage: tsbpf compile PROGRAM.c [-o OUT] [--emit obj|c|asm] [-DNAME=VALUE …]";

/** CLI entry of `tsbpf compile`. */
export async function compileMain(args: string[]): Promise<number> {
  let file: string | undefined;
  let out: string | undefined;
  let emit = "obj";
  const cflags: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "-o" || a === "--output") out = args[++i];
    else if (a === "--emit") emit = args[++i] ?? "";
    else if (a.startsWith("--emit=")) emit = a.slice("--emit=".length);
    else if (a.startsWith("-D") || a.startsWith("-I")) cflags.push(a);
    else if (!file && !a.startsWith("-")) file = a;
    else throw new BpfError(`compile: unexpected argument ${a}\n${USAGE}`);
  }
  if (!file) throw new BpfError(USAGE);
  if (emit !== "c" && emit !== "obj" && emit !== "asm")
    throw new BpfError(`compile: --emit takes c, obj or asm, not ${emit}`);
  const compiled = await compileBcc({ text: readFileSync(file, "utf8"), fileName: file, cflags });
  if (emit === "obj") {
    const path = out ?? `${basename(file).replace(/(\.bpf)?\.c$/, "")}.bpf.o`;
    const { programs, maps, ringbufs, source, translated } = compiled;
    const elf = embedMeta(compiled.elf, {
      fileName: basename(file),
      programs,
      maps,
      ringbufs,
      source,
      translated,
    });
    writeFileSync(path, elf);
    process.stderr.write(`tsbpf: wrote ${path} (${elf.byteLength} bytes)\n`);
    return 0;
  }
  const text = emit === "c" ? compiled.translated : disassemble(compiled.elf);
  if (out) writeFileSync(out, text);
  else process.stdout.write(text);
  return 0;
}
