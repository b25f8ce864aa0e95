// Compiles each tool's BPF program (tools/NAME.bpf.c, libbpf-style CO-RE C)
// into dist/tools/NAME.bpf.o, the object the tool opens with BPF.open, so
// running a tool needs no compiler. Incremental: an object newer than its
// source, the shared headers, the compiler module and this script is kept.
//   node scripts/build-tools.mjs [--force] [NAME…]
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { accessSync, constants, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const { compileBcc } = await import(join(root, "dist/src/compile/compile.js"));
const { embedMeta } = await import(join(root, "dist/src/compile/object_meta.js"));

const args = process.argv.slice(2);
const force = args.includes("--force");
const only = new Set(args.filter((a) => !a.startsWith("-")));
const toolsDir = join(root, "tools");
const includeDir = join(toolsDir, "include");
const outDir = join(root, "dist", "tools");
mkdirSync(outDir, { recursive: true });

const mtime = (p) => {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return 0;
  }
};
const headers = readdirSync(includeDir).map((f) => join(includeDir, f));
// The compile cache keys on the program's text, not on what it includes:
// the shared headers' hash goes into the flags so a changed header recompiles.
const headerHash = createHash("sha256");
for (const h of headers.sort()) headerHash.update(readFileSync(h));
const cflags = [`-I${includeDir}`, `-DTSBPF_TOOL_HEADERS_${headerHash.digest("hex").slice(0, 16)}`];
const newestInput = Math.max(
  ...headers.map(mtime),
  mtime(join(root, "dist/src/compile/compile.js")),
  mtime(new URL(import.meta.url).pathname),
);

// The objects keep their BTF and line info (.BTF, .BTF.ext: what libbpf, the
// decoders and the verifier's messages read) and tsbpf's own metadata, but
// not clang's DWARF (.debug_*), which nothing reads at run time and which is
// nine tenths of each file (execsnoop.bpf.o: 691 KB, 68 KB stripped; all of
// them, which the npm package ships: 18.4 MB → 1.8 MB).
function findStrip() {
  const versioned = Array.from({ length: 10 }, (_, i) => `/usr/bin/llvm-strip-${20 - i}`);
  for (const c of ["/usr/bin/llvm-strip", ...versioned]) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  process.stderr.write("build-tools: llvm-strip not found: install llvm (apt-get install llvm)\n");
  process.exit(1);
}

const sources = readdirSync(toolsDir).filter((f) => f.endsWith(".bpf.c"));
let built = 0;
let strip;
for (const src of sources) {
  const name = basename(src, ".bpf.c");
  if (only.size > 0 && !only.has(name)) continue;
  const srcPath = join(toolsDir, src);
  const out = join(outDir, `${name}.bpf.o`);
  if (!force && mtime(out) > Math.max(mtime(srcPath), newestInput)) continue;
  const compiled = await compileBcc({ text: readFileSync(srcPath, "utf8"), fileName: srcPath, cflags });
  const { programs, maps, ringbufs, source, translated } = compiled;
  writeFileSync(
    out,
    embedMeta(compiled.elf, { fileName: `${name}.bpf.c`, programs, maps, ringbufs, source, translated }),
  );
  execFileSync(strip ?? (strip = findStrip()), ["--strip-debug", out]);
  built++;
}
if (built > 0) process.stderr.write(`build-tools: compiled ${built} of ${sources.length} tool programs\n`);
