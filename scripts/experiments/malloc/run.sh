#!/bin/bash
# A/B of glibc's default malloc thresholds against those bin/rlcp.js used to set, interleaved (the machine is
# noisy). Run from the repository root: scripts/experiments/malloc/run.sh [PAIRS=4]
set -euo pipefail
here=scripts/experiments/malloc
tuned=(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=67108864)
for _ in $(seq "${1:-4}"); do
  for setting in default tuned; do
    if [ $setting = tuned ]; then vars=("${tuned[@]}"); else vars=(RLCP_MALLOC_AB=default); fi
    echo "$setting: $(env "${vars[@]}" node --import tsx $here/gemm-faults.ts);" \
      "$(env "${vars[@]}" node --import tsx $here/world-step.ts 20)"
  done
done
