/**
 * `tsbpf tplist [-v] [REGEX]`: the tracepoints of this kernel (bcc's tplist),
 * "category:event" one a line; with -v, each followed by the fields of its
 * record, the `args->` fields a TRACEPOINT_PROBE gets (the kernel's common_
 * fields left out). Needs tracefs (any kernel with tracepoints).
 */
import { BPF } from "../bpf.js";
import { BpfError } from "../kernel/errors.js";
import { readTracepointFormat } from "../kernel/tracefs.js";

const USAGE = "usage: tsbpf tplist [-v] [REGEX]";

/**
 * The field declarations of a tracefs `format` file, as written in it, one
 * per line indented by four spaces, without the common_ fields.
 */
export function formatFieldDecls(formatText: string): string {
  let out = "";
  for (const line of formatText.split("\n")) {
    const m = /^\s*field(?: special)?:([^;]*);/.exec(line);
    if (!m) continue;
    const decl = (m[1] as string).trim();
    if (/\bcommon_\w+(\[[^\]]*\])*$/.test(decl)) continue;
    out += `    ${decl};\n`;
  }
  return out;
}

/** CLI entry of `tsbpf tplist`. */
export function tplistMain(args: string[], write: (s: string) => void): number {
  let verbose = false;
  let re: RegExp | undefined;
  for (const a of args) {
    if (a === "-v" || a === "--verbose") verbose = true;
    else if (a === "-h" || a === "--help") {
      write(`${USAGE}\n`);
      return 0;
    } else if (re === undefined && !a.startsWith("-")) re = new RegExp(a);
    else throw new BpfError(`tplist: unexpected argument ${a}\n${USAGE}`);
  }
  for (const tp of BPF.getTracepoints(re)) {
    write(`${tp}\n`);
    if (verbose) {
      const [category, event] = tp.split(":") as [string, string];
      write(formatFieldDecls(readTracepointFormat(category, event)));
    }
  }
  return 0;
}
