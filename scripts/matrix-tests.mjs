// The kernel matrix's test command: what the host kernel cannot test, and
// nothing else (a test runs 10-20 times slower under qemu's TCG than here).
//  - the library's and the tools' kernel test files that say `@kernel-matrix`
//    (and why) in their header: those of kprobes, kretprobes,
//    fentry/fexit/fmod_ret, LSM, bpf_override_return, the feature probes and
//    the tools' variants on kernel functions;
//  - the tutorial examples whose catalog entry says they run differently on a
//    kernel without those features (`here` is not "native"): their tests,
//    picked by name ("<chapter>/<program>…"), run the original programs there.
//    A test among them that behaves the same everywhere skips itself there
//    (test/helpers.ts, sameOnEveryKernel).
// Prints one shell command that runs both and exits non-zero if either fails.
//   node scripts/matrix-tests.mjs
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

const testFiles = (dir) =>
  existsSync(join(root, dir))
    ? readdirSync(join(root, dir))
        .filter((f) => f.endsWith(".test.js"))
        .sort()
        .map((f) => `${dir}/${f}`)
    : [];

const library = [...testFiles("dist/test/kernel"), ...testFiles("dist/test/kernel/tools")].filter((f) =>
  /^ \* @kernel-matrix /m.test(readFileSync(join(root, f.replace(/^dist\//, "").replace(/\.js$/, ".ts")), "utf8")),
);

const { chapters } = await import(pathToFileURL(join(root, "dist/examples/catalog.js")).href);
const ids = [];
const exampleFiles = new Set();
const all = testFiles("dist/test/kernel/examples");
for (const c of chapters) {
  const differing = c.programs.filter((p) => p.here !== "native");
  if (differing.length === 0) continue;
  for (const p of differing) ids.push(`${c.dir}/${p.name}`);
  for (const f of all) {
    const base = f.slice(f.lastIndexOf("/") + 1);
    if (base === `${c.dir}.test.js` || base.startsWith(`${c.dir}_`)) exampleFiles.add(f);
  }
}
const pattern = `^(${ids.map((id) => id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})\\b`;

const q = (s) => `'${s.replace(/'/g, "'\\''")}'`;
const cmds = [];
if (library.length) cmds.push(`node --test --test-concurrency=1 ${library.join(" ")}`);
if (exampleFiles.size)
  cmds.push(`node --test --test-concurrency=1 --test-name-pattern=${q(pattern)} ${[...exampleFiles].join(" ")}`);
process.stdout.write(`rc=0; ${cmds.map((c) => `{ ${c} || rc=1; }`).join("; ")}; exit $rc\n`);
