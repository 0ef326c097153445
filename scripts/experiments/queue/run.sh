#!/bin/bash
# Issue 21's measurements: a 6-run world sweep (sweep.json: 3 λ × 2 seeds, 100 steps) in one process on
# 2 threads vs queued on 2 local workers of 1 thread each; the queue's overhead per job (the in-process
# sweep's folder submitted to the queue: every job finds its run finished, so its whole cost is the
# queue's, to an idle worker); a run's checkpoint size. Run from the repository root, on an otherwise idle
# machine: scripts/experiments/queue/run.sh OUT. Needs redis-server (started here on a free port).
# The queued sweep is timed twice: with the workers started after the submission (submit to the last
# worker's exit, their start included) and with 2 workers already running (submit to sweep.json).
set -euo pipefail
out=${1:?usage: run.sh OUT}
here=scripts/experiments/queue
rm -rf "$out" && mkdir -p "$out/redis"
port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
redis-server --port "$port" --bind 127.0.0.1 --dir "$out/redis" --save '' --appendonly no >"$out/redis.log" &
redis_pid=$!
trap 'kill $redis_pid' EXIT
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done
url=redis://127.0.0.1:$port/0
# Polls wait on a FIFO nobody writes to, not with `sleep`: a fork per poll cost ≈ 0.1 CPU-s per second
# of waiting on this machine, taken from the runs being timed.
mkfifo "$out/tick"
exec {tick}<>"$out/tick"
pause() { read -r -t "$1" -u "$tick" || true; }
world=(--model models/world-base --world models/world-base/world)
now() { date +%s.%N; }
# CPU seconds the machine spent busy, and those of this script's finished children (its runs and
# workers): what other processes took from the 2 cores during a measurement is the difference.
busy() { awk '/^cpu /{print ($2 + $3 + $4 + $7 + $8) / 100}' /proc/stat; }
ours() { awk '{print ($16 + $17) / 100}' /proc/$$/stat; }
others() { echo "cpu: ours $(echo "$3 - $1" | bc) s, other processes' $(echo "$4 - $2 - ($3 - $1)" | bc) s"; }

t0=$(now) b0=$(busy) c0=$(ours)
RLCP_NUM_THREADS=2 CI=1 node bin/rlcp.js sweep --config $here/sweep.json "${world[@]}" --out "$out/in-process" 2>"$out/in-process.log" >/dev/null
t1=$(now)
echo "in-process sweep, 2 threads: $(echo "$t1 - $t0" | bc) s ($(others "$c0" "$b0" "$(ours)" "$(busy)"))"

t0=$(now) b0=$(busy) c0=$(ours)
node bin/rlcp.js sweep --config $here/sweep.json "${world[@]}" --out "$out/queued" --queue "$url" >/dev/null
workers=()
for w in 1 2; do
  RLCP_NUM_THREADS=1 CI=1 node bin/rlcp.js worker --queue "$url" --drain 2>"$out/worker$w.log" &
  workers+=($!)
done
wait "${workers[@]}"
t1=$(now)
echo "queued sweep, 2 workers x 1 thread: $(echo "$t1 - $t0" | bc) s (submit to last worker exit; $(others "$c0" "$b0" "$(ours)" "$(busy)"))"
grep -h 'queued\|finished in' "$out"/worker?.log

# Queued again, on 2 workers already running (a worker is a long-lived daemon): from submit to the
# sweep.json the worker ending the last run writes, so the workers' own start is not in it. CPU: the
# workers' own (from /proc/PID/stat, all their threads) over that time, and what other processes took.
proc_cpu() { local s=0; for p in "$@"; do s=$(echo "$s + $(awk '{print ($14 + $15) / 100}' /proc/$p/stat)" | bc); done; echo $s; }
workers=()
for w in 1 2; do
  RLCP_NUM_THREADS=1 CI=1 node bin/rlcp.js worker --queue "$url" 2>"$out/running-worker$w.log" &
  workers+=($!)
done
until grep -q 'taking runs' "$out"/running-worker1.log 2>/dev/null && grep -q 'taking runs' "$out"/running-worker2.log 2>/dev/null; do sleep 0.1; done
sleep 3 # their training threads load the trainer's modules meanwhile
t0=$(now) b0=$(busy) c0=$(proc_cpu "${workers[@]}")
node bin/rlcp.js sweep --config $here/sweep.json "${world[@]}" --out "$out/queued-running" --queue "$url" >/dev/null
until [ -f "$out/queued-running/sweep.json" ]; do pause 0.05; done
t1=$(now) b1=$(busy) c1=$(proc_cpu "${workers[@]}")
kill "${workers[@]}" && wait "${workers[@]}" || true
echo "queued sweep, 2 workers x 1 thread already running: $(echo "$t1 - $t0" | bc) s (submit to sweep.json; cpu: workers' $(echo "$c1 - $c0" | bc) s, all processes' $(echo "$b1 - $b0" | bc) s)"
grep -h 'queued\|finished in' "$out"/running-worker?.log

# Queue overhead: one idle worker, then 6 jobs whose runs are finished (the in-process sweep's folder).
RLCP_NUM_THREADS=1 CI=1 node bin/rlcp.js worker --queue "$url" 2>"$out/overhead-worker.log" &
worker=$!
until grep -q 'taking runs' "$out/overhead-worker.log"; do sleep 0.1; done
sleep 1
t0=$(now)
node bin/rlcp.js sweep --config $here/sweep.json "${world[@]}" --out "$out/in-process" --queue "$url" >/dev/null
until [ -f "$out/in-process/queue.json" ] && grep -q 'wrote its sweep.json' "$out/overhead-worker.log"; do pause 0.02; done
t1=$(now)
kill $worker
echo "6 jobs of finished runs, submit to sweep.json: $(echo "$t1 - $t0" | bc) s"
grep -h 'queued\|already finished' "$out/overhead-worker.log"

run=$(ls -d "$out"/queued/*/ | head -1)
echo "checkpoint of $run: $(du -sb "$run"checkpoints/step-* | tail -1)"
echo "model: $(du -sb "$run"model)"
grep -h seconds_per_step "$out"/queued/*/summary.json
