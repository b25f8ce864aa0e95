# The addon's one build description. The repository's binding.gyp includes it
# (scripts/bootstrap.sh: node-gyp rebuild → build/Release/tsbpf.node, linked with
# the system libbpf found by pkg-config). Here, in native/, it also builds an
# installed package's addon from source (cd node_modules/tsbpf/native &&
# npx node-gyp rebuild → native/build/Release/tsbpf.node): the package ships no
# binding.gyp at its root, since npm and pnpm would run node-gyp at install for
# one. scripts/prebuild.sh sets tsbpf_static_deps to a directory of libbpf,
# libelf and zlib built with -fPIC, for the prebuilt addon that needs only glibc.
{
  "variables": { "tsbpf_static_deps%": "" },
  "targets": [
    {
      "target_name": "tsbpf",
      "sources": [
        "addon.c",
        "btf.c",
        "btf_raw.c",
        "btf_scan.c",
        "demangle.c",
        "digest.c",
        "evpoll.c",
        "link.c",
        "mapfile.c",
        "map.c",
        "object.c",
        "perf_event.c",
        "perfbuf.c",
        "probe.c",
        "ringbuf.c",
        "scan_defines.c",
        "spawn.c",
        "cgroup.c",
        "iter.c",
        "trampoline.c",
        "tree_stamps.c",
        "util.c",
        "v8flags.c",
        "xdp.c"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra"],
      "cflags_c": ["-std=gnu11"],
      "conditions": [
        ["tsbpf_static_deps == ''", {
          "cflags": ["<!@(pkg-config --cflags libbpf)"],
          "libraries": ["<!@(pkg-config --libs libbpf)", "-lelf", "-lz", "-lstdc++"]
        }, {
          "sources": ["glibc_compat.c"],
          "include_dirs": ["<(tsbpf_static_deps)/include"],
          "cflags": ["-fvisibility=hidden"],
          "ldflags": [
            "-static-libstdc++",
            "-static-libgcc",
            "-Wl,--exclude-libs,ALL",
            "-Wl,--wrap=stat,--wrap=stat64,--wrap=lstat,--wrap=lstat64",
            "-Wl,--wrap=fstat,--wrap=fstat64,--wrap=fstatat,--wrap=fstatat64"
          ],
          "libraries": [
            "<(tsbpf_static_deps)/lib/libbpf.a",
            "<(tsbpf_static_deps)/lib/libelf.a",
            "<(tsbpf_static_deps)/lib/libz.a"
          ]
        }]
      ]
    }
  ]
}
