/**
 * `tsbpf example CHAPTER/PROGRAM [--duration S] [--strict] [ARGS]` runs one
 * of the tutorial's programs (examples/<chapter>/<program>.ts, built to
 * dist/examples); `tsbpf example --list` lists them.
 *
 * The CLI does not import the examples: it finds them at run time through
 * their registry (dist/examples/catalog.js), and runs each with the runner
 * next to it. The examples import the unbundled library (dist/src); the CLI
 * is a bundle with its own copies of the library's classes, and errors are
 * told apart by class, so the runner must come from the examples' side.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type * as Catalog from "../../examples/catalog.js";
import type * as ExampleLib from "../../examples/lib/example.js";
import { packageRoot } from "../paths.js";

const examplesDir = (): string => join(packageRoot(), "dist", "examples");

async function importFrom<T>(file: string): Promise<T> {
  if (!existsSync(file)) throw new Error(`${file} is missing: build the project first (npm run build)`);
  return (await import(pathToFileURL(file).href)) as T;
}

/** The registry of the tutorial's programs. */
export function exampleRegistry(): Promise<typeof Catalog> {
  return importFrom<typeof Catalog>(join(examplesDir(), "catalog.js"));
}

/** The --list text: one line per program, grouped by chapter. */
export function exampleList({ chapters, exampleIds }: typeof Catalog): string {
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

function closeNames({ exampleIds }: typeof Catalog, id: string): string[] {
  const [dir, name] = id.split("/");
  const sameName = exampleIds().filter((e) => name !== undefined && e.endsWith(`/${name}`));
  if (sameName.length) return sameName;
  return exampleIds()
    .filter((e) => e.startsWith(`${dir}/`) || (name !== undefined && e.includes(name)))
    .slice(0, 6);
}

export async function exampleMain(argv: string[]): Promise<number> {
  const [id, ...rest] = argv;
  const registry = await exampleRegistry();
  if (id === undefined || id === "--list" || id === "-l") {
    process.stdout.write(exampleList(registry));
    return id === undefined ? 2 : 0;
  }
  if (!registry.findExample(id)) {
    const close = closeNames(registry, id);
    process.stderr.write(
      `tsbpf: no example "${id}"${close.length ? `; did you mean ${close.join(", ")}?` : ""} (tsbpf example --list shows them all)\n`,
    );
    return 2;
  }
  const file = join(examplesDir(), `${id}.js`);
  const mod = await importFrom<{ example?: ExampleLib.Example }>(file);
  if (!mod.example) throw new Error(`${file} does not export an example`);
  const lib = await importFrom<typeof ExampleLib>(join(examplesDir(), "lib", "example.js"));
  try {
    await lib.runExample(mod.example, rest);
  } catch (err) {
    lib.reportFailure(mod.example, err);
    return 1;
  }
  return 0;
}
