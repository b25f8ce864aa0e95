/**
 * Kernel drift, named. A program written for another kernel version meets a
 * struct member that was renamed (task_struct.state became __state in 5.14),
 * a struct that is gone or lives in a module that is not loaded
 * (nfs_commit_data), or a function that this kernel does not have. clang can
 * only say "no member named …" or "incomplete definition of type …": this
 * adds what the running kernel has instead, from its BTF.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import type { BtfComposite } from "../btf/btf.js";
import type { Diagnostic } from "../kernel/errors.js";
import { kernelBtf } from "../kernel/kernel_btf.js";
import { kernelRelease } from "../kernel/kernel_info.js";
import { closestNames } from "../kernel/tracefs.js";

/** Names of this kernel's structs and unions (lazily, from its BTF). */
function compositeNames(kind: "STRUCT" | "UNION"): string[] {
  const out = new Set<string>();
  for (const t of kernelBtf().all()) if (t.kind === kind && t.name) out.add(t.name);
  return [...out];
}

/** The members of this kernel's struct/union `name` (anonymous members' members included), or undefined. */
function membersOf(kind: "STRUCT" | "UNION", name: string): string[] | undefined {
  const btf = kernelBtf();
  const ids = btf.findAllByName(name, kind);
  if (ids.length === 0) return undefined;
  const out = new Set<string>();
  const walk = (id: number, depth: number): void => {
    const t = btf.type(btf.resolve(id));
    if ((t.kind !== "STRUCT" && t.kind !== "UNION") || depth > 8) return;
    for (const m of (t as BtfComposite).members) {
      if (m.name === "") walk(m.type, depth + 1);
      else out.add(m.name);
    }
  };
  for (const id of ids) walk(id, 0);
  return [...out];
}

/** The loadable modules of this kernel whose name starts a struct's name (nfs_commit_data → nfs). */
function moduleHint(struct: string): string {
  if (!existsSync("/proc/modules"))
    return "this kernel cannot load modules (CONFIG_MODULES is off), so a type of a module it does not have built in is not there";
  const loaded = new Set(
    readFileSync("/proc/modules", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[0])
      .filter(Boolean),
  );
  const prefix = struct.split("_")[0] ?? struct;
  const dir = `/lib/modules/${kernelRelease()}`;
  const available = new Set<string>();
  const walk = (d: string, depth: number): void => {
    if (depth > 6) return;
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(`${d}/${e.name}`, depth + 1);
      else {
        const m = /^([\w-]+)\.ko(\.\w+)?$/.exec(e.name);
        if (m && (m[1] as string).replace(/-/g, "_") === prefix) available.add(m[1] as string);
      }
    }
  };
  walk(dir, 0);
  const mod = [...available][0];
  if (mod && !loaded.has(mod.replace(/-/g, "_")))
    return `it may be module ${mod}'s, which is not loaded: load it ("modprobe ${mod}") and compile again`;
  return "no loaded module's BTF has it either";
}

/** One line of explanation for a clang diagnostic that shows kernel drift, or undefined. */
function explain(d: Diagnostic): string | undefined {
  // "no member named 'state' in 'struct task_struct'"
  let m = /no member named '(\w+)' in '(struct|union) (\w+)'/.exec(d.message);
  if (m) {
    const [, member, kind, name] = m as unknown as [string, string, "struct" | "union", string];
    const members = membersOf(kind === "struct" ? "STRUCT" : "UNION", name);
    if (!members || members.includes(member)) return undefined;
    const close = closestNames(member, members, 3);
    return (
      `this kernel's ${kind} ${name} has no member ${member} (members change across kernel versions)` +
      (close.length ? `; its closest are: ${close.join(", ")}` : "")
    );
  }
  // "incomplete definition of type 'struct nfs_commit_data'", "variable has incomplete type 'struct x'"
  m = /incomplete (?:definition of )?type '(struct|union) (\w+)'/.exec(d.message);
  if (m) {
    const [, kind, name] = m as unknown as [string, "struct" | "union", string];
    const all = compositeNames(kind === "struct" ? "STRUCT" : "UNION");
    if (all.includes(name)) return undefined;
    const close = closestNames(name, all, 3);
    return (
      `this kernel's BTF has no ${kind} ${name}: ${moduleHint(name)}` +
      (close.length ? `; the closest it has: ${close.map((c) => `${kind} ${c}`).join(", ")}` : "")
    );
  }
  return undefined;
}

/** Explanations for the diagnostics that show kernel drift (deduplicated, in order). */
export function kernelDriftNotes(diags: readonly Diagnostic[]): string[] {
  const out: string[] = [];
  for (const d of diags) {
    if (d.severity !== "error" && d.severity !== "fatal error") continue;
    let note: string | undefined;
    try {
      note = explain(d);
    } catch {
      note = undefined; // no kernel BTF: nothing to add
    }
    if (note && !out.includes(note)) out.push(note);
  }
  return out;
}
