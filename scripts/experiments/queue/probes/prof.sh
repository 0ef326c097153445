#!/bin/bash
# CPU profile of one 1-thread run (setup included)
cd /work/wt-21; rm -rf runs/probe/prof; mkdir -p runs/probe/prof
t0=$(date +%s.%N)
RLCP_NUM_THREADS=1 CI=1 node --cpu-prof --cpu-prof-dir runs/probe/prof bin/rlcp.js metabolize --model models/world-base --world models/world-base/world \
    --out runs/probe/prof/run --steps 100 --seed 0 --set fact.lambda=0.5 >/dev/null 2>&1
echo "wall $(echo "$(date +%s.%N) - $t0" | bc)"
