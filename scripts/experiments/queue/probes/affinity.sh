#!/bin/bash
# Two 1-thread runs side by side for 15 s: each thread's allowed CPUs and the CPU it is on.
cd /work/wt-21; rm -rf runs/probe/aff; mkdir -p runs/probe/aff
pids=()
for w in a b; do
  RLCP_NUM_THREADS=1 CI=1 node bin/rlcp.js metabolize --model models/world-base --world models/world-base/world \
    --out runs/probe/aff/$w --steps 100 --seed 0 --set fact.lambda=0.5 >/dev/null 2>&1 &
  pids+=($!)
done
for s in 3 8 14; do
  sleep $((s - ${prev:-0})); prev=$s
  for p in "${pids[@]}"; do
    echo "t=$s pid $p: $(grep Cpus_allowed_list /proc/$p/status)"
    for t in /proc/$p/task/*; do echo "  $(basename $t) $(awk '{print "cpu", $39, "utime", $14}' $t/stat) $(grep Cpus_allowed_list $t/status | cut -f2)"; done | sort -k5 -n -r | head -4
  done
done
kill "${pids[@]}"
