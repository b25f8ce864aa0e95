/**
 * Tables shared between the BPF objects of one process, as bcc shares them:
 * `BPF_TABLE_PUBLIC` / `BPF_TABLE_SHARED` in one program, `BPF_TABLE("extern", …)`
 * of the same name in another. The registry holds the owner's map fd; an
 * object that uses the table reuses it (libbpf dups the fd, so the map lives
 * as long as any user).
 */
import { BpfError } from "../kernel/errors.js";

interface Entry {
  fd: number;
  owner: object;
}

const tables = new Map<string, Entry>();

/** Makes a map usable by name from other objects of this process. */
export function publishTable(name: string, fd: number, owner: object): void {
  const old = tables.get(name);
  if (old && old.owner !== owner) {
    throw new BpfError(
      `table ${name} is already public in another BPF object of this process; give one of them another name`,
    );
  }
  tables.set(name, { fd, owner });
}

/** Forgets every table an owner published (when it closes). */
export function withdrawTables(owner: object): void {
  for (const [name, e] of tables) if (e.owner === owner) tables.delete(name);
}

/** The fd of a public table, or a clear error. */
export function publicTableFd(name: string): number {
  const e = tables.get(name);
  if (!e) {
    throw new BpfError(
      `table ${name} is declared BPF_TABLE("extern", …) but no open BPF object of this process made it public ` +
        "(declare it with BPF_TABLE_PUBLIC or BPF_TABLE_SHARED in a program loaded first)",
    );
  }
  return e.fd;
}
