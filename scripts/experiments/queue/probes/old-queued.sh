#!/bin/bash
# The queued half of run.sh with the code before this branch (commit 0cc6f3b: a thread per run, V8's
# default GC threads): the same sweep, 2 workers x 1 thread, on a fresh Redis.
set -euo pipefail
cd /work/wt-21; out=$PWD/runs/probe/old-measure; rm -rf $out; mkdir -p $out/redis
port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
redis-server --port "$port" --bind 127.0.0.1 --dir "$out/redis" --save '' --appendonly no >"$out/redis.log" &
redis_pid=$!; trap 'kill $redis_pid' EXIT
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done
url=redis://127.0.0.1:$port/0
busy() { awk '/^cpu /{print ($2 + $3 + $4 + $7 + $8) / 100}' /proc/stat; }
ours() { awk '{print ($16 + $17) / 100}' /proc/$$/stat; }
cd runs/probe/old
t0=$(date +%s.%N) b0=$(busy) c0=$(ours)
node bin/rlcp.js sweep --config /work/wt-21/scripts/experiments/queue/sweep.json --model models/world-base --world models/world-base/world --out "$out/queued" --queue "$url" >/dev/null
workers=()
for w in 1 2; do RLCP_NUM_THREADS=1 CI=1 node bin/rlcp.js worker --queue "$url" --drain 2>"$out/worker$w.log" & workers+=($!); done
wait "${workers[@]}"
t1=$(date +%s.%N) b1=$(busy) c1=$(ours)
echo "old code, queued sweep, 2 workers x 1 thread: $(echo "$t1 - $t0" | bc) s (cpu: ours $(echo "$c1 - $c0" | bc) s, other processes' $(echo "$b1 - $b0 - ($c1 - $c0)" | bc) s)"
grep -h 'finished in' "$out"/worker?.log
