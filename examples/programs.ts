/**
 * Every tutorial program, each loaded only when asked for: `tsbpf example`
 * runs them through this table (the CLI bundle holds them all, and a
 * program's module runs nothing until it is loaded). The catalog
 * (catalog.ts) says what each is; test/unit/examples_catalog.test.ts checks
 * that the two list the same programs.
 */
import type { Example } from "./lib/example.js";

const LOADERS: Record<string, () => Promise<{ example?: Example }>> = {
  "first_step/printk_sample": () => import("./first_step/printk_sample.js"),
  "output/perf_output_sample": () => import("./output/perf_output_sample.js"),
  "kprobe/tcpv4connect_simple": () => import("./kprobe/tcpv4connect_simple.js"),
  "kprobe/tcpv4connect_args": () => import("./kprobe/tcpv4connect_args.js"),
  "uprobe/target_sample": () => import("./uprobe/target_sample.js"),
  "uprobe/uprobe_simple": () => import("./uprobe/uprobe_simple.js"),
  "uprobe/strlen_snoop_simple": () => import("./uprobe/strlen_snoop_simple.js"),
  "usdt/target_sample": () => import("./usdt/target_sample.js"),
  "usdt/probe_sample": () => import("./usdt/probe_sample.js"),
  "tracepoint/tcp_probe_simple": () => import("./tracepoint/tcp_probe_simple.js"),
  "tracepoint/tcp_probe_filter": () => import("./tracepoint/tcp_probe_filter.js"),
  "tracepoint/tcp_probe": () => import("./tracepoint/tcp_probe.js"),
  "tracepoint/tcp_probe_attach_tracepoint": () => import("./tracepoint/tcp_probe_attach_tracepoint.js"),
  "raw_tracepoint/check_raw_tracepoint": () => import("./raw_tracepoint/check_raw_tracepoint.js"),
  "raw_tracepoint/sched_switch_simple": () => import("./raw_tracepoint/sched_switch_simple.js"),
  "raw_tracepoint/sched_switch_attach_tracepoint": () =>
    import("./raw_tracepoint/sched_switch_attach_tracepoint.js"),
  "syscall/execve_simple": () => import("./syscall/execve_simple.js"),
  "syscall/execve_kprobe_simple": () => import("./syscall/execve_kprobe_simple.js"),
  "kfunc/check_kfunc": () => import("./kfunc/check_kfunc.js"),
  "kfunc/opensnoop_simple": () => import("./kfunc/opensnoop_simple.js"),
  "error/error_sample": () => import("./error/error_sample.js"),
  "error/invalid_mem_access": () => import("./error/invalid_mem_access.js"),
  "data_access/execve_simple": () => import("./data_access/execve_simple.js"),
  "debug/bpf_override_return": () => import("./debug/bpf_override_return.js"),
  "maps/map_table_sample": () => import("./maps/map_table_sample.js"),
  "maps/map_hash_simple": () => import("./maps/map_hash_simple.js"),
  "maps/map_hash_sample": () => import("./maps/map_hash_sample.js"),
  "maps/map_hash_update": () => import("./maps/map_hash_update.js"),
  "maps/map_hist": () => import("./maps/map_hist.js"),
  "maps/map_hist2": () => import("./maps/map_hist2.js"),
  "maps/map_cpu_array_simple": () => import("./maps/map_cpu_array_simple.js"),
  "maps/map_stack_trace": () => import("./maps/map_stack_trace.js"),
  "maps/map_perf_array_simple": () => import("./maps/map_perf_array_simple.js"),
  "maps/map_prog_array_simple": () => import("./maps/map_prog_array_simple.js"),
  "maps/map_lpm_trie": () => import("./maps/map_lpm_trie.js"),
  "maps/map_array_of_maps_sample": () => import("./maps/map_array_of_maps_sample.js"),
  "maps/map_hash_of_maps_sample": () => import("./maps/map_hash_of_maps_sample.js"),
  "maps/xdp_icmp_count": () => import("./maps/xdp_icmp_count.js"),
  "maps/xdp_devmap": () => import("./maps/xdp_devmap.js"),
  "maps/xdp_cpumap": () => import("./maps/xdp_cpumap.js"),
  "python_api/trace_print": () => import("./python_api/trace_print.js"),
  "python_api/trace_fields": () => import("./python_api/trace_fields.js"),
  "python_api/task_switch": () => import("./python_api/task_switch.js"),
  "python_api/map_values_sample": () => import("./python_api/map_values_sample.js"),
  "python_api/symbols": () => import("./python_api/symbols.js"),
};

/** The ids ("<chapter>/<program>") this table can load. */
export function loadableExampleIds(): string[] {
  return Object.keys(LOADERS);
}

/** The example "<chapter>/<program>", or undefined when there is none. */
export async function loadExample(id: string): Promise<Example | undefined> {
  const load = Object.hasOwn(LOADERS, id) ? LOADERS[id] : undefined;
  return load ? (await load()).example : undefined;
}
