// Turning text records into padded training batches, and a seeded sampler whose position can be
// saved and restored so a resumed run sees exactly the batches it would have seen.

/** What the trainer needs from a tokenizer (src/io/tokenizer.ts satisfies it). */
export interface TextEncoder {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  readonly eosTokenId: number;
  readonly padTokenId: number;
}

/** A supervised record (loss on the completion) or raw text (loss on every token). */
export type TrainRecord = { prompt: string; completion: string } | { text: string };

export interface EncodedExample {
  ids: number[];
  /** Per position: 1 if the token is predicted (trained), 0 if it is context. */
  trained: number[];
}

export function encodeRecord(tokenizer: TextEncoder, record: TrainRecord, maxLength: number): EncodedExample {
  let ids: number[];
  let trained: number[];
  if ('text' in record) {
    ids = [...tokenizer.encode(record.text, { addSpecialTokens: false }), tokenizer.eosTokenId];
    trained = ids.map((_, i) => (i === 0 ? 0 : 1));
  } else {
    // Encoding prompt and completion separately keeps the boundary exact (the completion starts
    // with a space, as a BPE tokenizer would split it anyway).
    const prompt = tokenizer.encode(record.prompt, { addSpecialTokens: false });
    const completion = [
      ...tokenizer.encode(record.completion, { addSpecialTokens: false }),
      tokenizer.eosTokenId,
    ];
    ids = [...prompt, ...completion];
    trained = [...prompt.map(() => 0), ...completion.map(() => 1)];
  }
  if (ids.length > maxLength) {
    throw new Error(
      `a record is ${ids.length} tokens, longer than the maximum ${maxLength}: ${JSON.stringify(record).slice(0, 120)}`,
    );
  }
  return { ids, trained };
}

export interface Batch {
  batch: number;
  seq: number;
  /** [batch * seq] token ids, right-padded with the pad id. */
  ids: Int32Array;
  /** [batch * seq] 1 for real tokens, 0 for padding. */
  attentionMask: Uint8Array;
  /**
   * [batch * seq] labels in Hugging Face's convention (not shifted): labels[t] = ids[t] where that token
   * is trained, else -100. The model's loss predicts labels[t + 1] from position t.
   */
  labels: Int32Array;
  /** Number of trained target positions (for tokens/s and loss normalisation). */
  trainedTokens: number;
}

export const IGNORE_INDEX = -100;

export function collate(examples: readonly EncodedExample[], padId: number): Batch {
  const batch = examples.length;
  const seq = Math.max(...examples.map((e) => e.ids.length));
  const ids = new Int32Array(batch * seq).fill(padId);
  const attentionMask = new Uint8Array(batch * seq);
  const labels = new Int32Array(batch * seq).fill(IGNORE_INDEX);
  let trainedTokens = 0;
  examples.forEach((example, b) => {
    const row = b * seq;
    for (let t = 0; t < example.ids.length; t++) {
      ids[row + t] = example.ids[t]!;
      attentionMask[row + t] = 1;
      // Position 0 has nothing before it to predict it from.
      if (t > 0 && example.trained[t] === 1) {
        labels[row + t] = example.ids[t]!;
        trainedTokens++;
      }
    }
  });
  return { batch, seq, ids, attentionMask, labels, trainedTokens };
}

/** mulberry32: small, fast, and its whole state is one integer (easy to checkpoint). */
export function mulberry32Next(state: number): [value: number, next: number] {
  const next = (state + 0x6d2b79f5) | 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [((t ^ (t >>> 14)) >>> 0) / 4294967296, next];
}

export interface SamplerState {
  seed: number;
  epoch: number;
  cursor: number;
}

/**
 * Length grouping: within windows of `batchSize × groupBatches` shuffled items, items are sorted by
 * length and cut into batches whose order is shuffled again, so a batch holds records of similar
 * length (little padding) while every epoch still visits every record once in a seeded order.
 */
export interface LengthGrouping {
  lengths: readonly number[];
  batchSize: number;
  groupBatches: number;
}

/** Shuffled epochs over `size` items; the order of epoch e depends only on (seed, e). */
export class EpochSampler {
  private order: number[] = [];
  private state: SamplerState;

  constructor(
    private readonly size: number,
    seed: number,
    private readonly grouping?: LengthGrouping,
  ) {
    if (size <= 0) throw new Error('cannot sample batches from an empty data set');
    this.state = { seed, epoch: 0, cursor: 0 };
    this.shuffle();
  }

  next(count: number): number[] {
    const picked: number[] = [];
    while (picked.length < count) {
      if (this.state.cursor >= this.size) {
        this.state = { ...this.state, epoch: this.state.epoch + 1, cursor: 0 };
        this.shuffle();
      }
      picked.push(this.order[this.state.cursor++]!);
    }
    return picked;
  }

  getState(): SamplerState {
    return { ...this.state };
  }

  setState(state: SamplerState): void {
    this.state = { ...state };
    this.shuffle();
  }

  private shuffle(): void {
    let rng = (this.state.seed ^ Math.imul(this.state.epoch + 1, 0x9e3779b1)) | 0;
    const random = (): number => {
      const [u, next] = mulberry32Next(rng);
      rng = next;
      return u;
    };
    const shuffleInPlace = <T>(items: T[]): void => {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [items[i], items[j]] = [items[j]!, items[i]!];
      }
    };
    this.order = Array.from({ length: this.size }, (_, i) => i);
    shuffleInPlace(this.order);
    if (!this.grouping) return;
    const { lengths, batchSize, groupBatches } = this.grouping;
    const window = batchSize * groupBatches;
    const grouped: number[] = [];
    for (let start = 0; start < this.size; start += window) {
      const chunk = this.order.slice(start, start + window).sort((a, b) => lengths[a]! - lengths[b]!);
      const batches: number[][] = [];
      for (let b = 0; b < chunk.length; b += batchSize) batches.push(chunk.slice(b, b + batchSize));
      shuffleInPlace(batches);
      for (const batch of batches) grouped.push(...batch);
    }
    this.order = grouped;
  }
}
