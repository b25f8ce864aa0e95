/**
 * The example catalog is complete and true: every program it lists exists,
 * exports its example under its own name, has a kernel test, and has its row
 * in the README; every example file is listed, and the CLI's table of
 * loaders (examples/programs.ts) has each.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { chapters, exampleIds } from "../../examples/catalog.js";
import type { Example } from "../../examples/lib/example.js";
import { examplesTable } from "../../examples/lib/table.js";
import { loadableExampleIds, loadExample } from "../../examples/programs.js";
import { exampleList, exampleRegistry } from "../../src/cli/example_cmd.js";
import { repoRoot } from "../helpers.js";

describe("example catalog", () => {
  it("has the tutorial's 14 chapters in order", () => {
    assert.deepEqual(
      chapters.map((c) => c.number),
      Array.from({ length: 14 }, (_, i) => i + 1),
    );
  });

  it("examples/programs.ts, which the CLI runs them through, loads every program and only those", async () => {
    assert.deepEqual([...loadableExampleIds()].sort(), [...exampleIds()].sort());
    for (const id of exampleIds()) assert.equal((await loadExample(id))?.name, id);
    assert.equal(await loadExample("first_step/nope"), undefined);
  });

  for (const id of exampleIds()) {
    it(`${id}: built, exports its example, has a kernel test`, async () => {
      const file = join(repoRoot, "dist", "examples", `${id}.js`);
      assert.ok(existsSync(file), `${file} is missing`);
      const mod = (await import(pathToFileURL(file).href)) as { example?: Example };
      assert.equal(mod.example?.name, id);
      // Its kernel test lives in test/kernel/examples/<chapter>[_part].test.ts.
      const dir = id.slice(0, id.indexOf("/"));
      const testDir = join(repoRoot, "test", "kernel", "examples");
      const testFiles = readdirSync(testDir).filter(
        (f) => f === `${dir}.test.ts` || (f.startsWith(`${dir}_`) && f.endsWith(".test.ts")),
      );
      assert.ok(
        testFiles.some((f) => readFileSync(join(testDir, f), "utf8").includes(`"${id}"`)),
        `no test in test/kernel/examples/${dir}*.test.ts runs "${id}"`,
      );
    });
  }

  it("lists every example file", () => {
    const listed = new Set(exampleIds());
    for (const c of chapters) {
      const files = readdirSync(join(repoRoot, "examples", c.dir)).filter(
        (f) => f.endsWith(".ts") && f !== "chapter.ts",
      );
      for (const f of files)
        assert.ok(listed.has(`${c.dir}/${f.slice(0, -3)}`), `examples/${c.dir}/${f} is not in the catalog`);
    }
  });

  it("is the README's example table", () => {
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    assert.ok(
      readme.includes(examplesTable()),
      "README.md's example table is out of date: regenerate it with node scripts/readme-tables.mjs --write",
    );
  });

  it("--list prints one line per program, from the registry the CLI finds at run time", async () => {
    const lines = exampleList(await exampleRegistry())
      .split("\n")
      .filter((l) => l.startsWith("  "));
    assert.equal(lines.length, exampleIds().length);
  });
});
