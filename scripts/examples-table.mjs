// Prints the README's table of tutorial examples from examples/catalog.ts
// (built to dist/examples/catalog.js). test/unit/examples_catalog.test.ts
// checks that README.md contains exactly this table.
//   node scripts/examples-table.mjs
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const { examplesTable } = await import(pathToFileURL(join(root, "dist/examples/lib/table.js")).href);
process.stdout.write(examplesTable());
