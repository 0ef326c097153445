#!/bin/bash
# Solo 100-step runs: 1 thread, 1 thread with --single-threaded-gc, 2 threads; an in-process 2-run sweep
# on 1 thread (cold vs warm run). Each with its CPU time and the CPU others used meanwhile.
cd /work/wt-21; out=runs/probe/exp2; rm -rf $out; mkdir -p $out
busy() { awk '/^cpu /{print ($2+$3+$4+$7+$8)/100}' /proc/stat; }
one() { # name threads node-options cmd...
  local name=$1 threads=$2 opts=$3; shift 3
  local b0=$(busy) t0=$(date +%s.%N)
  RLCP_NUM_THREADS=$threads CI=1 NODE_OPTIONS="$opts" perf stat -x, -e task-clock -o $out/$name.perf "$@" >$out/$name.out 2>$out/$name.err
  local t1=$(date +%s.%N) b1=$(busy)
  local ours=$(grep task-clock $out/$name.perf | cut -d, -f1)
  echo "$name: wall $(echo "$t1 - $t0" | bc) s, cpu $(echo "$ours / 1000" | bc -l | cut -c1-6) s, others $(echo "$b1 - $b0 - $ours / 1000" | bc -l | cut -c1-6) s"
}
meta() { echo node bin/rlcp.js metabolize --model models/world-base --world models/world-base/world --out $out/$1 --steps 100 --seed 0 --set fact.lambda=0.5; }
one t1 1 "" $(meta t1)
one t1-stgc 1 "--single-threaded-gc" $(meta t1-stgc)
one t2 2 "" $(meta t2)
cat > $out/sweep2.json <<'J'
{ "base": { "steps": 100 }, "grid": { "fact.lambda": [0.5] }, "seeds": [0, 1] }
J
one sweep2-t1 1 "" node bin/rlcp.js sweep --config $out/sweep2.json --model models/world-base --world models/world-base/world --out $out/sweep2
grep -h seconds_per_step $out/*/summary.json $out/sweep2/*/summary.json
