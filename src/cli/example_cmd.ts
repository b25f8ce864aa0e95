/**
 * `tsbpf example CHAPTER/PROGRAM [--duration S] [--strict] [ARGS]` runs one
 * of the tutorial's programs (examples/<chapter>/<program>.ts, built to
 * dist/examples); `tsbpf example --list` lists them.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chapters, exampleIds, findExample } from "../../examples/catalog.js";
import type * as ExampleLib from "../../examples/lib/example.js";
import { packageRoot } from "../paths.js";

/** The --list text: one line per program, grouped by chapter. */
export function exampleList(): string {
  const ids = exampleIds();
  const width = Math.max(...ids.map((id) => id.length)) + 2;
  let out = "";
  for (const c of chapters) {
    out += `${c.number}. ${c.title}\n`;
    for (const p of c.programs) {
      const here = p.here === "native" ? "" : `  [here: ${p.here}]`;
      out += `  ${`${c.dir}/${p.name}`.padEnd(width)}${p.summary}${here}\n`;
    }
  }
  return out;
}

function closeNames(id: string): string[] {
  const [dir, name] = id.split("/");
  const sameName = exampleIds().filter((e) => name !== undefined && e.endsWith(`/${name}`));
  if (sameName.length) return sameName;
  return exampleIds()
    .filter((e) => e.startsWith(`${dir}/`) || (name !== undefined && e.includes(name)))
    .slice(0, 6);
}

export async function exampleMain(argv: string[]): Promise<number> {
  const [id, ...rest] = argv;
  if (id === undefined || id === "--list" || id === "-l") {
    process.stdout.write(exampleList());
    return id === undefined ? 2 : 0;
  }
  if (!findExample(id)) {
    const close = closeNames(id);
    process.stderr.write(
      `tsbpf: no example "${id}"${close.length ? `; did you mean ${close.join(", ")}?` : ""} (tsbpf example --list shows them all)\n`,
    );
    return 2;
  }
  const file = join(packageRoot(), "dist", "examples", `${id}.js`);
  if (!existsSync(file)) {
    process.stderr.write(`tsbpf: ${file} is missing: build the project first (npm run build)\n`);
    return 1;
  }
  const mod = (await import(pathToFileURL(file).href)) as { example?: ExampleLib.Example };
  if (!mod.example) throw new Error(`${file} does not export an example`);
  // The example runs on the unbundled library (dist/src) that it imports, so
  // its runner must come from there too: error classes are compared by
  // identity, and this CLI is a bundle with its own copies.
  const lib = (await import(
    pathToFileURL(join(packageRoot(), "dist", "examples", "lib", "example.js")).href
  )) as typeof ExampleLib;
  try {
    await lib.runExample(mod.example, rest);
  } catch (err) {
    lib.reportFailure(mod.example, err);
    return 1;
  }
  return 0;
}
