/**
 * bcc's map dialect → libbpf: `BPF_HASH(counts, struct key_t)` becomes a
 * BTF-defined map, `counts.increment(key)` a helper call. Used by the
 * rewriter, on its tokens.
 */

import { MapType } from "../kernel/constants.js";

export { MapType };

/** bcc's table type names (BPF_TABLE's first argument) → map type. */
export const TABLE_TYPES: Record<string, number> = {
  hash: MapType.HASH,
  array: MapType.ARRAY,
  histogram: MapType.ARRAY, // a hash when the key is not int (see tableMapType)
  prog: MapType.PROG_ARRAY,
  perf_output: MapType.PERF_EVENT_ARRAY,
  perf_array: MapType.PERF_EVENT_ARRAY,
  percpu_hash: MapType.PERCPU_HASH,
  percpu_array: MapType.PERCPU_ARRAY,
  stacktrace: MapType.STACK_TRACE,
  cgroup_array: MapType.CGROUP_ARRAY,
  lru_hash: MapType.LRU_HASH,
  lru_percpu_hash: MapType.LRU_PERCPU_HASH,
  lpm_trie: MapType.LPM_TRIE,
  array_of_maps: MapType.ARRAY_OF_MAPS,
  hash_of_maps: MapType.HASH_OF_MAPS,
  devmap: MapType.DEVMAP,
  sockmap: MapType.SOCKMAP,
  cpumap: MapType.CPUMAP,
  xskmap: MapType.XSKMAP,
  sockhash: MapType.SOCKHASH,
  queue: MapType.QUEUE,
  stack: MapType.STACK,
  sk_storage: MapType.SK_STORAGE,
  devmap_hash: MapType.DEVMAP_HASH,
  ringbuf: MapType.RINGBUF,
  // A table another BPF object of this process made public: the real type comes from it at load.
  extern: MapType.HASH,
  inode_storage: MapType.INODE_STORAGE,
  task_storage: MapType.TASK_STORAGE,
  cgroup_storage: MapType.CGROUP_STORAGE,
  percpu_cgroup_storage: MapType.PERCPU_CGROUP_STORAGE,
};

/** A map as the program declares it. */
export interface MapDecl {
  name: string;
  /** bcc's table type ("hash", "histogram", "perf_output", …). */
  tableType: string;
  mapType: number;
  /** C type texts as written (undefined for maps without one). */
  keyType: string | undefined;
  leafType: string | undefined;
  /** max_entries as a C expression (for ringbuf: bytes). */
  maxEntries: string;
  flags: string | undefined;
  /** For map-in-map: the inner map's name. */
  inner: string | undefined;
  /** BPF_TABLE_PINNED's path. */
  pinnedPath: string | undefined;
  /** BPF_TABLE_PUBLIC / BPF_TABLE_SHARED: other objects of this process may use it as "extern". */
  shared?: "public" | "shared";
  /** 1-based line of the declaration. */
  line: number;
  /** The type of records sent through a perf/ring buffer (from the first submit call), as C text. */
  eventType?: string;
}

/** Which methods each map kind has (bcc's rules). */
const HASHLIKE = [
  "lookup",
  "lookup_or_try_init",
  "lookup_or_init",
  "update",
  "insert",
  "delete",
  "increment",
  "atomic_increment",
];
const METHODS: Record<number, string[]> = {
  [MapType.HASH]: HASHLIKE,
  [MapType.LRU_HASH]: HASHLIKE,
  [MapType.PERCPU_HASH]: HASHLIKE,
  [MapType.LRU_PERCPU_HASH]: HASHLIKE,
  [MapType.LPM_TRIE]: HASHLIKE,
  [MapType.ARRAY]: [
    "lookup",
    "update",
    "increment",
    "atomic_increment",
    "lookup_or_try_init",
    "lookup_or_init",
  ],
  [MapType.PERCPU_ARRAY]: [
    "lookup",
    "update",
    "increment",
    "atomic_increment",
    "lookup_or_try_init",
    "lookup_or_init",
  ],
  [MapType.PROG_ARRAY]: ["call"],
  [MapType.PERF_EVENT_ARRAY]: ["perf_submit", "perf_submit_skb", "perf_read", "perf_counter_value"],
  [MapType.RINGBUF]: [
    "ringbuf_output",
    "ringbuf_reserve",
    "ringbuf_submit",
    "ringbuf_discard",
    "ringbuf_query",
  ],
  [MapType.STACK_TRACE]: ["get_stackid"],
  [MapType.QUEUE]: ["push", "pop", "peek"],
  [MapType.STACK]: ["push", "pop", "peek"],
  [MapType.DEVMAP]: ["redirect_map"],
  [MapType.DEVMAP_HASH]: ["redirect_map"],
  [MapType.CPUMAP]: ["redirect_map"],
  [MapType.XSKMAP]: ["redirect_map", "lookup"],
  [MapType.SOCKMAP]: ["update", "delete", "sock_map_update", "msg_redirect_map", "sk_redirect_map"],
  [MapType.SOCKHASH]: ["update", "delete", "sock_hash_update", "msg_redirect_hash", "sk_redirect_hash"],
  [MapType.ARRAY_OF_MAPS]: ["lookup"],
  [MapType.HASH_OF_MAPS]: ["lookup"],
  [MapType.CGROUP_ARRAY]: ["check_current_task"],
  [MapType.SK_STORAGE]: ["sk_storage_get", "sk_storage_delete"],
  [MapType.INODE_STORAGE]: ["inode_storage_get", "inode_storage_delete"],
  [MapType.TASK_STORAGE]: ["task_storage_get", "task_storage_delete"],
  [MapType.CGROUP_STORAGE]: ["lookup", "update", "get_local_storage"],
  [MapType.PERCPU_CGROUP_STORAGE]: ["lookup", "update", "get_local_storage"],
};

/** Every method name bcc's dialect knows. */
export const ALL_METHODS = new Set(Object.values(METHODS).flat());

/** The methods a map type has. */
export function methodsOf(mapType: number): string[] {
  return METHODS[mapType] ?? [];
}

/** The declaration macros, with bcc's defaults. Each returns the declaration or an error message. */
type Builder = (args: string[]) => (Omit<MapDecl, "name" | "line"> & { name: string }) | string;

const U64 = "u64";

function decl(
  tableType: string,
  name: string,
  keyType: string | undefined,
  leafType: string | undefined,
  maxEntries: string,
  flags?: string,
  inner?: string,
): Omit<MapDecl, "line"> {
  let mapType = TABLE_TYPES[tableType] ?? 0;
  if (
    tableType === "histogram" &&
    keyType !== undefined &&
    !/^(int|unsigned int|u32|s32|__u32|__s32)$/.test(keyType.trim())
  ) {
    mapType = MapType.HASH; // bcc: a histogram keyed by anything but int is a hash
  }
  return { tableType, name, mapType, keyType, leafType, maxEntries, flags, inner, pinnedPath: undefined };
}

/** The same declaration, kept in a bpf file system at `path` (bcc's pinned forms). */
function pinned(d: Omit<MapDecl, "line"> | string, path: string | undefined): Omit<MapDecl, "line"> | string {
  return typeof d === "string" || path === undefined ? d : { ...d, pinnedPath: unquote(path) };
}

/** The same declaration, made public or shared to the process's other BPF objects. */
function sharedAs(
  d: Omit<MapDecl, "line"> | string,
  shared: "public" | "shared",
): Omit<MapDecl, "line"> | string {
  return typeof d === "string" ? d : { ...d, shared };
}

/** bcc's BPF_QUEUESTACK(type, name, leaf, max_entries, flags). */
function queueStack(type: string, a: string[], at: number): Omit<MapDecl, "line"> {
  return decl(unquote(type), a[at] as string, undefined, a[at + 1], a[at + 2] as string, a[at + 3]);
}

/** argument count check */
function arity(macro: string, args: string[], min: number, max: number): string | undefined {
  if (args.length < min || args.length > max) {
    return min === max
      ? `${macro} takes ${min} arguments, got ${args.length}`
      : `${macro} takes ${min} to ${max} arguments, got ${args.length}`;
  }
  return undefined;
}

const unquote = (s: string): string => s.trim().replace(/^"(.*)"$/, "$1");

/** BPF_TABLE-shaped macros: ("type", key_type, leaf_type, name, max_entries[, flags]). */
function tableMacro(macro: string, min: number, max: number): Builder {
  return (a) =>
    arity(macro, a, min, max) ??
    decl(unquote(a[0] as string), a[3] as string, a[1], a[2], a[4] as string, a[5]);
}

export const MAP_MACROS: Record<string, Builder> = {
  BPF_TABLE: tableMacro("BPF_TABLE", 5, 6),
  BPF_F_TABLE: tableMacro("BPF_F_TABLE", 6, 6),
  BPF_TABLE_PUBLIC: (a) => sharedAs(tableMacro("BPF_TABLE_PUBLIC", 5, 6)(a), "public"),
  BPF_TABLE_SHARED: (a) => sharedAs(tableMacro("BPF_TABLE_SHARED", 5, 6)(a), "shared"),
  BPF_TABLE_PINNED: (a) =>
    arity("BPF_TABLE_PINNED", a, 6, 7) ??
    pinned(
      decl(
        unquote(a[0] as string),
        a[3] as string,
        a[1],
        a[2],
        a[4] as string,
        a.length === 7 ? a[6] : undefined,
      ),
      a[5],
    ),
  BPF_HASH: (a) =>
    arity("BPF_HASH", a, 1, 4) ?? decl("hash", a[0] as string, a[1] ?? U64, a[2] ?? U64, a[3] ?? "10240"),
  BPF_LRU_HASH: (a) =>
    arity("BPF_LRU_HASH", a, 1, 4) ??
    decl("lru_hash", a[0] as string, a[1] ?? U64, a[2] ?? U64, a[3] ?? "10240"),
  BPF_ARRAY: (a) =>
    arity("BPF_ARRAY", a, 1, 3) ?? decl("array", a[0] as string, "int", a[1] ?? U64, a[2] ?? "10240"),
  BPF_HISTOGRAM: (a) =>
    arity("BPF_HISTOGRAM", a, 1, 3) ?? decl("histogram", a[0] as string, a[1] ?? "int", U64, a[2] ?? "64"),
  BPF_PERCPU_HASH: (a) =>
    arity("BPF_PERCPU_HASH", a, 1, 4) ??
    decl("percpu_hash", a[0] as string, a[1] ?? U64, a[2] ?? U64, a[3] ?? "10240"),
  BPF_PERCPU_ARRAY: (a) =>
    arity("BPF_PERCPU_ARRAY", a, 1, 3) ??
    decl("percpu_array", a[0] as string, "int", a[1] ?? U64, a[2] ?? "10240"),
  BPF_LPM_TRIE: (a) =>
    arity("BPF_LPM_TRIE", a, 1, 4) ??
    decl("lpm_trie", a[0] as string, a[1] ?? U64, a[2] ?? U64, a[3] ?? "10240", "1 /* BPF_F_NO_PREALLOC */"),
  BPF_STACK_TRACE: (a) =>
    arity("BPF_STACK_TRACE", a, 2, 2) ??
    decl("stacktrace", a[0] as string, "int", "struct bpf_stacktrace", a[1] as string),
  BPF_STACK_TRACE_BUILDID: (a) =>
    arity("BPF_STACK_TRACE_BUILDID", a, 2, 2) ??
    decl(
      "stacktrace",
      a[0] as string,
      "int",
      "struct bpf_stacktrace_buildid",
      a[1] as string,
      "32 /* BPF_F_STACK_BUILD_ID */",
    ),
  BPF_PERF_OUTPUT: (a) =>
    arity("BPF_PERF_OUTPUT", a, 1, 1) ?? decl("perf_output", a[0] as string, "int", "u32", "0"),
  BPF_RINGBUF_OUTPUT: (a) =>
    arity("BPF_RINGBUF_OUTPUT", a, 2, 2) ??
    decl("ringbuf", a[0] as string, undefined, undefined, `((${a[1]}) * 4096)`),
  BPF_PERF_ARRAY: (a) =>
    arity("BPF_PERF_ARRAY", a, 2, 2) ?? decl("perf_array", a[0] as string, "int", "u32", a[1] as string),
  BPF_PROG_ARRAY: (a) =>
    arity("BPF_PROG_ARRAY", a, 2, 2) ?? decl("prog", a[0] as string, "u32", "u32", a[1] as string),
  BPF_ARRAY_OF_MAPS: (a) =>
    arity("BPF_ARRAY_OF_MAPS", a, 3, 3) ??
    decl("array_of_maps", a[0] as string, "int", "int", a[2] as string, undefined, unquote(a[1] as string)),
  BPF_HASH_OF_MAPS: (a) => {
    // bcc today: (name, "inner"), (name, key_type, "inner"), (name, key_type, "inner", max_entries), 10240
    // entries unless given; bcc before 0.20: (name, "inner", max_entries), told apart by the quoted second argument.
    const bad = arity("BPF_HASH_OF_MAPS", a, 2, 4);
    if (bad) return bad;
    const oldForm = a.length === 3 && /^\s*"/.test(a[1] as string);
    const [key, inner, max] =
      a.length === 2 ? ["int", a[1], "10240"] : oldForm ? ["int", a[1], a[2]] : [a[1], a[2], a[3] ?? "10240"];
    return decl(
      "hash_of_maps",
      a[0] as string,
      key,
      "int",
      max as string,
      undefined,
      unquote(inner as string),
    );
  },
  BPF_QUEUE: (a) => arity("BPF_QUEUE", a, 3, 4) ?? queueStack("queue", a, 0),
  BPF_STACK: (a) => arity("BPF_STACK", a, 3, 4) ?? queueStack("stack", a, 0),
  BPF_QUEUESTACK: (a) => arity("BPF_QUEUESTACK", a, 5, 5) ?? queueStack(a[0] as string, a, 1),
  BPF_QUEUESTACK_PINNED: (a) =>
    arity("BPF_QUEUESTACK_PINNED", a, 6, 6) ?? pinned(queueStack(a[0] as string, a, 1), a[5]),
  BPF_QUEUESTACK_PUBLIC: (a) =>
    arity("BPF_QUEUESTACK_PUBLIC", a, 5, 5) ?? sharedAs(queueStack(a[0] as string, a, 1), "public"),
  BPF_QUEUESTACK_SHARED: (a) =>
    arity("BPF_QUEUESTACK_SHARED", a, 5, 5) ?? sharedAs(queueStack(a[0] as string, a, 1), "shared"),
  BPF_CGROUP_ARRAY: (a) =>
    arity("BPF_CGROUP_ARRAY", a, 2, 2) ?? decl("cgroup_array", a[0] as string, "int", "u32", a[1] as string),
  BPF_XDP_REDIRECT_MAP: (a) =>
    arity("BPF_XDP_REDIRECT_MAP", a, 4, 4) ??
    decl(unquote(a[0] as string), a[2] as string, "int", a[1], a[3] as string),
  BPF_DEVMAP: (a) =>
    arity("BPF_DEVMAP", a, 2, 2) ?? decl("devmap", a[0] as string, "int", "int", a[1] as string),
  BPF_CPUMAP: (a) =>
    arity("BPF_CPUMAP", a, 2, 2) ?? decl("cpumap", a[0] as string, "u32", "u32", a[1] as string),
  BPF_XSKMAP: (a) =>
    arity("BPF_XSKMAP", a, 2, 3) ??
    pinned(decl("xskmap", a[0] as string, "int", "int", a[1] as string), a[2]),
  BPF_CGROUP_STORAGE: (a) =>
    arity("BPF_CGROUP_STORAGE", a, 2, 2) ??
    decl("cgroup_storage", a[0] as string, "struct bpf_cgroup_storage_key", a[1], "0"),
  BPF_PERCPU_CGROUP_STORAGE: (a) =>
    arity("BPF_PERCPU_CGROUP_STORAGE", a, 2, 2) ??
    decl("percpu_cgroup_storage", a[0] as string, "struct bpf_cgroup_storage_key", a[1], "0"),
  BPF_SOCKMAP: (a) =>
    arity("BPF_SOCKMAP", a, 2, 2) ?? decl("sockmap", a[0] as string, "int", "int", a[1] as string),
  BPF_SOCKHASH: (a) =>
    arity("BPF_SOCKHASH", a, 1, 3) ?? decl("sockhash", a[0] as string, a[1] ?? "u32", "int", a[2] ?? "10240"),
  BPF_SK_STORAGE: (a) =>
    arity("BPF_SK_STORAGE", a, 2, 2) ??
    decl("sk_storage", a[0] as string, "int", a[1], "0", "1 /* BPF_F_NO_PREALLOC */"),
  BPF_INODE_STORAGE: (a) =>
    arity("BPF_INODE_STORAGE", a, 2, 2) ??
    decl("inode_storage", a[0] as string, "int", a[1], "0", "1 /* BPF_F_NO_PREALLOC */"),
  BPF_TASK_STORAGE: (a) =>
    arity("BPF_TASK_STORAGE", a, 2, 2) ??
    decl("task_storage", a[0] as string, "int", a[1], "0", "1 /* BPF_F_NO_PREALLOC */"),
};

/** The C definition of a map: a BTF-defined libbpf map, on one line. */
export function mapDefinition(m: MapDecl, all: Map<string, MapDecl>): string {
  const parts: string[] = [`__uint(type, ${m.mapType})`];
  if (m.maxEntries !== "0") parts.push(`__uint(max_entries, ${m.maxEntries})`);
  switch (m.mapType) {
    case MapType.PERF_EVENT_ARRAY:
    case MapType.CGROUP_ARRAY:
    case MapType.PROG_ARRAY:
    case MapType.DEVMAP:
    case MapType.CPUMAP:
    case MapType.XSKMAP:
    case MapType.SOCKMAP:
      // Kernel-managed values: sizes only (the value is an fd or id, not BTF data).
      parts.push(
        `__uint(key_size, sizeof(${m.keyType ?? "int"}))`,
        `__uint(value_size, sizeof(${m.leafType ?? "u32"}))`,
      );
      break;
    case MapType.SOCKHASH:
      parts.push(`__type(key, ${m.keyType})`, "__uint(value_size, sizeof(int))");
      break;
    case MapType.RINGBUF:
      break;
    case MapType.QUEUE:
    case MapType.STACK:
      parts.push(`__type(value, ${m.leafType})`);
      break;
    case MapType.ARRAY_OF_MAPS:
    case MapType.HASH_OF_MAPS: {
      parts.push(`__type(key, ${m.keyType})`);
      const inner = m.inner === undefined ? undefined : all.get(m.inner);
      parts.push(
        inner ? `__array(values, struct ${innerStructName(inner.name)})` : "__uint(value_size, sizeof(int))",
      );
      break;
    }
    default:
      parts.push(`__type(key, ${m.keyType})`, `__type(value, ${m.leafType})`);
  }
  if (m.flags !== undefined) parts.push(`__uint(map_flags, ${m.flags})`);
  const body = `struct { ${parts.join("; ")}; }`;
  // An inner map template needs a named struct type for __array(values, …).
  const isInner = [...all.values()].some((o) => o.inner === m.name);
  if (isInner) {
    return `struct ${innerStructName(m.name)} { ${parts.join("; ")}; }; struct ${innerStructName(m.name)} ${m.name} SEC(".maps")`;
  }
  return `${body} ${m.name} SEC(".maps")`;
}

function innerStructName(name: string): string {
  return `__tsbpf_map_${name}`;
}

/** Expression text for one method call; `k`, `v`… are the argument texts as written. */
export function methodCall(
  m: MapDecl,
  method: string,
  args: string[],
  ringIndex: (map: string) => number,
): string | { error: string } {
  const n = m.name;
  const need = (min: number, max = min): { error: string } | undefined =>
    args.length < min || args.length > max
      ? {
          error: `${n}.${method}() takes ${min === max ? min : `${min} to ${max}`} argument${max === 1 ? "" : "s"}, got ${args.length}`,
        }
      : undefined;
  const [a0, a1, a2, a3] = args;
  // Maps defined with __type(value, T) have a typed value; the others (map-in-map, xskmap, …) give void *.
  const vt = hasTypedValue(m) ? `__typeof__(${n}.value)` : "void *";
  switch (method) {
    case "lookup":
      return need(1) ?? `((${vt})bpf_map_lookup_elem((void *)&${n}, (${a0})))`;
    case "update":
      return need(2) ?? `bpf_map_update_elem((void *)&${n}, (${a0}), (${a1}), 0 /* BPF_ANY */)`;
    case "insert":
      return need(2) ?? `bpf_map_update_elem((void *)&${n}, (${a0}), (${a1}), 1 /* BPF_NOEXIST */)`;
    case "delete":
      return need(1) ?? `bpf_map_delete_elem((void *)&${n}, (${a0}))`;
    case "lookup_or_try_init":
    case "lookup_or_init":
      // lookup_or_init returns from the enclosing function (with 0) when the
      // entry can be neither found nor created, as bcc's does: its value is
      // never NULL, and programs use it without a check.
      return (
        need(2) ??
        `({ __typeof__(${a0}) __k = (${a0}); ${vt} __v = (${vt})bpf_map_lookup_elem((void *)&${n}, __k); ` +
          `if (!__v) { bpf_map_update_elem((void *)&${n}, __k, (${a1}), 1 /* BPF_NOEXIST */); ` +
          `__v = (${vt})bpf_map_lookup_elem((void *)&${n}, __k); ` +
          `${method === "lookup_or_init" ? "if (!__v) return 0; " : ""}} __v; })`
      );
    case "increment":
    case "atomic_increment": {
      const bad = need(1, 2);
      if (bad) return bad;
      const inc = a1 ?? "1";
      const add = method === "atomic_increment" ? "__sync_fetch_and_add(__v, __n)" : "(*__v) += __n";
      return (
        `({ __typeof__(*${n}.key) __k = (${a0}); __typeof__(*${n}.value) __n = (${inc}); ` +
        `${vt} __v = (${vt})bpf_map_lookup_elem((void *)&${n}, &__k); ` +
        `if (__v) ${add}; else bpf_map_update_elem((void *)&${n}, &__k, &__n, 1 /* BPF_NOEXIST */); })`
      );
    }
    case "perf_submit":
      return (
        need(3) ??
        `bpf_perf_event_output((${a0}), (void *)&${n}, 0xffffffffULL /* BPF_F_CURRENT_CPU */, (${a1}), (${a2}))`
      );
    case "perf_submit_skb":
      return (
        need(4) ??
        `bpf_perf_event_output((${a0}), (void *)&${n}, (((__u64)(${a1})) << 32) | 0xffffffffULL, (${a2}), (${a3}))`
      );
    case "perf_read":
      return need(1) ?? `bpf_perf_event_read((void *)&${n}, (${a0}))`;
    case "perf_counter_value":
      return need(3) ?? `bpf_perf_event_read_value((void *)&${n}, (${a0}), (${a1}), (${a2}))`;
    case "ringbuf_output":
      return need(3) ?? `__TSBPF_RB_OUTPUT(${n}, ${ringIndex(n)}, (${a0}), (${a1}), (${a2}))`;
    case "ringbuf_reserve":
      return need(1) ?? `__TSBPF_RB_RESERVE(${n}, ${ringIndex(n)}, (${a0}))`;
    case "ringbuf_submit":
      return need(2) ?? `bpf_ringbuf_submit((${a0}), __TSBPF_RB_FLAGS(${n}, ${ringIndex(n)}, (${a1})))`;
    case "ringbuf_discard":
      return need(2) ?? `bpf_ringbuf_discard((${a0}), (${a1}))`;
    case "ringbuf_query":
      return need(1) ?? `bpf_ringbuf_query((void *)&${n}, (${a0}))`;
    case "get_stackid":
      return need(2) ?? `bpf_get_stackid((${a0}), (void *)&${n}, (${a1}))`;
    case "call":
      return need(2) ?? `bpf_tail_call((${a0}), (void *)&${n}, (${a1}))`;
    case "push":
      return need(2) ?? `bpf_map_push_elem((void *)&${n}, (${a0}), (${a1}))`;
    case "pop":
      return need(1) ?? `bpf_map_pop_elem((void *)&${n}, (${a0}))`;
    case "peek":
      return need(1) ?? `bpf_map_peek_elem((void *)&${n}, (${a0}))`;
    case "redirect_map":
      return need(2) ?? `bpf_redirect_map((void *)&${n}, (${a0}), (${a1}))`;
    case "check_current_task":
      return need(1) ?? `bpf_current_task_under_cgroup((void *)&${n}, (${a0}))`;
    case "sock_map_update":
      return need(3) ?? `bpf_sock_map_update((${a0}), (void *)&${n}, (${a1}), (${a2}))`;
    case "sock_hash_update":
      return need(3) ?? `bpf_sock_hash_update((${a0}), (void *)&${n}, (${a1}), (${a2}))`;
    case "msg_redirect_map":
      return need(3) ?? `bpf_msg_redirect_map((${a0}), (void *)&${n}, (${a1}), (${a2}))`;
    case "msg_redirect_hash":
      return need(3) ?? `bpf_msg_redirect_hash((${a0}), (void *)&${n}, (${a1}), (${a2}))`;
    case "sk_redirect_map":
      return need(3) ?? `bpf_sk_redirect_map((${a0}), (void *)&${n}, (${a1}), (${a2}))`;
    case "sk_redirect_hash":
      return need(3) ?? `bpf_sk_redirect_hash((${a0}), (void *)&${n}, (${a1}), (${a2}))`;
    case "sk_storage_get":
      return need(3) ?? `((${vt})bpf_sk_storage_get((void *)&${n}, (${a0}), (${a1}), (${a2})))`;
    case "sk_storage_delete":
      return need(1) ?? `bpf_sk_storage_delete((void *)&${n}, (${a0}))`;
    case "inode_storage_get":
      return need(3) ?? `((${vt})bpf_inode_storage_get((void *)&${n}, (${a0}), (${a1}), (${a2})))`;
    case "inode_storage_delete":
      return need(1) ?? `bpf_inode_storage_delete((void *)&${n}, (${a0}))`;
    case "task_storage_get":
      return need(3) ?? `((${vt})bpf_task_storage_get((void *)&${n}, (${a0}), (${a1}), (${a2})))`;
    case "task_storage_delete":
      return need(1) ?? `bpf_task_storage_delete((void *)&${n}, (${a0}))`;
    case "get_local_storage":
      // The storage of the cgroup (and attach type) the program runs for (Linux 4.19+).
      return need(1) ?? `((${vt})bpf_get_local_storage((void *)&${n}, (${a0})))`;
    default:
      return { error: `unknown map method ${method}` };
  }
}

/** True when the map's definition has a `value` member (`__type(value, T)`). */
function hasTypedValue(m: MapDecl): boolean {
  switch (m.mapType) {
    case MapType.PERF_EVENT_ARRAY:
    case MapType.CGROUP_ARRAY:
    case MapType.PROG_ARRAY:
    case MapType.DEVMAP:
    case MapType.CPUMAP:
    case MapType.XSKMAP:
    case MapType.SOCKMAP:
    case MapType.SOCKHASH:
    case MapType.RINGBUF:
    case MapType.ARRAY_OF_MAPS:
    case MapType.HASH_OF_MAPS:
      return false;
    default:
      return true;
  }
}
