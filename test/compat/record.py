"""
Runs one of bcc's Python tools with a stand-in for bcc.BPF that records what
the tool asks of bcc (the C text, cflags, USDT contexts, and every load and
attach call) instead of compiling, and stops the tool when it starts waiting
for events. The record is written as JSON to $TSBPF_COMPAT_OUT.

  /usr/bin/python3 record.py /usr/sbin/opensnoop-bpfcc [args...]

The stand-in subclasses the real bcc.BPF, so the class methods that need no
compiled module (get_syscall_fnname, kernel_struct_has_field, ksym,
tracepoint_exists, support_kfunc, ...) answer as bcc does on this machine.
Part of tsbpf's compatibility harness (test/compat/, `npm run compat`).
"""
import json
import os
import runpy
import sys
import time

import bcc

REAL_BPF = bcc.BPF
programs = []
out_path = os.environ.get("TSBPF_COMPAT_OUT", "/dev/stdout")


class Stop(BaseException):
    """The tool has set up everything and now waits for events: stop here.
    A BaseException, so a tool's `except Exception` does not swallow it."""


def text_of(v):
    if v is None:
        return None
    if isinstance(v, bytes):
        return v.decode("utf-8", "surrogateescape")
    if isinstance(v, bcc.ArgString) if hasattr(bcc, "ArgString") else False:
        return bytes(v).decode("utf-8", "surrogateescape")
    return str(v) if not isinstance(v, (int, float, bool)) else v


def plain(kw):
    return {k: text_of(v) for k, v in kw.items() if v is not None}


class AnyObject:
    """What a table or perf buffer looks like to a tool that is only setting up."""

    def __init__(self, name="?"):
        self._name = name

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        if attr in ("items", "values", "keys", "items_lookup_and_delete_batch",
                    "items_lookup_batch", "print_log2_hist", "print_linear_hist",
                    "print_json_hist", "zero", "clear"):
            # Reading results: setup is over.
            def reader(*a, **k):
                if attr in ("clear", "zero"):
                    return None
                raise Stop()
            return reader
        return lambda *a, **k: AnyObject(f"{self._name}.{attr}")

    def __getitem__(self, key):
        return AnyObject(f"{self._name}[]")

    def __setitem__(self, key, value):
        pass

    def __call__(self, *a, **k):
        return AnyObject(self._name)

    def __iter__(self):
        raise Stop()

    def __len__(self):
        return 0

    def __int__(self):
        return 0

    def Key(self, *a):
        return 0

    def Leaf(self, *a):
        return 0


class RecordingBPF(REAL_BPF):
    def __init__(self, src_file=b"", hdr_file=b"", text=None, debug=0, cflags=[],
                 usdt_contexts=[], allow_rlimit=True, device=None,
                 attach_usdt_ignore_pid=False):
        if src_file:
            path = REAL_BPF._find_file(src_file if isinstance(src_file, bytes) else src_file.encode())
            with open(path, "rb") as f:
                text = f.read()
        self._rec = {
            "text": text_of(text) or "",
            "cflags": [text_of(c) for c in cflags],
            "debug": debug,
            "usdt": [u._rec for u in usdt_contexts if hasattr(u, "_rec")],
            "calls": [],
        }
        programs.append(self._rec)
        # What bcc's own __init__ sets up that inherited helpers read.
        self.kprobe_fds = {}
        self.uprobe_fds = {}
        self.tracepoint_fds = {}
        self.raw_tracepoint_fds = {}
        self.kfunc_entry_fds = {}
        self.kfunc_exit_fds = {}
        self.lsm_fds = {}
        self.perf_buffers = {}
        self.open_perf_events = {}
        self._ringbuf_manager = None
        self.tracefile = None
        self.debug = debug
        self.funcs = {}
        self.tables = {}
        self.module = None

    def _call(self, name, **kw):
        self._rec["calls"].append({"call": name, **plain(kw)})

    # Loading and attaching: recorded.
    def load_func(self, func_name, prog_type, device=None, attach_type=-1):
        self._call("load_func", fn_name=func_name, prog_type=prog_type, attach_type=attach_type)
        return REAL_BPF.Function(self, text_of(func_name).encode(), -1)

    def load_funcs(self, prog_type=REAL_BPF.KPROBE):
        self._call("load_funcs", prog_type=prog_type)
        return []

    def attach_kprobe(self, event=b"", event_off=0, fn_name=b"", event_re=b""):
        self._call("attach_kprobe", event=event, event_off=event_off, fn_name=fn_name, event_re=event_re)

    def attach_kretprobe(self, event=b"", fn_name=b"", event_re=b"", maxactive=0):
        self._call("attach_kretprobe", event=event, fn_name=fn_name, event_re=event_re, maxactive=maxactive)

    def attach_tracepoint(self, tp=b"", tp_re=b"", fn_name=b""):
        self._call("attach_tracepoint", tp=tp, tp_re=tp_re, fn_name=fn_name)

    def attach_raw_tracepoint(self, tp=b"", fn_name=b""):
        self._call("attach_raw_tracepoint", tp=tp, fn_name=fn_name)

    def attach_kfunc(self, fn_name=b""):
        self._call("attach_kfunc", fn_name=fn_name)

    def attach_kretfunc(self, fn_name=b""):
        self._call("attach_kretfunc", fn_name=fn_name)

    def attach_lsm(self, fn_name=b""):
        self._call("attach_lsm", fn_name=fn_name)

    def attach_uprobe(self, name=b"", sym=b"", sym_re=b"", addr=None, fn_name=b"", pid=-1, sym_off=0):
        self._call("attach_uprobe", name=name, sym=sym, sym_re=sym_re, addr=addr, fn_name=fn_name,
                   pid=pid, sym_off=sym_off)

    def attach_uretprobe(self, name=b"", sym=b"", sym_re=b"", addr=None, fn_name=b"", pid=-1):
        self._call("attach_uretprobe", name=name, sym=sym, sym_re=sym_re, addr=addr, fn_name=fn_name, pid=pid)

    def attach_perf_event(self, ev_type=-1, ev_config=-1, fn_name=b"", sample_period=0, sample_freq=0,
                          pid=-1, cpu=-1, group_fd=-1):
        self._call("attach_perf_event", ev_type=ev_type, ev_config=ev_config, fn_name=fn_name,
                   sample_period=sample_period, sample_freq=sample_freq, pid=pid, cpu=cpu)

    def attach_perf_event_raw(self, attr=-1, fn_name=b"", pid=-1, cpu=-1, group_fd=-1):
        self._call("attach_perf_event_raw", fn_name=fn_name, pid=pid, cpu=cpu)

    @staticmethod
    def attach_xdp(dev, fn, flags=0):
        programs[-1]["calls"].append({"call": "attach_xdp", "dev": text_of(dev),
                                      "fn_name": text_of(getattr(fn, "name", fn)), "flags": flags})

    @staticmethod
    def attach_raw_socket(fn, dev):
        programs[-1]["calls"].append({"call": "attach_raw_socket", "dev": text_of(dev),
                                      "fn_name": text_of(getattr(fn, "name", fn))})

    @staticmethod
    def get_kprobe_functions(event_re):
        """bcc's, and where it cannot read the kprobe blacklist (a kernel
        without kprobes has none; debugfs not mounted), the text symbols of
        /proc/kallsyms that match, so that the tool picks its functions."""
        try:
            return REAL_BPF.get_kprobe_functions(event_re)
        except OSError:
            import re
            pat = re.compile(event_re if isinstance(event_re, bytes) else event_re.encode())
            fns = []
            with open("/proc/kallsyms", "rb") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 3 and parts[1] in (b"t", b"T") and pat.match(parts[2]):
                        fns.append(parts[2])
            return set(fns)

    def num_open_kprobes(self):
        return sum(1 for c in self._rec["calls"] if c["call"] in ("attach_kprobe", "attach_kretprobe")) or 1

    def num_open_uprobes(self):
        return sum(1 for c in self._rec["calls"] if c["call"] in ("attach_uprobe", "attach_uretprobe")) or 1

    def num_open_tracepoints(self):
        return sum(1 for c in self._rec["calls"] if c["call"] == "attach_tracepoint") or 1

    # Tables: anything goes until results are read.
    def get_table(self, name, keytype=None, leaftype=None, reducer=None):
        return AnyObject(text_of(name))

    def __getitem__(self, key):
        return AnyObject(text_of(key))

    def __setitem__(self, key, leaf):
        pass

    def __iter__(self):
        return iter([])

    # Waiting for events: the end of setup.
    def perf_buffer_poll(self, timeout=-1):
        raise Stop()

    def perf_buffer_consume(self):
        raise Stop()

    def ring_buffer_poll(self, timeout=-1):
        raise Stop()

    def ring_buffer_consume(self):
        raise Stop()

    def kprobe_poll(self, timeout=-1):
        raise Stop()

    def trace_print(self, fmt=None):
        raise Stop()

    def trace_fields(self, nonblocking=False):
        raise Stop()

    def trace_readline(self, nonblocking=False):
        raise Stop()

    def detach_kprobe(self, *a, **k):
        pass

    def detach_kretprobe(self, *a, **k):
        pass

    def detach_tracepoint(self, *a, **k):
        pass

    def detach_uprobe(self, *a, **k):
        pass

    def cleanup(self):
        pass

    def close(self):
        pass


class RecordingUSDT:
    """bcc.USDT without reading the target: records pid/path and enabled probes."""

    def __init__(self, pid=None, path=None):
        self._rec = {"pid": pid, "path": text_of(path), "probes": []}

    def enable_probe(self, probe, fn_name):
        self._rec["probes"].append({"probe": text_of(probe), "fn_name": text_of(fn_name)})

    def enable_probe_or_bail(self, probe, fn_name):
        self.enable_probe(probe, fn_name)

    def get_text(self):
        return ""

    def get_context(self):
        return None

    def enumerate_probes(self):
        return []

    def enumerate_active_probes(self):
        return []


def stop_sleeping(*a, **k):
    raise Stop()


def main():
    tool = sys.argv[1]
    sys.argv = [tool] + sys.argv[2:]
    bcc.BPF = RecordingBPF
    bcc.USDT = RecordingUSDT
    time.sleep = stop_sleeping
    status = "stopped"
    error = None
    try:
        runpy.run_path(tool, run_name="__main__")
        status = "returned"
    except Stop:
        status = "stopped"
    except SystemExit as e:
        status = "exited"
        error = None if e.code in (None, 0) else str(e.code)
    except BaseException as e:  # noqa: BLE001 - every failure of the tool is a result
        status = "failed"
        error = f"{type(e).__name__}: {e}"
    with open(out_path, "w") as f:
        json.dump({"tool": os.path.basename(tool), "args": sys.argv[1:], "status": status,
                   "error": error, "programs": programs}, f)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
