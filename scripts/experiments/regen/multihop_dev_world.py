# Usage (repo root): python3 scripts/experiments/regen/multihop_dev_world.py
# Dev world for the multi-hop choice: models/world-base/world with a quarter of multihop_train's cities
# (seeded shuffle) moved to multihop_test; the shipped multihop_test is not read.
import json, os, random, shutil
src, dst = 'models/world-base/world', 'runs/world-mhdev'
if os.path.exists(dst): shutil.rmtree(dst)
shutil.copytree(src, dst)
recs = [json.loads(l) for l in open(f'{src}/multihop_train.jsonl')]
cities = sorted({r['subject'] for r in recs})
random.Random(18).shuffle(cities)
dev = set(cities[: len(cities) // 4])
train = [r for r in recs if r['subject'] not in dev]
test = [r for r in recs if r['subject'] in dev]
def write(name, rows):
    with open(f'{dst}/{name}.jsonl', 'w') as f:
        for i, r in enumerate(rows):
            r = dict(r, id=f'{name}-{i:05d}', split=name)
            f.write(json.dumps(r) + '\n')
write('multihop_train', train); write('multihop_test', test)
print(len(cities), 'cities;', len(dev), 'dev cities;', len(train), 'train /', len(test), 'dev records;',
      sum(r['hop']=='currency' for r in test), 'currency in dev')
