// Subcommands of the model area (see src/cli/commands.ts): init, forward, generate.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { registerCommand } from '../main.ts';
import { optFlag, optList, optNumber, optString, requireString, type ParsedArgs } from '../args.ts';
import type { Qwen2Config } from '../../io/config.ts';
import type { RlcpTokenizer } from '../../io/tokenizer.ts';

const DTYPES = ['F32', 'F16', 'BF16'] as const;

function parseDtype(value: string): (typeof DTYPES)[number] {
  const upper = value.toUpperCase();
  if (!(DTYPES as readonly string[]).includes(upper)) {
    throw new Error(`--dtype must be one of ${DTYPES.join(', ')}, got "${value}"`);
  }
  return upper as (typeof DTYPES)[number];
}

function parseIds(args: ParsedArgs): number[] {
  return optList(args, 'ids').map((text) => {
    const id = Number(text);
    if (!(Number.isSafeInteger(id) && id >= 0)) throw new Error(`--ids: "${text}" is not a token id`);
    return id;
  });
}

/** The tokenizer of a model folder, checked to fit the model's vocabulary. */
async function loadModelTokenizer(dir: string, config: Qwen2Config, why: string): Promise<RlcpTokenizer> {
  const { loadTokenizer, checkTokenizerMatchesConfig } = await import('../../io/tokenizer.ts');
  if (!existsSync(join(dir, 'tokenizer.json'))) throw new Error(`${dir}: no tokenizer.json, needed ${why}`);
  const tokenizer = await loadTokenizer(dir);
  checkTokenizerMatchesConfig(tokenizer, config, dir);
  return tokenizer;
}

registerCommand('init', async () => ({
  summary: 'write a randomly initialised Hugging Face model folder from a config.json',
  usage: 'rlcp init --config FILE.json --out DIR [--seed S] [--dtype F32|F16|BF16]',
  async run(args) {
    const { parseModelConfig } = await import('../../io/config.ts');
    const { Qwen2ForCausalLM } = await import('../../nn/qwen2.ts');
    const configPath = requireString(args, 'config');
    const out = requireString(args, 'out');
    const seed = optNumber(args, 'seed', 0);
    const dtype = parseDtype(optString(args, 'dtype') ?? 'F32');
    if (!existsSync(configPath)) throw new Error(`${configPath}: config file not found`);
    const model = Qwen2ForCausalLM.initRandom(parseModelConfig(configPath), seed);
    model.saveToDir(out, { dtype });
    const { modelType, numHiddenLayers } = model.config;
    console.log(
      `initialised ${modelType} model: ${numHiddenLayers} layers, ${model.numParameters()} parameters, seed ${seed}, ${dtype} → ${out}`,
    );
  },
}));

registerCommand('forward', async () => ({
  summary: 'run one sequence through a model; write its logits and hidden states (safetensors)',
  usage:
    'rlcp forward --model DIR (--text "..." | --ids 1,2,3) --out FILE.safetensors\n' +
    '  writes logits [T, vocab] and hidden_states.0 … hidden_states.L [T, hidden] as F32',
  async run(args) {
    const { Qwen2ForCausalLM } = await import('../../nn/qwen2.ts');
    const { noGrad } = await import('../../tensor/tensor.ts');
    const { writeSafetensors } = await import('../../io/safetensors.ts');
    const dir = requireString(args, 'model');
    const out = requireString(args, 'out');
    const text = optString(args, 'text');
    if ((text === undefined) === !args.options.has('ids'))
      throw new Error('give exactly one of --text and --ids');
    const model = Qwen2ForCausalLM.fromPretrained(dir);
    let ids: number[];
    if (text !== undefined) {
      const tokenizer = await loadModelTokenizer(dir, model.config, 'for --text (or pass --ids)');
      ids = tokenizer.encode(text);
    } else {
      ids = parseIds(args);
    }
    if (ids.length === 0) throw new Error('no tokens to run (empty --ids or --text)');
    const seq = ids.length;
    const result = noGrad(() =>
      model.forward(Int32Array.from(ids), { batch: 1, seq, outputHiddenStates: true }),
    );
    const { vocabSize, hiddenSize } = model.config;
    const tensors = new Map<string, { data: Float32Array; shape: number[] }>([
      ['logits', { data: result.logits!.data, shape: [seq, vocabSize] }],
    ]);
    result.hiddenStates!.forEach((h, i) =>
      tensors.set(`hidden_states.${i}`, { data: h.data, shape: [seq, hiddenSize] }),
    );
    writeSafetensors(out, tensors, { dtype: 'F32' });
    console.log(`${seq} tokens [${ids.join(', ')}] → ${out}: logits and ${tensors.size - 1} hidden states`);
  },
}));

registerCommand('generate', async () => ({
  summary: 'continue a prompt with a model (greedy or sampled)',
  usage:
    'rlcp generate --model DIR --prompt "..." [--max-new-tokens N (64)] [--temperature T (0 = greedy)]\n' +
    '  [--top-p P (1)] [--seed S (0)] [--stop STRING ...] [--chat]\n' +
    '  --chat wraps the prompt as a user message with the tokenizer chat template',
  flags: ['chat'],
  async run(args) {
    const { Qwen2ForCausalLM, eosTokenIds } = await import('../../nn/qwen2.ts');
    const { generate } = await import('../../nn/generate.ts');
    const dir = requireString(args, 'model');
    const prompt = requireString(args, 'prompt');
    const maxNewTokens = optNumber(args, 'max-new-tokens', 64);
    const model = Qwen2ForCausalLM.fromPretrained(dir);
    const tokenizer = await loadModelTokenizer(dir, model.config, 'to encode --prompt');
    const text = optFlag(args, 'chat')
      ? tokenizer.applyChatTemplate([{ role: 'user', content: prompt }], { addGenerationPrompt: true })
      : prompt;
    const ids = tokenizer.encode(text);
    if (ids.length === 0) throw new Error('the prompt encodes to no tokens');
    // Instruct models end turns with the tokenizer's EOS, which config.json may not list.
    const eos = new Set(eosTokenIds(model.config));
    if (tokenizer.eosTokenId !== null) eos.add(tokenizer.eosTokenId);
    const started = performance.now();
    const [result] = generate(model, [ids], {
      maxNewTokens,
      temperature: optNumber(args, 'temperature', 0),
      topP: optNumber(args, 'top-p', 1),
      seed: optNumber(args, 'seed', 0),
      eosTokenIds: [...eos],
      stopStrings: args.options.get('stop') ?? [],
      decoder: tokenizer,
      padTokenId: tokenizer.padTokenId ?? 0,
      vocabLimit: tokenizer.vocabSize,
    });
    const seconds = (performance.now() - started) / 1000;
    console.log(result!.text);
    console.error(
      `[${ids.length} prompt tokens, ${result!.tokens.length} new, stop: ${result!.stopReason}, ${seconds.toFixed(2)} s]`,
    );
  },
}));
