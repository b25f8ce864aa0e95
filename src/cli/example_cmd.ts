/**
 * `tsbpf example CHAPTER/PROGRAM [--duration S] [--strict] [ARGS]` runs one
 * of the tutorial's programs (examples/<chapter>/<program>.ts, built to
 * dist/examples); `tsbpf example --list` lists them.
 *
 * The programs load through examples/programs.ts, one dynamic import each,
 * so a run loads only its own program; in the CLI bundle they are chunks
 * of the same bundle, using its copies of the library's classes (errors are
 * told apart by class), and from dist/src they are dist/examples, which
 * import dist/src.
 */

import type * as Catalog from "../../examples/catalog.js";
import * as catalog from "../../examples/catalog.js";

/** The registry of the tutorial's programs. */
export async function exampleRegistry(): Promise<typeof Catalog> {
  return catalog;
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
  const [{ loadExample }, lib] = await Promise.all([
    import("../../examples/programs.js"),
    import("../../examples/lib/example.js"),
  ]);
  const example = await loadExample(id);
  if (!example) throw new Error(`${id} is in the catalog but examples/programs.ts cannot load it`);
  try {
    await lib.runExample(example, rest);
  } catch (err) {
    lib.reportFailure(example, err);
    return 1;
  }
  return 0;
}
