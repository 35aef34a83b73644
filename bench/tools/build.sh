#!/usr/bin/env bash
# Builds the benchmark's C tools into bench/out/tools (git-ignored): openloop, the open-loop load generator.
set -euo pipefail
tools=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$tools/../out/tools
mkdir -p "$out"
gcc -std=c11 -O2 -Wall -Wextra -Werror -o "$out/openloop" "$tools/openloop.c" -lm -lpthread
