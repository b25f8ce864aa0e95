{
  "targets": [
    {
      "target_name": "tsbpf",
      "sources": [
        "native/addon.c",
        "native/btf.c",
        "native/demangle.c",
        "native/evpoll.c",
        "native/link.c",
        "native/map.c",
        "native/object.c",
        "native/perf_event.c",
        "native/perfbuf.c",
        "native/probe.c",
        "native/ringbuf.c",
        "native/cgroup.c",
        "native/iter.c",
        "native/trampoline.c",
        "native/util.c",
        "native/xdp.c"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "<!@(pkg-config --cflags libbpf)"],
      "cflags_c": ["-std=gnu11"],
      "libraries": ["<!@(pkg-config --libs libbpf)", "-lelf", "-lz", "-lstdc++"]
    }
  ]
}
