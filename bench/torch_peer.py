#!/usr/bin/python3
"""PyTorch peer of `rlcp bench` (bench/run.ts): the same measurements as bench/rlcp-worker.ts.

Reads one JSON command per stdin line and answers each with one stdout line `@@bench {json}`:
  info                                       torch version, BLAS library and its core, threads
  train_init {dir, ids_path, batch, seq, lr, weight_decay, clip}
  train_step {threads}                       forward + backward + clip_grad_norm_ + AdamW; {ms, loss}
  infer_init {dir}                           weights parsed by hand from safetensors; {load_s}
  prefill {threads, ids_path, session, max_new, logits_path?}   fresh KV cache; {ms, token}
  decode {threads, session, n}               greedy with the KV cache; {ms: [...], tokens: [...]}
  sgemm {threads, n, reps}                   torch.mm; {gflops: [...]}
  gemm_shapes {threads, shapes, reps}        torch.mm at the step's GEMM shapes; {gflops: {name: [...]}}
  rlcp_init {dir, inputs_path, spec, seed}   rlcp-0.5b-lora: LoRA adapters, probes, generic targets
  rlcp_step {threads}                        one RLCP step (bench/sizes.ts RLCP_05B_LORA); {ms, loss}
  generate {threads, prompts_path, pieces_path, max_new, stop, eos, pad, vocab_limit, share_prefix}
                                             gsm8k-0.5b: batched greedy generation with left padding, one
                                             KV cache, the shared prompt prefix run once (after infer_init);
                                             {prefill_ms, step_ms, total_ms,
                                             tokens, stop_reasons}
  status                                     {vmhwm_mb, vmrss_mb}
  exit

The model is scripts/parity/qwen2_reference.py (plain PyTorch, written from Hugging Face's
modeling_qwen2.py): its RMSNorm, RoPE, eager attention and SwiGLU MLP for training; for inference the
same blocks with a preallocated KV cache. Weights come from the model folder rlcp wrote (F32 or BF16
safetensors, parsed here without the safetensors package), so both sides start from identical weights.

Threads: torch.set_num_threads(n), and openblas_set_num_threads(n) when the BLAS is OpenBLAS (its
pthread build ignores torch's setting; otherwise "1 thread" would still run GEMMs on every core).
Run with Debian's torch: /usr/bin/python3.
"""
import ctypes
import json
import math
import mmap
import os
import re
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'scripts', 'parity'))
import qwen2_reference as ref  # noqa: E402

REPLY_PREFIX = '@@bench '


# ---- environment ----

def mapped_libraries():
    with open('/proc/self/maps') as f:
        return sorted(set(re.findall(r'(/\S+\.so[.\d]*)', f.read())))


def _openblas():
    for path in mapped_libraries():
        if 'openblas' in os.path.basename(path):
            try:
                lib = ctypes.CDLL(path)
                lib.openblas_set_num_threads  # noqa: B018 (probe the symbol)
                return lib
            except (OSError, AttributeError):
                continue
    return None


OPENBLAS = _openblas()


def set_threads(n):
    torch.set_num_threads(n)
    if OPENBLAS is not None:
        OPENBLAS.openblas_set_num_threads(n)


def blas_info():
    libs = mapped_libraries()
    blas = [p for p in libs if re.search(r'blas|mkl|blis|atlas', os.path.basename(p))]
    # Debian's libtorch links libblas.so.3: the first one mapped is the one its GEMMs bind to, whichever
    # alternative or LD_LIBRARY_PATH folder provided it. OpenBLAS can be mapped as well (through
    # liblapack.so.3) while the GEMMs still run on the reference library, so the OpenBLAS probe alone
    # does not tell.
    libblas = next((p for p in blas if os.path.basename(p).startswith('libblas.so.3')), None)
    info = {'libraries': blas, 'libblas': libblas, 'openblas': OPENBLAS is not None}
    # Debian's reference BLAS (libblas3, .../blas/libblas.so.3) is the netlib Fortran code: ~6 GFLOP/s.
    reference = libblas is not None and os.path.basename(os.path.dirname(libblas)) == 'blas'
    if OPENBLAS is not None and not reference:
        for fn in ('openblas_get_corename', 'openblas_get_config'):
            f = getattr(OPENBLAS, fn, None)
            if f is not None:
                f.restype = ctypes.c_char_p
                info[fn[len('openblas_get_'):]] = f().decode()
    info['reference_blas'] = reference
    return info


def memory_status():
    with open('/proc/self/status') as f:
        status = f.read()

    def kb(key):
        m = re.search(r'^%s:\s+(\d+) kB' % key, status, re.M)
        return int(m.group(1)) if m else float('nan')
    return {'vmhwm_mb': kb('VmHWM') / 1024, 'vmrss_mb': kb('VmRSS') / 1024}


# ---- weights: safetensors parsed by hand ----

def load_safetensors(path, into):
    with open(path, 'rb') as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        (n,) = struct.unpack('<Q', mm[:8])
        header = json.loads(mm[8:8 + n])
        base = 8 + n
        for name, info in header.items():
            if name == '__metadata__':
                continue
            begin, end = info['data_offsets']
            dtype, shape = info['dtype'], info['shape']
            if dtype == 'F32':
                arr = np.frombuffer(mm, dtype='<f4', count=(end - begin) // 4, offset=base + begin).copy()
            elif dtype == 'BF16':
                raw = np.frombuffer(mm, dtype='<u2', count=(end - begin) // 2, offset=base + begin)
                arr = (raw.astype(np.uint32) << 16).view(np.float32)
                del raw
            elif dtype == 'F16':
                arr = np.frombuffer(mm, dtype='<f2', count=(end - begin) // 2, offset=base + begin).astype(np.float32)
            else:
                raise ValueError('%s: unsupported dtype %s for %s' % (path, dtype, name))
            into[name] = torch.from_numpy(arr).reshape(shape)
    finally:
        mm.close()


def load_model_folder(model_dir):
    with open(os.path.join(model_dir, 'config.json')) as f:
        cfg = json.load(f)
    tensors = {}
    index = os.path.join(model_dir, 'model.safetensors.index.json')
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)['weight_map'].values()))
    else:
        files = ['model.safetensors']
    for name in files:
        load_safetensors(os.path.join(model_dir, name), tensors)
    expected = ref.param_shapes(cfg)
    missing = [n for n in expected if n not in tensors]
    if missing:
        raise ValueError('%s: missing tensors %s' % (model_dir, ', '.join(missing[:5])))
    return cfg, {n: tensors[n] for n in expected}


def read_ids(path):
    with open(path, 'rb') as f:
        return torch.from_numpy(np.frombuffer(f.read(), dtype='<i4').astype(np.int64))


# ---- training: the reference model, loss on the B·(T − 1) rows that have a target ----

class Training:
    def __init__(self, cmd):
        cfg, tensors = load_model_folder(cmd['dir'])
        self.cfg = cfg
        self.params = {n: t.requires_grad_(True) for n, t in tensors.items()}
        self.batch, self.seq = cmd['batch'], cmd['seq']
        self.ids = read_ids(cmd['ids_path']).reshape(self.batch, self.seq)
        self.clip = cmd['clip']
        self.optimizer = torch.optim.AdamW(list(self.params.values()), lr=cmd['lr'],
                                           weight_decay=cmd['weight_decay'], betas=(0.9, 0.999), eps=1e-8)
        position_ids = torch.arange(self.seq).expand(self.batch, self.seq)
        self.cos, self.sin = ref.rotary_cos_sin(position_ids, ref.head_dim(cfg), cfg['rope_theta'], torch.float32)
        self.mask = ref.additive_mask(torch.ones(self.batch, self.seq, dtype=torch.int64), torch.float32)

    def loss(self):
        cfg, params = self.cfg, self.params
        eps = cfg['rms_norm_eps']
        h = F.embedding(self.ids, params['model.embed_tokens.weight'])
        for layer in range(cfg['num_hidden_layers']):
            p = 'model.layers.%d.' % layer
            h = h + ref.attention(ref.rms_norm(h, params[p + 'input_layernorm.weight'], eps), params,
                                  p + 'self_attn.', cfg, self.cos, self.sin, self.mask)
            h = h + ref.mlp(ref.rms_norm(h, params[p + 'post_attention_layernorm.weight'], eps), params, p + 'mlp.')
        h = ref.rms_norm(h, params['model.norm.weight'], eps)
        head = params['model.embed_tokens.weight'] if cfg['tie_word_embeddings'] else params['lm_head.weight']
        logits = F.linear(h[:, :-1].reshape(-1, h.shape[-1]), head)
        return F.cross_entropy(logits, self.ids[:, 1:].reshape(-1))

    def step(self):
        start = time.perf_counter()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params.values(), self.clip)
        self.optimizer.step()
        ms = (time.perf_counter() - start) * 1000
        return {'ms': ms, 'loss': loss.item()}


# ---- rlcp-0.5b-lora: one RLCP step, the work of bench/rlcp-worker.ts rlcpStep ----

class GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lam):
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.lam * grad, None


def stream_rows(s):
    return torch.tensor([b * s['seq'] + s['seq'] - 1 - s['rows'] + r
                         for b in range(s['batch']) for r in range(s['rows'])])


def kl_rows(ref_logits, logits):
    # KL(softmax(ref) ‖ softmax(logits)) summed over the vocabulary, mean over rows (rlcp's klDiv).
    return F.kl_div(F.log_softmax(logits, -1), F.log_softmax(ref_logits, -1), log_target=True,
                    reduction='sum') / logits.shape[0]


class RlcpStep:
    """The frozen base (also the reference), LoRA adapters on every projection, one probe per probe layer."""

    def __init__(self, cmd):
        cfg, params = load_model_folder(cmd['dir'])
        self.cfg, self.params, self.spec = cfg, params, cmd['spec']
        with open(cmd['inputs_path']) as f:
            self.inputs = json.load(f)
        spec = self.spec
        gen = torch.Generator().manual_seed(cmd['seed'])
        rank, alpha = spec['lora']['rank'], spec['lora']['alpha']
        self.scaling = alpha / rank
        self.lora = {}
        for name, w in params.items():
            m = re.match(r'model\.layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.weight$', name)
            if m and m.group(2) in spec['lora']['targets']:
                out, inp = w.shape
                a = (torch.randn(rank, inp, generator=gen) / math.sqrt(inp)).requires_grad_(True)
                self.lora[name] = (a, torch.zeros(out, rank, requires_grad=True))
        d, k = cfg['hidden_size'], spec['probeClasses']
        self.probes = [((torch.randn(k, d, generator=gen) / math.sqrt(d)).requires_grad_(True),
                        torch.zeros(k, requires_grad=True)) for _ in spec['probeLayers']]
        self.probe_opt = torch.optim.AdamW([t for p in self.probes for t in p], lr=spec['probeLr'], weight_decay=0)
        self.lora_params = [t for pair in self.lora.values() for t in pair]
        self.optimizer = torch.optim.AdamW(self.lora_params, lr=spec['lr'], weight_decay=0)
        self.head = params['model.embed_tokens.weight'] if cfg['tie_word_embeddings'] else params['lm_head.weight']
        self.rope = {}
        with torch.no_grad():
            _, logits = self.forward('fact', lora=False, logits=True, hidden=False)
        self.generic_targets = logits

    def linear(self, x, name, lora):
        y = F.linear(x, self.params[name], self.params.get(name[:-len('weight')] + 'bias'))
        if lora and name in self.lora:
            a, b = self.lora[name]
            y = y + self.scaling * F.linear(F.linear(x, a), b)
        return y

    def layer(self, h, p, lora, cos, sin, mask):
        cfg, eps = self.cfg, self.cfg['rms_norm_eps']
        b, t, _ = h.shape
        nq, nkv, dh = cfg['num_attention_heads'], cfg['num_key_value_heads'], ref.head_dim(cfg)
        x = ref.rms_norm(h, self.params[p + 'input_layernorm.weight'], eps)

        def proj(name, heads):
            return self.linear(x, p + 'self_attn.' + name + '.weight', lora).view(b, t, heads, dh).transpose(1, 2)

        q, k, v = proj('q_proj', nq), proj('k_proj', nkv), proj('v_proj', nkv)
        q, k = ref.apply_rotary(q, k, cos, sin)
        k, v = ref.repeat_kv(k, nq // nkv), ref.repeat_kv(v, nq // nkv)
        probs = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(dh) + mask, dim=-1)
        out = (probs @ v).transpose(1, 2).reshape(b, t, nq * dh)
        h = h + self.linear(out, p + 'self_attn.o_proj.weight', lora)
        x = ref.rms_norm(h, self.params[p + 'post_attention_layernorm.weight'], eps)
        gate = self.linear(x, p + 'mlp.gate_proj.weight', lora)
        up = self.linear(x, p + 'mlp.up_proj.weight', lora)
        return h + self.linear(F.silu(gate) * up, p + 'mlp.down_proj.weight', lora)

    def forward(self, stream, lora, logits, hidden):
        """(hidden states in HF's convention or None, logits at the stream's trained rows or None)."""
        cfg, s = self.cfg, self.spec[stream]
        b, t = s['batch'], s['seq']
        if (b, t) not in self.rope:
            positions = torch.arange(t).expand(b, t)
            cos, sin = ref.rotary_cos_sin(positions, ref.head_dim(cfg), cfg['rope_theta'], torch.float32)
            self.rope[b, t] = (cos, sin, ref.additive_mask(torch.ones(b, t, dtype=torch.int64), torch.float32))
        cos, sin, mask = self.rope[b, t]
        ids = torch.tensor(self.inputs[stream]).reshape(b, t)
        h = F.embedding(ids, self.params['model.embed_tokens.weight'])
        states = []
        for layer in range(cfg['num_hidden_layers']):
            states.append(h)
            h = self.layer(h, 'model.layers.%d.' % layer, lora, cos, sin, mask)
        h = ref.rms_norm(h, self.params['model.norm.weight'], cfg['rms_norm_eps'])
        states.append(h)
        out = F.linear(h.reshape(b * t, -1)[stream_rows(s)], self.head) if logits else None
        return (states if hidden else None), out

    def features(self, states, stream):
        s = self.spec[stream]
        return [states[l][:, s['seq'] - 1 - s['rows']] for l in self.spec['probeLayers']]

    def step(self):
        spec = self.spec
        start = time.perf_counter()
        total = 0.0
        states, logits = self.forward('fact', lora=True, logits=True, hidden=True)
        own = self.features(states, 'fact')
        with torch.no_grad():
            retain_states, _ = self.forward('probe', lora=True, logits=False, hidden=True)
            retain = self.features(retain_states, 'probe')
        del retain_states
        fact_labels = torch.tensor(self.inputs['fact_labels'])
        labels = torch.cat([fact_labels, torch.tensor(self.inputs['probe_labels'])])
        self.probe_opt.zero_grad(set_to_none=True)
        for (w, bias), f, r in zip(self.probes, own, retain):
            F.cross_entropy(F.linear(torch.cat([f.detach(), r]), w, bias), labels).backward()
        self.probe_opt.step()
        # Objective "uniform": the probe side's KL(u ‖ p), reversed into the backbone (src/unlearn/probes.ts).
        k = spec['probeClasses']
        adv = 0
        for (w, bias), f in zip(self.probes, own):
            logp = F.log_softmax(F.linear(GradReverse.apply(f, spec['lambda']), w.detach(), bias.detach()), -1)
            adv = adv - (-logp.mean() - math.log(k))
        loss = adv / len(self.probes) + spec['generic'] * kl_rows(self.generic_targets, logits)
        total += loss.item()
        loss.backward()
        del states, own, logits, loss
        for name in ('logic', 'retain', 'rag'):
            s = spec[name]
            ids = torch.tensor(self.inputs[name])
            targets = ids[stream_rows(s) + 1]
            _, logits = self.forward(name, lora=True, logits=True, hidden=False)
            with torch.no_grad():
                _, ref_logits = self.forward(name, lora=False, logits=True, hidden=False)
            loss = F.cross_entropy(logits, targets) + spec['beta'] * kl_rows(ref_logits, logits)
            total += loss.item()
            loss.backward()
            del logits, ref_logits, loss
        torch.nn.utils.clip_grad_norm_(self.lora_params, spec['clip'])
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return {'ms': (time.perf_counter() - start) * 1000, 'loss': total}


# ---- inference: the reference blocks with a preallocated KV cache ----

class Inference:
    def __init__(self, cmd):
        start = time.perf_counter()
        cfg, params = load_model_folder(cmd['dir'])
        self.load_s = time.perf_counter() - start
        self.cfg, self.params = cfg, params
        self.head = params['model.embed_tokens.weight'] if cfg['tie_word_embeddings'] else params['lm_head.weight']
        self.sessions = {}

    def new_cache(self, max_len):
        cfg = self.cfg
        shape = (1, cfg['num_key_value_heads'], max_len, ref.head_dim(cfg))
        return {'k': [torch.zeros(shape) for _ in range(cfg['num_hidden_layers'])],
                'v': [torch.zeros(shape) for _ in range(cfg['num_hidden_layers'])],
                'length': 0}

    def attention(self, x, p, cache, layer, cos, sin):
        cfg, params = self.cfg, self.params
        b, t, _ = x.shape
        nq, nkv, dh = cfg['num_attention_heads'], cfg['num_key_value_heads'], ref.head_dim(cfg)
        groups = nq // nkv

        def proj(name, heads):
            y = F.linear(x, params[p + name + '.weight'], params.get(p + name + '.bias'))
            return y.view(b, t, heads, dh).transpose(1, 2)

        q, k, v = proj('q_proj', nq), proj('k_proj', nkv), proj('v_proj', nkv)
        q, k = ref.apply_rotary(q, k, cos, sin)
        past = cache['length']
        total = past + t
        cache['k'][layer][:, :, past:total] = k
        cache['v'][layer][:, :, past:total] = v
        keys, values = cache['k'][layer][:, :, :total], cache['v'][layer][:, :, :total]
        # Grouped-query attention without repeat_kv copies: query head h reads kv head h // groups.
        qg = q.reshape(b, nkv, groups * t, dh)
        scores = qg @ keys.transpose(2, 3) / math.sqrt(dh)
        if t > 1:
            query_pos = past + torch.arange(t).repeat(groups)
            scores = scores.masked_fill(torch.arange(total)[None, :] > query_pos[:, None], float('-inf'))
        out = (torch.softmax(scores, dim=-1) @ values).reshape(b, nq, t, dh)
        out = out.transpose(1, 2).reshape(b, t, nq * dh)
        return F.linear(out, params[p + 'o_proj.weight'], params.get(p + 'o_proj.bias'))

    def forward_last(self, ids, cache):
        """Logits [V] of the last position of ids [1, T], appending to the cache."""
        cfg, params = self.cfg, self.params
        eps = cfg['rms_norm_eps']
        t = ids.shape[1]
        positions = torch.arange(cache['length'], cache['length'] + t)[None]
        cos, sin = ref.rotary_cos_sin(positions, ref.head_dim(cfg), cfg['rope_theta'], torch.float32)
        h = F.embedding(ids, params['model.embed_tokens.weight'])
        for layer in range(cfg['num_hidden_layers']):
            p = 'model.layers.%d.' % layer
            h = h + self.attention(ref.rms_norm(h, params[p + 'input_layernorm.weight'], eps),
                                   p + 'self_attn.', cache, layer, cos, sin)
            h = h + ref.mlp(ref.rms_norm(h, params[p + 'post_attention_layernorm.weight'], eps), params, p + 'mlp.')
        cache['length'] += t
        last = ref.rms_norm(h[:, -1], params['model.norm.weight'], eps)
        return F.linear(last, self.head)[0]

    def prefill(self, cmd):
        ids = read_ids(cmd['ids_path'])[None]
        cache = self.new_cache(ids.shape[1] + cmd['max_new'])
        with torch.no_grad():
            start = time.perf_counter()
            logits = self.forward_last(ids, cache)
            token = int(torch.argmax(logits))
            ms = (time.perf_counter() - start) * 1000
        if isinstance(cmd.get('logits_path'), str):
            with open(cmd['logits_path'], 'wb') as f:
                f.write(logits.numpy().astype('<f4').tobytes())
        self.sessions[cmd['session']] = {'cache': cache, 'next': token}
        return {'ms': ms, 'token': token}

    def decode(self, cmd):
        state = self.sessions[cmd['session']]
        ms, tokens = [], []
        with torch.no_grad():
            for _ in range(cmd['n']):
                start = time.perf_counter()
                logits = self.forward_last(torch.tensor([[state['next']]]), state['cache'])
                state['next'] = int(torch.argmax(logits))
                ms.append((time.perf_counter() - start) * 1000)
                tokens.append(state['next'])
        return {'ms': ms, 'tokens': tokens}

    # ---- gsm8k-0.5b: batched greedy generation (rlcp's src/nn/generate.ts, the same batching) ----

    def forward_batch(self, ids, positions, cache, key_mask):
        """Logits [B, V] of the last position of ids [B, T]; keys masked by key_mask [B, length + T]."""
        cfg, params = self.cfg, self.params
        eps = cfg['rms_norm_eps']
        b, t = ids.shape
        nq, nkv, dh = cfg['num_attention_heads'], cfg['num_key_value_heads'], ref.head_dim(cfg)
        groups = nq // nkv
        cos, sin = ref.rotary_cos_sin(positions, dh, cfg['rope_theta'], torch.float32)
        past = cache['length']
        total = past + t
        # Additive mask [B, 1, groups·T, total] (HF's dtype-min, so an all-padding query row stays finite).
        query_pos = past + torch.arange(t).repeat(groups)
        allowed = (torch.arange(total)[None, :] <= query_pos[:, None])[None] & key_mask.bool()[:, None, :]
        mask = torch.zeros(b, 1, groups * t, total).masked_fill_(~allowed[:, None], torch.finfo(torch.float32).min)
        h = F.embedding(ids, params['model.embed_tokens.weight'])
        for layer in range(cfg['num_hidden_layers']):
            p = 'model.layers.%d.' % layer
            x = ref.rms_norm(h, params[p + 'input_layernorm.weight'], eps)

            def proj(name, heads):
                y = F.linear(x, params[p + 'self_attn.' + name + '.weight'], params.get(p + 'self_attn.' + name + '.bias'))
                return y.view(b, t, heads, dh).transpose(1, 2)

            q, k, v = proj('q_proj', nq), proj('k_proj', nkv), proj('v_proj', nkv)
            q, k = ref.apply_rotary(q, k, cos, sin)
            cache['k'][layer][:, :, past:total] = k
            cache['v'][layer][:, :, past:total] = v
            keys, values = cache['k'][layer][:, :, :total], cache['v'][layer][:, :, :total]
            # Grouped-query attention without repeat_kv copies: query head h reads kv head h // groups.
            scores = q.reshape(b, nkv, groups * t, dh) @ keys.transpose(2, 3) / math.sqrt(dh) + mask
            out = (torch.softmax(scores, dim=-1) @ values).reshape(b, nq, t, dh)
            out = out.transpose(1, 2).reshape(b, t, nq * dh)
            h = h + F.linear(out, params[p + 'self_attn.o_proj.weight'], params.get(p + 'self_attn.o_proj.bias'))
            h = h + ref.mlp(ref.rms_norm(h, params[p + 'post_attention_layernorm.weight'], eps), params, p + 'mlp.')
        cache['length'] = total
        last = ref.rms_norm(h[:, -1], params['model.norm.weight'], eps)
        return F.linear(last, self.head)

    def generate(self, cmd):
        with open(cmd['prompts_path']) as f:
            prompts = json.load(f)
        with open(cmd['pieces_path']) as f:
            pieces = json.load(f)  # decoded text of each id (special tokens skipped), for the stop strings
        max_new, stops, eos = cmd['max_new'], cmd['stop'], set(cmd['eos'])
        limit = cmd['vocab_limit']
        b = len(prompts)
        # The prefix every prompt shares, run once at batch 1 (rlcp's sharePrefix; each row keeps a token).
        shared = 0
        if cmd.get('share_prefix') and b > 1:
            while shared < min(len(p) for p in prompts) - 1 and all(p[shared] == prompts[0][shared] for p in prompts):
                shared += 1
        rest = [p[shared:] for p in prompts]
        t = max(len(p) for p in rest)
        cfg = self.cfg
        shape = (b, cfg['num_key_value_heads'], shared + t + max_new, ref.head_dim(cfg))
        cache = {'k': [torch.zeros(shape) for _ in range(cfg['num_hidden_layers'])],
                 'v': [torch.zeros(shape) for _ in range(cfg['num_hidden_layers'])], 'length': 0}
        ids = torch.full((b, t), cmd['pad'], dtype=torch.int64)
        key_mask = torch.zeros(b, shared + t + max_new, dtype=torch.int64)
        key_mask[:, :shared] = 1
        for i, p in enumerate(rest):
            ids[i, t - len(p):] = torch.tensor(p)
            key_mask[i, shared + t - len(p):shared + t] = 1
        # HF generate's position ids: cumsum(mask) − 1, padding positions 1 (src/nn/qwen2.ts positionsFromMask).
        own = key_mask[:, shared:shared + t]
        positions = (shared + own.cumsum(-1) - 1).masked_fill(own == 0, 1)
        seen = key_mask[:, :shared + t].sum(-1)
        marks = []
        with torch.no_grad():
            start = time.perf_counter()
            if shared > 0:
                one = {'k': [torch.zeros(1, *shape[1:]) for _ in cache['k']],
                       'v': [torch.zeros(1, *shape[1:]) for _ in cache['v']], 'length': 0}
                self.forward_batch(torch.tensor([prompts[0][:shared]]), torch.arange(shared)[None], one,
                                   key_mask[:1, :shared])
                for layer in range(cfg['num_hidden_layers']):
                    cache['k'][layer][:, :, :shared] = one['k'][layer][:, :, :shared]
                    cache['v'][layer][:, :, :shared] = one['v'][layer][:, :, :shared]
                cache['length'] = shared
                del one
            logits = self.forward_batch(ids, positions, cache, key_mask[:, :shared + t])
            marks.append(time.perf_counter())
        tokens = [[] for _ in range(b)]
        texts = [''] * b
        reasons = ['max_new_tokens'] * b
        done = [False] * b
        with torch.no_grad():
            for step in range(max_new):
                chosen = torch.argmax(logits[:, :limit], dim=-1).tolist()
                for i in range(b):
                    if done[i]:
                        continue
                    tokens[i].append(chosen[i])
                    if chosen[i] in eos:
                        reasons[i], done[i] = 'eos', True
                    elif stops:
                        texts[i] += pieces[chosen[i]]
                        if any(s in texts[i] for s in stops):
                            reasons[i], done[i] = 'stop_string', True
                if step == max_new - 1 or all(done):
                    break
                # Finished rows keep stepping (output discarded) so the batch stays rectangular.
                key_mask[:, shared + t + step] = 1
                positions = seen[:, None].clone()
                seen += 1
                logits = self.forward_batch(torch.tensor(chosen)[:, None], positions, cache,
                                            key_mask[:, :shared + t + step + 1])
                marks.append(time.perf_counter())
            end = time.perf_counter()
        del cache
        return {'prefill_ms': (marks[0] - start) * 1000,
                'step_ms': [(b2 - a2) * 1000 for a2, b2 in zip(marks, marks[1:])],
                'total_ms': (end - start) * 1000, 'tokens': tokens, 'stop_reasons': reasons}


def sgemm(cmd):
    n = cmd['n']
    gen = torch.Generator().manual_seed(0)
    a, b = torch.rand(n, n, generator=gen) - 0.5, torch.rand(n, n, generator=gen) - 0.5
    out = torch.empty(n, n)
    torch.mm(a, b, out=out)
    gflops = []
    for _ in range(cmd['reps']):
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        gflops.append(2 * n ** 3 / (time.perf_counter() - start) / 1e9)
    return {'gflops': gflops}


def gemm_shapes(cmd):
    gflops = {}
    for s in cmd['shapes']:
        a = torch.full(s['a'], 0.01)
        b = torch.full(s['b'], 0.02)
        a_op = a.t() if s['transA'] else a
        b_op = b.t() if s['transB'] else b
        m, k, n = a_op.shape[0], a_op.shape[1], b_op.shape[1]
        out = torch.empty(m, n)
        torch.mm(a_op, b_op, out=out)
        gflops[s['name']] = []
        for _ in range(cmd['reps']):
            start = time.perf_counter()
            torch.mm(a_op, b_op, out=out)
            gflops[s['name']].append(2 * m * n * k / (time.perf_counter() - start) / 1e9)
        del a, b, a_op, b_op, out
    return {'gflops': gflops}


def main():
    state = {}

    def handle(cmd):
        if isinstance(cmd.get('threads'), int):
            set_threads(cmd['threads'])
        name = cmd['cmd']
        if name == 'info':
            return {'torch': torch.__version__, 'blas': blas_info(), 'threads': torch.get_num_threads(),
                    'env': {k: v for k, v in os.environ.items() if k.startswith('OPENBLAS')}}
        if name == 'train_init':
            state['train'] = Training(cmd)
            return {'params': sum(p.numel() for p in state['train'].params.values())}
        if name == 'train_step':
            return state['train'].step()
        if name == 'infer_init':
            state['infer'] = Inference(cmd)
            return {'load_s': state['infer'].load_s}
        if name == 'prefill':
            return state['infer'].prefill(cmd)
        if name == 'decode':
            return state['infer'].decode(cmd)
        if name == 'generate':
            return state['infer'].generate(cmd)
        if name == 'sgemm':
            return sgemm(cmd)
        if name == 'gemm_shapes':
            return gemm_shapes(cmd)
        if name == 'rlcp_init':
            state['rlcp'] = RlcpStep(cmd)
            return {'params': sum(p.numel() for p in state['rlcp'].params.values()),
                    'lora_params': sum(p.numel() for p in state['rlcp'].lora_params)}
        if name == 'rlcp_step':
            return state['rlcp'].step()
        if name == 'status':
            return memory_status()
        raise ValueError('unknown command %r' % name)

    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd['cmd'] == 'exit':
            break
        try:
            reply = handle(cmd)
        except Exception as error:  # reported to the orchestrator, which stops the benchmark
            reply = {'error': '%s: %s' % (type(error).__name__, error)}
        sys.stdout.write(REPLY_PREFIX + json.dumps(reply) + '\n')
        sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
