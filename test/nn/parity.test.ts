// rlcp's Qwen2 against the plain-PyTorch reference (scripts/parity/qwen2_reference.py): logits, every
// hidden state, the loss and the gradient of every parameter for one left-padded batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { Qwen2ForCausalLM, positionsFromMask } from '../../src/nn/qwen2.ts';
import { relativeError } from './helpers.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'parity');
const TOLERANCE = 1e-4;

for (const name of ['qwen2_gqa2_tied', 'qwen2_gqa4_untied', 'llama_nobias']) {
  test(`parity with the PyTorch reference: ${name}`, () => {
    const dir = join(FIXTURES, name);
    const model = Qwen2ForCausalLM.fromPretrained(dir);
    const expected = readSafetensors(join(dir, 'expected.safetensors'));
    const get = (key: string) => {
      const t = expected.get(key);
      assert.ok(t, `expected.safetensors lacks ${key}`);
      return t;
    };
    const [batch, seq] = get('input_ids').shape as [number, number];
    const ids = Int32Array.from(get('input_ids').data);
    const mask = Uint8Array.from(get('attention_mask').data);
    const labels = Int32Array.from(get('labels').data);
    assert.deepEqual(positionsFromMask(mask, batch, seq), Int32Array.from(get('position_ids').data));
    // Padding positions have no defined output (HF and rlcp fill them differently): compare real ones.
    const realRows = [...mask.keys()].filter((i) => mask[i] === 1);
    assert.ok(realRows.length < batch * seq, 'the fixture batch is left-padded');

    const out = model.forward(ids, {
      batch,
      seq,
      attentionMask: mask,
      labels,
      logits: 'all',
      outputHiddenStates: true,
    });
    const vocab = model.config.vocabSize;
    const hidden = model.config.hiddenSize;
    assert.deepEqual(out.logits!.shape, [batch, seq, vocab]);
    assert.ok(relativeError(out.logits!.data, get('logits').data, vocab, realRows) <= TOLERANCE, 'logits');
    const L = model.config.numHiddenLayers;
    assert.equal(out.hiddenStates!.length, L + 1);
    out.hiddenStates!.forEach((h, i) => {
      assert.deepEqual(h.shape, [batch, seq, hidden]);
      const err = relativeError(h.data, get(`hidden_states.${i}`).data, hidden, realRows);
      assert.ok(err <= TOLERANCE, `hidden_states.${i}: relative error ${err}`);
    });
    const lossErr = relativeError(Float32Array.of(out.loss!.item()), get('loss').data);
    assert.ok(lossErr <= TOLERANCE, `loss ${out.loss!.item()} vs ${get('loss').data[0]}`);

    out.loss!.backward();
    const params = model.namedParameters();
    const gradNames = [...expected.keys()].filter((k) => k.startsWith('grad.')).map((k) => k.slice(5));
    assert.deepEqual([...params.keys()].sort(), gradNames.sort(), 'same parameter names as HF');
    for (const [pname, p] of params) {
      assert.ok(p.grad, `${pname} received no gradient`);
      const err = relativeError(p.grad, get(`grad.${pname}`).data);
      assert.ok(err <= TOLERANCE, `grad of ${pname}: relative error ${err}`);
    }
  });
}
