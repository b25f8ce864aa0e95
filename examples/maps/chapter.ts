/** Chapter 13, Maps: the programs of this chapter, for `tsbpf example --list` and the README. */
import type { Chapter } from "../lib/catalog_types.js";

export const chapter: Chapter = {
  number: 13,
  dir: "maps",
  title: "Maps",
  programs: [
    {
      name: "map_table_sample",
      summary: "BPF_TABLE(array)/BPF_ARRAY root vs non-root execve counters",
      here: "fallback: tracepoint syscalls:sys_enter_execve",
    },
    {
      name: "map_hash_simple",
      summary: "BPF_HASH keyed by comm, lookup_or_try_init, sorted rounds",
      here: "fallback: tracepoint syscalls:sys_enter_execve",
    },
    {
      name: "map_hash_sample",
      summary: "map_hash_simple plus delete() past 10",
      here: "fallback: tracepoint syscalls:sys_enter_execve",
    },
    {
      name: "map_hash_update",
      summary: "map_hash_simple with update() and insert()",
      here: "fallback: tracepoint syscalls:sys_enter_execve",
    },
    {
      name: "map_hist",
      summary: "linear and log2 BPF_HISTOGRAM of block I/O kbytes (kprobe)",
      here: "fallback: raw tracepoint block_rq_complete",
    },
    {
      name: "map_hist2",
      summary: "the same histograms from tracepoint block:block_rq_complete",
      here: "native",
    },
    {
      name: "map_cpu_array_simple",
      summary: "BPF_PERCPU_ARRAY: sum and per-CPU values",
      here: "fallback: tracepoint sock:inet_sock_set_state",
    },
    {
      name: "map_stack_trace",
      summary: "BPF_STACK_TRACE of malloc callers in a process, with symbols (mallocstacks)",
      here: "native",
    },
    {
      name: "map_perf_array_simple",
      summary: "BPF_PERF_ARRAY + perf_read: histogram of the cycles spent in getuid()",
      here: "fallback: software clock PERF_COUNT_SW_CPU_CLOCK; tracepoints syscalls:sys_enter_getuid/sys_exit_getuid",
    },
    {
      name: "map_prog_array_simple",
      summary: "BPF_PROG_ARRAY tail calls: I'm bar / I'm foo",
      here: "fallback: tracepoint syscalls:sys_enter_execve (foo and bar as BPF.TRACEPOINT)",
    },
    {
      name: "map_lpm_trie",
      summary: "BPF_LPM_TRIE: IPv4 connects counted per longest matching prefix",
      here: "native",
    },
    {
      name: "map_array_of_maps_sample",
      summary: "BPF_ARRAY_OF_MAPS: root vs non-root execve of bash and sh",
      here: "fallback: tracepoint syscalls:sys_enter_execve",
    },
    {
      name: "map_hash_of_maps_sample",
      summary: "BPF_HASH_OF_MAPS keyed by comm: root vs non-root execve of bash and sh",
      here: "fallback: tracepoint syscalls:sys_enter_execve",
    },
    {
      name: "xdp_icmp_count",
      summary: "XDP counting ICMP per source on a device (default lo), attachXdp/removeXdp",
      here: "native",
    },
    {
      name: "xdp_devmap",
      summary: "BPF_DEVMAP + redirect_map from one device to another (xdp_redirect_map)",
      here: "native",
    },
    {
      name: "xdp_cpumap",
      summary: "BPF_CPUMAP + redirect_map to a given CPU (xdp_redirect_cpu)",
      here: "native",
    },
  ],
};
