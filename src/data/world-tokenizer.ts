// The world's tokenizer as a standard Hugging Face `tokenizer.json`: a word-level vocabulary over all of
// the world's text (training and held-out splits, so held-out templates have no unknown word).
// Pre-tokenisation keeps a word's leading space in its token (" Velora", as GPT-2 and Qwen do) so
// sequences stay short, splits every digit on its own ("14" → "1", "4"; a number's space is a token
// " " of its own, so the ten digit tokens are the same everywhere), and isolates punctuation (" =",
// "?", "."). Decoding fuses the tokens back, so decode(encode(text)) === text for the world's text.
// Loads with @huggingface/tokenizers (WordLevel goes through its Legacy model, see src/io/README.md)
// and with the Rust/Python library.

/** Oniguruma-compatible and JS-compatible: a spaced word, one digit, a spaced symbol, or one space. */
export const WORLD_PRETOKENIZE_PATTERN = '[ ]?[A-Za-z]+|[0-9]|[ ]?[^\\sA-Za-z0-9]|\\s';

export const PAD_TOKEN = '<pad>';
export const EOS_TOKEN = '<eos>';
export const UNK_TOKEN = '<unk>';
/** Special tokens take the first ids, in this order: pad = 0, eos = 1, unk = 2. */
export const SPECIAL_TOKENS = [PAD_TOKEN, EOS_TOKEN, UNK_TOKEN] as const;

const PRETOKENIZE = new RegExp(WORLD_PRETOKENIZE_PATTERN, 'g');

/** The pre-tokens of `text`, exactly as the tokenizer.json's pre-tokenizer splits it. */
export function pretokenize(text: string): string[] {
  return text.match(PRETOKENIZE) ?? [];
}

export interface WorldTokenizerFiles {
  /** Contents of tokenizer.json. */
  tokenizer: Record<string, unknown>;
  /** Contents of tokenizer_config.json. */
  config: Record<string, unknown>;
  vocab: Map<string, number>;
}

/** Builds the tokenizer from every text the world contains; the vocabulary is sorted, so it is stable. */
export function buildWorldTokenizer(texts: Iterable<string>): WorldTokenizerFiles {
  const words = new Set<string>(['\n', ' ', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  for (const text of texts) for (const token of pretokenize(text)) words.add(token);
  for (const special of SPECIAL_TOKENS) words.delete(special);
  const vocab = new Map<string, number>();
  for (const special of SPECIAL_TOKENS) vocab.set(special, vocab.size);
  // Code-point order, not locale order, so every machine sorts the same way.
  for (const word of [...words].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) vocab.set(word, vocab.size);

  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: {
      type: 'Split',
      pattern: { Regex: WORLD_PRETOKENIZE_PATTERN },
      behavior: 'Isolated',
      invert: false,
    },
    post_processor: null,
    decoder: { type: 'Fuse' },
    model: { type: 'WordLevel', vocab: Object.fromEntries(vocab), unk_token: UNK_TOKEN },
  };
  const config = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: null,
    eos_token: EOS_TOKEN,
    pad_token: PAD_TOKEN,
    unk_token: UNK_TOKEN,
    add_bos_token: false,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
  };
  return { tokenizer, config, vocab };
}
