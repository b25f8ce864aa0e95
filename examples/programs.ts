/**
 * Every tutorial program, each loaded only when asked for: `tsbpf example`
 * runs them through this table (the CLI bundle holds them all, and a
 * program's module runs nothing until it is loaded). The catalog
 * (catalog.ts) says what each is; test/unit/examples_catalog.test.ts checks
 * that the two list the same programs.
 */
import type { Example } from "./lib/example.js";

// (a switch, not a table of closures: the table took ~25 KB of every
// example's start, in the young generation that fills before its first row)
function importExample(id: string): Promise<{ example?: Example }> | undefined {
  switch (id) {
    case "first_step/printk_sample":
      return import("./first_step/printk_sample.js");
    case "output/perf_output_sample":
      return import("./output/perf_output_sample.js");
    case "kprobe/tcpv4connect_simple":
      return import("./kprobe/tcpv4connect_simple.js");
    case "kprobe/tcpv4connect_args":
      return import("./kprobe/tcpv4connect_args.js");
    case "uprobe/target_sample":
      return import("./uprobe/target_sample.js");
    case "uprobe/uprobe_simple":
      return import("./uprobe/uprobe_simple.js");
    case "uprobe/strlen_snoop_simple":
      return import("./uprobe/strlen_snoop_simple.js");
    case "usdt/target_sample":
      return import("./usdt/target_sample.js");
    case "usdt/probe_sample":
      return import("./usdt/probe_sample.js");
    case "tracepoint/tcp_probe_simple":
      return import("./tracepoint/tcp_probe_simple.js");
    case "tracepoint/tcp_probe_filter":
      return import("./tracepoint/tcp_probe_filter.js");
    case "tracepoint/tcp_probe":
      return import("./tracepoint/tcp_probe.js");
    case "tracepoint/tcp_probe_attach_tracepoint":
      return import("./tracepoint/tcp_probe_attach_tracepoint.js");
    case "raw_tracepoint/check_raw_tracepoint":
      return import("./raw_tracepoint/check_raw_tracepoint.js");
    case "raw_tracepoint/sched_switch_simple":
      return import("./raw_tracepoint/sched_switch_simple.js");
    case "raw_tracepoint/sched_switch_attach_tracepoint":
      return import("./raw_tracepoint/sched_switch_attach_tracepoint.js");
    case "syscall/execve_simple":
      return import("./syscall/execve_simple.js");
    case "syscall/execve_kprobe_simple":
      return import("./syscall/execve_kprobe_simple.js");
    case "kfunc/check_kfunc":
      return import("./kfunc/check_kfunc.js");
    case "kfunc/opensnoop_simple":
      return import("./kfunc/opensnoop_simple.js");
    case "error/error_sample":
      return import("./error/error_sample.js");
    case "error/invalid_mem_access":
      return import("./error/invalid_mem_access.js");
    case "data_access/execve_simple":
      return import("./data_access/execve_simple.js");
    case "debug/bpf_override_return":
      return import("./debug/bpf_override_return.js");
    case "maps/map_table_sample":
      return import("./maps/map_table_sample.js");
    case "maps/map_hash_simple":
      return import("./maps/map_hash_simple.js");
    case "maps/map_hash_sample":
      return import("./maps/map_hash_sample.js");
    case "maps/map_hash_update":
      return import("./maps/map_hash_update.js");
    case "maps/map_hist":
      return import("./maps/map_hist.js");
    case "maps/map_hist2":
      return import("./maps/map_hist2.js");
    case "maps/map_cpu_array_simple":
      return import("./maps/map_cpu_array_simple.js");
    case "maps/map_stack_trace":
      return import("./maps/map_stack_trace.js");
    case "maps/map_perf_array_simple":
      return import("./maps/map_perf_array_simple.js");
    case "maps/map_prog_array_simple":
      return import("./maps/map_prog_array_simple.js");
    case "maps/map_lpm_trie":
      return import("./maps/map_lpm_trie.js");
    case "maps/map_array_of_maps_sample":
      return import("./maps/map_array_of_maps_sample.js");
    case "maps/map_hash_of_maps_sample":
      return import("./maps/map_hash_of_maps_sample.js");
    case "maps/xdp_icmp_count":
      return import("./maps/xdp_icmp_count.js");
    case "maps/xdp_devmap":
      return import("./maps/xdp_devmap.js");
    case "maps/xdp_cpumap":
      return import("./maps/xdp_cpumap.js");
    case "python_api/trace_print":
      return import("./python_api/trace_print.js");
    case "python_api/trace_fields":
      return import("./python_api/trace_fields.js");
    case "python_api/task_switch":
      return import("./python_api/task_switch.js");
    case "python_api/map_values_sample":
      return import("./python_api/map_values_sample.js");
    case "python_api/symbols":
      return import("./python_api/symbols.js");
    default:
      return undefined;
  }
}

/** The ids ("<chapter>/<program>") this table can load. */
export function loadableExampleIds(): string[] {
  return [
    "first_step/printk_sample",
    "output/perf_output_sample",
    "kprobe/tcpv4connect_simple",
    "kprobe/tcpv4connect_args",
    "uprobe/target_sample",
    "uprobe/uprobe_simple",
    "uprobe/strlen_snoop_simple",
    "usdt/target_sample",
    "usdt/probe_sample",
    "tracepoint/tcp_probe_simple",
    "tracepoint/tcp_probe_filter",
    "tracepoint/tcp_probe",
    "tracepoint/tcp_probe_attach_tracepoint",
    "raw_tracepoint/check_raw_tracepoint",
    "raw_tracepoint/sched_switch_simple",
    "raw_tracepoint/sched_switch_attach_tracepoint",
    "syscall/execve_simple",
    "syscall/execve_kprobe_simple",
    "kfunc/check_kfunc",
    "kfunc/opensnoop_simple",
    "error/error_sample",
    "error/invalid_mem_access",
    "data_access/execve_simple",
    "debug/bpf_override_return",
    "maps/map_table_sample",
    "maps/map_hash_simple",
    "maps/map_hash_sample",
    "maps/map_hash_update",
    "maps/map_hist",
    "maps/map_hist2",
    "maps/map_cpu_array_simple",
    "maps/map_stack_trace",
    "maps/map_perf_array_simple",
    "maps/map_prog_array_simple",
    "maps/map_lpm_trie",
    "maps/map_array_of_maps_sample",
    "maps/map_hash_of_maps_sample",
    "maps/xdp_icmp_count",
    "maps/xdp_devmap",
    "maps/xdp_cpumap",
    "python_api/trace_print",
    "python_api/trace_fields",
    "python_api/task_switch",
    "python_api/map_values_sample",
    "python_api/symbols",
  ];
}

/** The example "<chapter>/<program>", or undefined when there is none. */
export async function loadExample(id: string): Promise<Example | undefined> {
  return (await importExample(id))?.example;
}
