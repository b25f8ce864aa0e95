import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadTool, toolNames } from "../../tools/index.js";
import { helpText, parseToolArgs } from "../../tools/lib/args.js";
import { toolsTable } from "../../tools/lib/doc.js";
import { repoRoot } from "../helpers.js";

describe("the tools' descriptions", () => {
  it("is the README's tools table, one row per tool", async () => {
    const table = await toolsTable();
    assert.equal(table.trim().split("\n").length, toolNames().length + 2);
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    assert.ok(
      readme.includes(table),
      "README.md's tools table is out of date: regenerate it with node scripts/readme-tables.mjs --write",
    );
  });

  it("every tool has a help text, JSON fields, and options whose names do not clash", async () => {
    for (const name of toolNames()) {
      const t = await loadTool(name);
      assert.ok(t, name);
      assert.equal(t.name, name);
      assert.ok(t.jsonFields.length > 0, `${name} documents its JSON fields`);
      const shorts = t.options.filter((o) => o.short).map((o) => o.short);
      assert.equal(new Set(shorts).size, shorts.length, `${name}: a short option used twice`);
      assert.ok(!shorts.includes("h"), `${name}: -h is help`);
      assert.match(helpText(t), new RegExp(`^usage: tsbpf ${name} \\[options\\]`));
      // the common options parse for every tool
      const required = (t.positionals ?? []).filter((p) => p.required).map((p) => `a-${p.name}`);
      const a = parseToolArgs(t, ["--json", "--duration", "1.5", ...required]);
      assert.equal(parseToolArgs(t, ["-h"]).flag("help"), true, `${name} -h`);
      assert.equal(a.json, true);
      assert.equal(a.duration, 1.5);
    }
  });
});
