#!/bin/sh
# Checks the addon's and the tools' C against .clang-format (bootstrap installs clang-format).
set -eu
cd "$(dirname "$0")/.."
clang-format --dry-run -Werror native/*.c native/*.h tools/*.bpf.c tools/include/*.h
