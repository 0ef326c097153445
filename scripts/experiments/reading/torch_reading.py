# The same reading experiment in PyTorch (scripts/parity/qwen2_reference.py's model, AdamW, warm-up +
# cosine, batch 64, one thread), to tell a slow-to-learn task from an engine defect. Usage (repo root):
#   /usr/bin/python3 scripts/experiments/reading/torch_reading.py MODEL_DIR IDS.json STEPS
import json, math, struct, sys, time
import numpy as np, torch
sys.path.insert(0, 'scripts/parity')
import qwen2_reference as ref
torch.set_num_threads(1)
cfg = json.load(open(sys.argv[1] + '/config.json'))
raw = open(sys.argv[1] + '/model.safetensors', 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]; hdr = json.loads(raw[8:8+n]); base = 8 + n
params = {}
for k, v in hdr.items():
    if k == '__metadata__': continue
    a, b = v['data_offsets']
    params[k] = torch.tensor(np.frombuffer(raw[base+a:base+b], dtype=np.float32).reshape(v['shape']).copy(), requires_grad=True)
rows = json.load(open(sys.argv[2]))
steps = int(sys.argv[3]); B = 64; lr_peak = 3e-3; warm = 50
opt = torch.optim.AdamW(list(params.values()), lr=lr_peak, weight_decay=0.01)
g = torch.Generator().manual_seed(1)
def lr_at(s):
    if s < warm: return lr_peak * (s + 1) / (warm + 1)
    p = (s - warm) / max(1, steps - warm); return lr_peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))
def batch(idx):
    T = max(len(rows[i]['ids']) for i in idx)
    ids = torch.zeros(len(idx), T, dtype=torch.long); mask = torch.zeros(len(idx), T, dtype=torch.long)
    labels = torch.full((len(idx), T), -100, dtype=torch.long)
    for j, i in enumerate(idx):
        r = rows[i]; L = len(r['ids'])
        ids[j, :L] = torch.tensor(r['ids']); mask[j, :L] = 1
        labels[j, r['start']:L] = torch.tensor(r['ids'][r['start']:])
    pos = torch.arange(T)[None].expand(len(idx), T)
    return ids, mask, labels, pos
def acc(n=200):
    with torch.no_grad():
        idx = list(range(n)); ids, mask, labels, pos = batch(idx)
        logits, _ = ref.forward(params, cfg, ids, mask, pos)
        ok = sum(int(logits[j, rows[i]['answerAt'] - 1].argmax() == rows[i]['ids'][rows[i]['answerAt']]) for j, i in enumerate(idx))
        return ok / n
perm = torch.randperm(len(rows), generator=g).tolist(); ptr = 0
t0 = time.time()
for s in range(steps):
    if ptr + B > len(perm): perm = torch.randperm(len(rows), generator=g).tolist(); ptr = 0
    idx = perm[ptr:ptr+B]; ptr += B
    ids, mask, labels, pos = batch(idx)
    logits, _ = ref.forward(params, cfg, ids, mask, pos)
    loss = ref.causal_lm_loss(logits, labels)
    opt.zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
    for gr in opt.param_groups: gr['lr'] = lr_at(s)
    opt.step()
    if (s + 1) % 100 == 0: print(s + 1, round(loss.item(), 4), 'acc', acc(), round(time.time() - t0), 's', flush=True)
