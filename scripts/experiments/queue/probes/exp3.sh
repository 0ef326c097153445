#!/bin/bash
# --single-threaded-gc: solo 1-thread run, then pairs of 1-thread runs without and with it.
cd /work/wt-21; out=runs/probe/exp3; rm -rf $out; mkdir -p $out
busy() { awk '/^cpu /{print ($2+$3+$4+$7+$8)/100}' /proc/stat; }
run() { # name flags
  RLCP_NUM_THREADS=1 CI=1 perf stat -x, -e task-clock -o $out/$1.perf node $2 bin/rlcp.js metabolize --model models/world-base \
    --world models/world-base/world --out $out/$1 --steps 100 --seed 0 --set fact.lambda=0.5 >/dev/null 2>$out/$1.err
}
phase() { # label names... (flags in $flags)
  local label=$1; shift; local b0=$(busy) t0=$(date +%s.%N) ours=0
  for n in "$@"; do run $n "$flags" & done; wait
  local t1=$(date +%s.%N) b1=$(busy)
  for n in "$@"; do ours=$(echo "$ours + $(grep task-clock $out/$n.perf | cut -d, -f1) / 1000" | bc -l); done
  echo "$label: wall $(echo "$t1 - $t0" | bc) s, cpu $(echo $ours | cut -c1-6) s, others $(echo "$b1 - $b0 - $ours" | bc -l | cut -c1-6) s"
}
flags="--single-threaded-gc" phase "solo stgc" s1
flags="" phase "pair" p1 p2
flags="--single-threaded-gc" phase "pair stgc" q1 q2
grep -h seconds_per_step $out/*/summary.json | tr '\n' ' '; echo
