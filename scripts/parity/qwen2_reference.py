#!/usr/bin/python3
"""Reference Qwen2ForCausalLM in plain PyTorch, written from Hugging Face's modeling_qwen2.py.

Writes parity fixtures for rlcp's TypeScript model (test/nn/parity.test.ts) into
test/fixtures/parity/<name>/:
  config.json            HF config
  model.safetensors      F32 weights under HF names
  expected.safetensors   input_ids, attention_mask, position_ids, labels (F32-encoded integers),
                         logits [B,T,V], hidden_states.{0..L} [B,T,H], loss [1], grad.<param name>

The computation runs in float64 from the F32 weights, so the expected values are the exact answer for
those weights; rlcp computes in float32 and must land within the test's tolerance.

Run with Debian's torch (transformers is not needed):  /usr/bin/python3 scripts/parity/qwen2_reference.py
"""
import json
import math
import os
import struct
import sys

import torch

OUT_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'parity')

# Small random configs: GQA 2:1 with tied embeddings and head_dim derived from hidden/heads; GQA 4:1
# untied with an explicit head_dim (q width 64 != hidden 48) and Qwen2.5's rope_theta; and a Llama
# config (no attention bias, 1:1 heads) to cover the bias flags.
CONFIGS = {
    'qwen2_gqa2_tied': {
        'architectures': ['Qwen2ForCausalLM'],
        'model_type': 'qwen2',
        'vocab_size': 97,
        'hidden_size': 32,
        'intermediate_size': 64,
        'num_hidden_layers': 2,
        'num_attention_heads': 4,
        'num_key_value_heads': 2,
        'max_position_embeddings': 128,
        'rms_norm_eps': 1e-6,
        'rope_theta': 10000.0,
        'tie_word_embeddings': True,
        'hidden_act': 'silu',
        'initializer_range': 0.02,
        'bos_token_id': 1,
        'eos_token_id': 2,
        'use_sliding_window': False,
        'attention_dropout': 0.0,
        'torch_dtype': 'float32',
    },
    'qwen2_gqa4_untied': {
        'architectures': ['Qwen2ForCausalLM'],
        'model_type': 'qwen2',
        'vocab_size': 97,
        'hidden_size': 48,
        'intermediate_size': 64,
        'num_hidden_layers': 3,
        'num_attention_heads': 8,
        'num_key_value_heads': 2,
        'head_dim': 8,
        'max_position_embeddings': 128,
        'rms_norm_eps': 1e-6,
        'rope_theta': 1000000.0,
        'tie_word_embeddings': False,
        'hidden_act': 'silu',
        'initializer_range': 0.02,
        'bos_token_id': 1,
        'eos_token_id': 2,
        'use_sliding_window': False,
        'attention_dropout': 0.0,
        'torch_dtype': 'float32',
    },
    'llama_nobias': {
        'architectures': ['LlamaForCausalLM'],
        'model_type': 'llama',
        'vocab_size': 97,
        'hidden_size': 32,
        'intermediate_size': 48,
        'num_hidden_layers': 2,
        'num_attention_heads': 4,
        'num_key_value_heads': 4,
        'max_position_embeddings': 128,
        'rms_norm_eps': 1e-5,
        'rope_theta': 10000.0,
        'tie_word_embeddings': False,
        'attention_bias': False,
        'mlp_bias': False,
        'hidden_act': 'silu',
        'initializer_range': 0.02,
        'bos_token_id': 1,
        'eos_token_id': 2,
        'torch_dtype': 'float32',
    },
}

# One batch: row 0 full length, rows 1 and 2 left-padded (3 and 1 pad positions).
BATCH, SEQ, PADS = 3, 7, [0, 3, 1]
PAD_ID = 0


def head_dim(cfg):
    return cfg.get('head_dim') or cfg['hidden_size'] // cfg['num_attention_heads']


def qkv_bias(cfg):
    # Qwen2 always has q/k/v bias; Llama-family configs say so with attention_bias.
    return cfg['model_type'] == 'qwen2' or bool(cfg.get('attention_bias', False))


def o_bias(cfg):
    return cfg['model_type'] != 'qwen2' and bool(cfg.get('attention_bias', False))


def param_shapes(cfg):
    """HF parameter names and shapes, in HF's named_parameters() order."""
    h, v, i = cfg['hidden_size'], cfg['vocab_size'], cfg['intermediate_size']
    nq, nkv, dh = cfg['num_attention_heads'], cfg['num_key_value_heads'], head_dim(cfg)
    shapes = {'model.embed_tokens.weight': [v, h]}
    for layer in range(cfg['num_hidden_layers']):
        p = f'model.layers.{layer}.'
        shapes[p + 'self_attn.q_proj.weight'] = [nq * dh, h]
        if qkv_bias(cfg):
            shapes[p + 'self_attn.q_proj.bias'] = [nq * dh]
        shapes[p + 'self_attn.k_proj.weight'] = [nkv * dh, h]
        if qkv_bias(cfg):
            shapes[p + 'self_attn.k_proj.bias'] = [nkv * dh]
        shapes[p + 'self_attn.v_proj.weight'] = [nkv * dh, h]
        if qkv_bias(cfg):
            shapes[p + 'self_attn.v_proj.bias'] = [nkv * dh]
        shapes[p + 'self_attn.o_proj.weight'] = [h, nq * dh]
        if o_bias(cfg):
            shapes[p + 'self_attn.o_proj.bias'] = [h]
        shapes[p + 'mlp.gate_proj.weight'] = [i, h]
        shapes[p + 'mlp.up_proj.weight'] = [i, h]
        shapes[p + 'mlp.down_proj.weight'] = [h, i]
        shapes[p + 'input_layernorm.weight'] = [h]
        shapes[p + 'post_attention_layernorm.weight'] = [h]
    shapes['model.norm.weight'] = [h]
    if not cfg['tie_word_embeddings']:
        shapes['lm_head.weight'] = [v, h]
    return shapes


def random_params(cfg, gen):
    """Random F32 weights. Larger than HF's 0.02 init and with non-unit norms and non-zero biases, so
    every weight visibly shapes the output and a misrouted tensor cannot hide."""
    params = {}
    for name, shape in param_shapes(cfg).items():
        if name.endswith('norm.weight'):
            t = 1.0 + 0.2 * torch.randn(shape, generator=gen)
        elif name.endswith('.bias'):
            t = 0.1 * torch.randn(shape, generator=gen)
        else:
            t = 0.2 * torch.randn(shape, generator=gen)
        params[name] = t.to(torch.float32)
    return params


# ---- the model (mirrors modeling_qwen2.py, eager attention) ----


def rms_norm(x, weight, eps):
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rotary_cos_sin(position_ids, dim, theta, dtype):
    # Qwen2RotaryEmbedding: inv_freq = 1 / theta^(arange(0, dim, 2) / dim); emb = cat(freqs, freqs).
    inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).to(dtype) / dim))
    freqs = position_ids.to(dtype)[:, :, None] * inv_freq[None, None, :]  # [B, T, dim/2]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def apply_rotary(q, k, cos, sin):
    cos, sin = cos[:, None], sin[:, None]  # unsqueeze the head dim: [B, 1, T, Dh]
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


def repeat_kv(x, n_rep):
    # [B, Hkv, T, Dh] -> [B, Hkv * n_rep, T, Dh]; query head h reads kv head h // n_rep.
    b, hkv, t, d = x.shape
    return x[:, :, None].expand(b, hkv, n_rep, t, d).reshape(b, hkv * n_rep, t, d)


def additive_mask(attention_mask, dtype):
    """HF's 4D eager mask: 0 where key s <= query t and key s is a real token, dtype-min elsewhere."""
    b, t = attention_mask.shape
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    allowed = causal[None] & attention_mask.bool()[:, None, :]
    mask = torch.zeros(b, t, t, dtype=dtype)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask[:, None]


def attention(x, params, p, cfg, cos, sin, mask):
    b, t, _ = x.shape
    nq, nkv, dh = cfg['num_attention_heads'], cfg['num_key_value_heads'], head_dim(cfg)

    def proj(name, heads):
        y = torch.nn.functional.linear(x, params[p + name + '.weight'], params.get(p + name + '.bias'))
        return y.view(b, t, heads, dh).transpose(1, 2)

    q, k, v = proj('q_proj', nq), proj('k_proj', nkv), proj('v_proj', nkv)
    q, k = apply_rotary(q, k, cos, sin)
    k, v = repeat_kv(k, nq // nkv), repeat_kv(v, nq // nkv)
    scores = q @ k.transpose(2, 3) / math.sqrt(dh) + mask
    probs = torch.softmax(scores, dim=-1)
    out = (probs @ v).transpose(1, 2).reshape(b, t, nq * dh)
    return torch.nn.functional.linear(out, params[p + 'o_proj.weight'], params.get(p + 'o_proj.bias'))


def mlp(x, params, p):
    gate = torch.nn.functional.linear(x, params[p + 'gate_proj.weight'])
    up = torch.nn.functional.linear(x, params[p + 'up_proj.weight'])
    return torch.nn.functional.linear(torch.nn.functional.silu(gate) * up, params[p + 'down_proj.weight'])


def forward(params, cfg, input_ids, attention_mask, position_ids):
    """Returns (logits, hidden_states) in HF's output_hidden_states convention."""
    eps = cfg['rms_norm_eps']
    h = params['model.embed_tokens.weight'][input_ids]
    dtype = h.dtype
    cos, sin = rotary_cos_sin(position_ids, head_dim(cfg), cfg['rope_theta'], dtype)
    mask = additive_mask(attention_mask, dtype)
    hidden_states = []
    for layer in range(cfg['num_hidden_layers']):
        hidden_states.append(h)
        p = f'model.layers.{layer}.'
        h = h + attention(rms_norm(h, params[p + 'input_layernorm.weight'], eps), params, p + 'self_attn.', cfg,
                          cos, sin, mask)
        h = h + mlp(rms_norm(h, params[p + 'post_attention_layernorm.weight'], eps), params, p + 'mlp.')
    h = rms_norm(h, params['model.norm.weight'], eps)
    hidden_states.append(h)
    head = params['model.embed_tokens.weight'] if cfg['tie_word_embeddings'] else params['lm_head.weight']
    return h @ head.t(), hidden_states


def causal_lm_loss(logits, labels):
    # HF ForCausalLMLoss: predict token t+1 from position t; labels of -100 are ignored; mean.
    v = logits.shape[-1]
    shifted_logits = logits[:, :-1].reshape(-1, v)
    shifted_labels = labels[:, 1:].reshape(-1)
    return torch.nn.functional.cross_entropy(shifted_logits, shifted_labels, ignore_index=-100)


# ---- safetensors by hand: u64 little-endian header length, JSON header, raw little-endian bytes ----

DTYPES = {torch.float32: 'F32'}


def write_safetensors(path, tensors, metadata=None):
    header = {}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        raw = t.numpy().astype('<f4').tobytes()
        header[name] = {'dtype': DTYPES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header['__metadata__'] = metadata
    encoded = json.dumps(header, separators=(',', ':')).encode('utf-8')
    encoded += b' ' * ((8 - len(encoded) % 8) % 8)  # pad so the data starts 8-byte aligned
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(encoded)))
        f.write(encoded)
        for raw in blobs:
            f.write(raw)


def make_batch(cfg, gen):
    ids = torch.randint(3, cfg['vocab_size'], (BATCH, SEQ), generator=gen)
    mask = torch.ones(BATCH, SEQ, dtype=torch.int64)
    for row, pads in enumerate(PADS):
        ids[row, :pads] = PAD_ID
        mask[row, :pads] = 0
    # As HF generate derives them for left padding: cumsum(mask) - 1, pads set to 1.
    position_ids = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
    labels = ids.masked_fill(mask == 0, -100)
    # HF would predict a row's first real token from the padding position before it, whose output is
    # undefined (implementations fill padding rows differently); leave that target out.
    for row, pads in enumerate(PADS):
        if pads > 0:
            labels[row, pads] = -100
    return ids, mask, position_ids, labels


def build(name, cfg, seed):
    gen = torch.Generator().manual_seed(seed)
    params32 = random_params(cfg, gen)
    ids, mask, position_ids, labels = make_batch(cfg, gen)

    params = {k: v.to(torch.float64).requires_grad_(True) for k, v in params32.items()}
    logits, hidden_states = forward(params, cfg, ids, mask, position_ids)
    loss = causal_lm_loss(logits, labels)
    loss.backward()

    out_dir = os.path.join(OUT_ROOT, name)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, 'config.json'), 'w') as f:
        json.dump(cfg, f, indent=2)
        f.write('\n')
    write_safetensors(os.path.join(out_dir, 'model.safetensors'), params32, {'format': 'pt'})

    f32 = lambda t: t.detach().to(torch.float32)  # noqa: E731
    expected = {
        'input_ids': f32(ids),
        'attention_mask': f32(mask),
        'position_ids': f32(position_ids),
        'labels': f32(labels),
        'logits': f32(logits),
    }
    for i, h in enumerate(hidden_states):
        expected[f'hidden_states.{i}'] = f32(h)
    expected['loss'] = f32(loss.reshape(1))
    for pname, p in params.items():
        expected['grad.' + pname] = f32(p.grad)
    write_safetensors(os.path.join(out_dir, 'expected.safetensors'), expected,
                      {'generator': 'scripts/parity/qwen2_reference.py', 'seed': str(seed)})
    print(f'{name}: loss {loss.item():.6f}, {len(params)} parameters, wrote {out_dir}')


def main():
    torch.set_num_threads(1)
    for seed, (name, cfg) in enumerate(CONFIGS.items(), start=1):
        build(name, cfg, seed)
    return 0


if __name__ == '__main__':
    sys.exit(main())
