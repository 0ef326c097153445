#!/bin/bash
# The queued half of run.sh (workers started after the submission) with the code of another commit
# (`git archive COMMIT src bin package.json` into OUT/code, `build` and `models` linked): the same sweep,
# 2 workers x 1 thread, on a fresh Redis. Run under flock from the repository root: old-queued.sh COMMIT OUT
# (used with 0cc6f3b, a thread per run, and bf12bd0, threads kept but started at the first job).
set -euo pipefail
commit=${1:?usage: old-queued.sh COMMIT OUT} out=$(realpath -m "${2:?usage: old-queued.sh COMMIT OUT}")
root=$PWD sweep=$PWD/scripts/experiments/queue/sweep.json
rm -rf "$out" && mkdir -p "$out/redis" "$out/code"
git archive "$commit" src bin package.json | tar -x -C "$out/code"
ln -s "$root/build" "$out/code/build" && ln -s "$root/models" "$out/code/models" && ln -s "$root/node_modules" "$out/code/node_modules"
port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
redis-server --port "$port" --bind 127.0.0.1 --dir "$out/redis" --save '' --appendonly no >"$out/redis.log" &
redis_pid=$!; trap 'kill $redis_pid' EXIT
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done
url=redis://127.0.0.1:$port/0
busy() { awk '/^cpu /{print ($2 + $3 + $4 + $7 + $8) / 100}' /proc/stat; }
ours() { awk '{print ($16 + $17) / 100}' /proc/$$/stat; }
cd "$out/code"
t0=$(date +%s.%N) b0=$(busy) c0=$(ours)
node bin/rlcp.js sweep --config "$sweep" --model models/world-base --world models/world-base/world --out "$out/queued" --queue "$url" >/dev/null
workers=()
for w in 1 2; do RLCP_NUM_THREADS=1 CI=1 node bin/rlcp.js worker --queue "$url" --drain 2>"$out/worker$w.log" & workers+=($!); done
wait "${workers[@]}"
t1=$(date +%s.%N) b1=$(busy) c1=$(ours)
echo "code of $commit, queued sweep, 2 workers x 1 thread: $(echo "$t1 - $t0" | bc) s (cpu: ours $(echo "$c1 - $c0" | bc) s, other processes' $(echo "$b1 - $b0 - ($c1 - $c0)" | bc) s)"
grep -h 'finished in' "$out"/worker?.log
