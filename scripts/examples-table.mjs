// The README's table of tutorial examples, generated from examples/catalog.ts
// (built to dist/examples). test/unit/examples_catalog.test.ts checks that
// README.md contains exactly this table.
//   node scripts/examples-table.mjs           print it
//   node scripts/examples-table.mjs --write   put it into README.md between its markers
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const { examplesTable } = await import(pathToFileURL(join(root, "dist/examples/lib/table.js")).href);
const table = examplesTable();
if (process.argv.includes("--write")) {
  const readme = join(root, "README.md");
  const text = readFileSync(readme, "utf8");
  const begin = text.indexOf("<!-- examples-table:");
  const end = text.indexOf("<!-- end of examples-table -->");
  if (begin < 0 || end < begin) throw new Error("README.md has no examples-table markers");
  const head = text.slice(0, text.indexOf("\n", begin) + 1);
  writeFileSync(readme, `${head}${table}${text.slice(end)}`);
} else {
  process.stdout.write(table);
}
