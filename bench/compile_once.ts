/**
 * One cold compile in a fresh process, for bench/compile.ts: compiles the
 * bcc program given as argv[2] once with compileBcc, against the empty cache
 * that TSBPF_CACHE_DIR names, prints one JSON line and exits (the parent
 * times the whole process, spawn() to exit). In ms:
 *   node_ms   process start until this module ran (Node's own start)
 *   import_ms loading the compile module and what it imports
 *   cold_ms   the compileBcc call
 */
const nodeMs = performance.now();
const text = process.argv[2];
if (!text || !process.env.TSBPF_CACHE_DIR) {
  process.stderr.write("usage: TSBPF_CACHE_DIR=EMPTY_DIR node compile_once.js PROGRAM_TEXT\n");
  process.exit(2);
}
let t = performance.now();
const { compileBcc } = await import("../src/compile/compile.js");
const importMs = performance.now() - t;
t = performance.now();
await compileBcc({ text, fileName: "implicit.c" });
const coldMs = performance.now() - t;
process.stdout.write(`${JSON.stringify({ node_ms: nodeMs, import_ms: importMs, cold_ms: coldMs })}\n`);
