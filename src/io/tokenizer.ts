// Hugging Face tokenizers from a model folder: `tokenizer.json` through @huggingface/tokenizers,
// special tokens and the chat template from `tokenizer_config.json` (chat template rendered with
// @huggingface/jinja, which trims blocks like transformers does). See README.md for the supported
// tokenizer.json components.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer, type Encoding } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { readJson } from './jsonl.ts';
import type { Qwen2Config } from './config.ts';

export interface ChatMessage {
  role: string;
  content: string;
}

export interface EncodeOptions {
  /** Apply the tokenizer's post-processor (BOS/EOS templates); default true as in transformers. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
}

export interface ChatTemplateOptions {
  /** Append the assistant turn header so the model continues as the assistant. */
  addGenerationPrompt?: boolean;
  /** Extra template variables (e.g. `enable_thinking` for Qwen3 templates). */
  variables?: Record<string, unknown>;
}

export interface RlcpTokenizer {
  readonly dir: string;
  /** One past the largest token id (vocabulary and added tokens); the model's vocab_size must be at least this. */
  readonly vocabSize: number;
  /** From tokenizer_config.json (`eos_token`, `pad_token`, `bos_token`); null when not configured. */
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly bosTokenId: number | null;
  readonly hasChatTemplate: boolean;
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: readonly number[], options?: DecodeOptions): string;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions): string;
}

/** Files that make up a tokenizer in an HF folder (copied along when a model folder is saved). */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
  'vocab.json',
  'merges.txt',
  'added_tokens.json',
];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** tokenizer_config.json writes special tokens either as strings or as AddedToken objects. */
function tokenString(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (isPlainObject(value) && typeof value.content === 'string') return value.content;
  return null;
}

function pickChatTemplate(dir: string, config: Record<string, unknown>, configPath: string): string | null {
  const value = config.chat_template;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    // Several named templates: transformers uses the one named "default".
    const named = value.find((t) => isPlainObject(t) && t.name === 'default');
    if (!named || typeof named.template !== 'string') {
      throw new Error(`${configPath}: chat_template is a list without a "default" template`);
    }
    return named.template;
  }
  if (value !== undefined && value !== null) throw new Error(`${configPath}: chat_template must be a string`);
  // Newer transformers save the template beside the config.
  const jinjaPath = join(dir, 'chat_template.jinja');
  return existsSync(jinjaPath) ? readFileSync(jinjaPath, 'utf8') : null;
}

class HfTokenizer implements RlcpTokenizer {
  readonly vocabSize: number;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly bosTokenId: number | null;
  private readonly specialTokens: Record<string, string>;
  private template: Template | null = null;

  constructor(
    readonly dir: string,
    private readonly tokenizer: Tokenizer,
    private readonly chatTemplate: string | null,
    config: Record<string, unknown>,
    private readonly configPath: string,
  ) {
    let maxId = -1;
    for (const id of tokenizer.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.specialTokens = {};
    const idOf = (key: string): number | null => {
      const token = tokenString(config[key]);
      if (token === null) return null;
      this.specialTokens[key] = token;
      const id = tokenizer.token_to_id(token);
      if (id === undefined)
        throw new Error(`${configPath}: ${key} "${token}" is not in the tokenizer vocabulary`);
      return id;
    };
    this.eosTokenId = idOf('eos_token');
    this.padTokenId = idOf('pad_token');
    this.bosTokenId = idOf('bos_token');
    idOf('unk_token');
  }

  get hasChatTemplate(): boolean {
    return this.chatTemplate !== null;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const encoding: Encoding = this.tokenizer.encode(text, {
      add_special_tokens: options.addSpecialTokens ?? true,
    });
    const { ids, tokens } = encoding;
    // The library yields undefined for a word outside the vocabulary when there is no unk token.
    const missing = ids.findIndex((id: number | undefined) => id === undefined);
    if (missing >= 0) {
      throw new Error(
        `${this.dir}: token "${tokens[missing]}" is not in the vocabulary and the tokenizer has no unk_token`,
      );
    }
    return ids;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    if (ids.length === 0) return '';
    for (const id of ids) {
      if (
        !Number.isInteger(id) ||
        id < 0 ||
        id >= this.vocabSize ||
        this.tokenizer.id_to_token(id) === undefined
      ) {
        throw new Error(
          `${this.dir}: token id ${id} is outside the tokenizer vocabulary (size ${this.vocabSize})`,
        );
      }
    }
    return this.tokenizer.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.tokenizer.id_to_token(id);
  }

  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    if (this.chatTemplate === null) {
      throw new Error(
        `${this.dir}: no chat template (no "chat_template" in ${this.configPath} and no chat_template.jinja)`,
      );
    }
    this.template ??= new Template(this.chatTemplate);
    return this.template.render({
      ...this.specialTokens,
      ...options.variables,
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? false,
    });
  }
}

/** Loads `dir/tokenizer.json` (+ `dir/tokenizer_config.json` when present). */
export async function loadTokenizer(dir: string): Promise<RlcpTokenizer> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir}: tokenizer folder not found`);
  const tokenizerPath = join(dir, 'tokenizer.json');
  if (!existsSync(tokenizerPath)) {
    throw new Error(
      `${dir}: no tokenizer.json (rlcp reads the fast-tokenizer format; vocab.json/merges.txt alone are not enough)`,
    );
  }
  const tokenizerJson = readJson(tokenizerPath);
  if (!isPlainObject(tokenizerJson) || !isPlainObject(tokenizerJson.model)) {
    throw new Error(`${tokenizerPath}: not a tokenizer.json (expected an object with a "model")`);
  }
  const configPath = join(dir, 'tokenizer_config.json');
  const configJson = existsSync(configPath) ? readJson(configPath) : {};
  if (!isPlainObject(configJson)) throw new Error(`${configPath}: must be a JSON object`);

  const config: Record<string, unknown> = {
    ...configJson,
    // The JS library defaults this to true; the Rust library and recent transformers do not clean up.
    clean_up_tokenization_spaces: configJson.clean_up_tokenization_spaces ?? false,
  };
  const model = tokenizerJson.model;
  if (model.type === 'WordLevel' && config.unk_token == null && typeof model.unk_token === 'string') {
    // WordLevel runs as the JS "Legacy" model, which reads its unknown token from the config.
    config.unk_token = model.unk_token;
  }
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(tokenizerJson, config);
  } catch (error) {
    throw new Error(`${tokenizerPath}: cannot build tokenizer (${(error as Error).message})`);
  }
  return new HfTokenizer(dir, tokenizer, pickChatTemplate(dir, configJson, configPath), config, configPath);
}

/** Refuses a tokenizer whose ids do not all fit the model's embedding table. */
export function checkTokenizerMatchesConfig(
  tokenizer: RlcpTokenizer,
  config: Qwen2Config,
  dir: string,
): void {
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new Error(
      `${dir}: tokenizer produces ids up to ${tokenizer.vocabSize - 1} but config.json vocab_size is ${config.vocabSize}; ` +
        `the tokenizer does not belong to this model`,
    );
  }
}
