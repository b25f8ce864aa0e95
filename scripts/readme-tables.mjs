// The README's generated tables, each between its markers
// (<!-- NAME: … --> and <!-- end of NAME -->), made from the built code:
//   examples-table      examples/catalog.ts   (checked by test/unit/examples_catalog.test.ts)
//   attach-kinds-table  src/attach/kinds.ts   (checked by test/unit/attach_kinds.test.ts)
//   tools-table         tools/index.ts        (checked by test/unit/tools_doc.test.ts)
//   node scripts/readme-tables.mjs           print them
//   node scripts/readme-tables.mjs --write   put them into README.md
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const load = (rel) => import(pathToFileURL(join(root, rel)).href);
const tables = {
  "examples-table": (await load("dist/examples/lib/table.js")).examplesTable(),
  "attach-kinds-table": (await load("dist/src/attach/kinds_doc.js")).attachKindsTable(),
  "tools-table": await (await load("dist/tools/lib/doc.js")).toolsTable(),
};

if (process.argv.includes("--write")) {
  const readme = join(root, "README.md");
  let text = readFileSync(readme, "utf8");
  for (const [name, table] of Object.entries(tables)) {
    const begin = text.indexOf(`<!-- ${name}:`);
    const end = text.indexOf(`<!-- end of ${name} -->`);
    if (begin < 0 || end < begin) throw new Error(`README.md has no ${name} markers`);
    text = text.slice(0, text.indexOf("\n", begin) + 1) + table + text.slice(end);
  }
  writeFileSync(readme, text);
} else {
  for (const [name, table] of Object.entries(tables)) process.stdout.write(`${name}:\n${table}\n`);
}
