// The example test files worth running in the kernel matrix: those of the
// chapters where some program behaves differently on a kernel with kprobes and
// fentry (its catalog entry is not "native"). Prints their dist paths on one line.
//   node scripts/matrix-example-tests.mjs
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const { chapters } = await import(pathToFileURL(join(root, "dist/examples/catalog.js")).href);
const dir = join(root, "dist/test/kernel/examples");
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".test.js")) : [];
const out = [];
for (const c of chapters) {
  if (c.programs.every((p) => p.here === "native")) continue;
  for (const f of files)
    if (f === `${c.dir}.test.js` || f.startsWith(`${c.dir}_`)) out.push(`dist/test/kernel/examples/${f}`);
}
process.stdout.write(`${out.join(" ")}\n`);
