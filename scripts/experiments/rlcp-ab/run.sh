#!/bin/bash
# A/B of the rlcp-0.5b-lora step (bench/README.md, "Profile and fixes"): the engine at BASE (default
# 5047ea2, before issue 22's fixes) with this checkout's bench harness, against this checkout, alternated
# for ROUNDS rounds of `bench --profile-only --size rlcp-0.5b-lora --warmup 1 --steps 1`.
# Usage (heavy: take the CPU lock): flock /work/cpu.lock scripts/experiments/rlcp-ab/run.sh [BASE] [ROUNDS]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../../.." && pwd)
base_commit=${1:-5047ea2}
rounds=${2:-2}
base="$repo/.tmp/rlcp-ab-base"
out="$repo/runs/rlcp-ab"
rm -rf "$base" && mkdir -p "$base" "$out"
git -C "$repo" archive "$base_commit" | tar -x -C "$base"
ln -s "$repo/node_modules" "$base/node_modules"
cp "$repo"/bench/*.ts "$repo"/bench/*.py "$base/bench/"
(cd "$base" && node /usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js rebuild --nodedir=/usr >/dev/null)
for i in $(seq 1 "$rounds"); do
  for side in base new; do
    dir=$([ "$side" = base ] && echo "$base" || echo "$repo")
    echo "== $side $i $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
    (cd "$dir" && node bin/rlcp.js bench --profile-only --size rlcp-0.5b-lora --warmup 1 --steps 1) \
      >"$out/$side-$i.out" 2>"$out/$side-$i.err"
    grep -E "peak RSS|sampling over" "$out/$side-$i.out"
  done
done
echo "== end $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
