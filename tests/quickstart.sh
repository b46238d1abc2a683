#!/usr/bin/env bash
# Quick start: installs what is missing, builds TotalRecall, and runs the
# main job on an embedded default: a throwaway PostgreSQL 15 archiving its
# WAL to the fs driver, a base backup, a restore into a new directory that
# recovers to the latest state with the same data.  Removes what it made.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash tests/install-deps.sh build
[ -x configure ] || autoreconf -fi >/dev/null 2>&1
[ -f Makefile ] || ./configure >/dev/null
make -j"$(nproc)" >/dev/null
exec bash tests/integration/demo.sh
