#!/bin/bash
# each probe alone, then two copies at once (2 vCPUs), twice
cd /work/wt-21/runs/probe
for rep in 1 2; do
for args in "fma" "16 10000000" "512 250000" "8192 8000" "262144 15"; do
  ./smt $args; ./smt $args & ./smt $args; wait
done; done
