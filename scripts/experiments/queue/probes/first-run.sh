#!/bin/bash
# The first vs the second of two identical 1-thread runs in one thread: main thread, worker thread, and
# the worker thread again under --cpu-prof (profiles in OUT/prof). Run under flock from the repo root.
set -euo pipefail
out=${1:?usage: first-run.sh OUT}; here=scripts/experiments/queue/probes
rm -rf "$out"; mkdir -p "$out"
for mode in main thread; do
  echo "== $mode"
  PROBE_T0=$(date +%s%3N) RLCP_NUM_THREADS=1 CI=1 node --import tsx $here/first-run.ts $mode "$out/$mode" 2>"$out/$mode.log"
done
if [ "${PROF:-0}" = 1 ]; then
  echo "== thread, --cpu-prof"
  PROBE_T0=$(date +%s%3N) RLCP_NUM_THREADS=1 CI=1 node --cpu-prof --cpu-prof-dir "$out/prof" --import tsx $here/first-run.ts thread "$out/prof-run" 2>"$out/prof.log"
fi
