#!/bin/bash
# run.sh's queued parts only (workers started at submit, then 2 workers already running, their node
# flags from WORKER_NODE_FLAGS): run.sh without its in-process sweep and what follows the queued parts.
# Run under flock from the repository root: probes/running.sh OUT
set -euo pipefail
out=${1:?usage: running.sh OUT}
mkdir -p "$(dirname "$out")"
awk '/^t0=\$\(now\) b0=\$\(busy\) c0=\$\(ours\)$/ && !skipped { skip = 4; skipped = 1 } skip > 0 { skip--; next }
     /^# Queue overhead/ { exit } { print }' scripts/experiments/queue/run.sh > "$out.sh"
bash "$out.sh" "$out"
