// Subcommands of the memory area (see src/cli/commands.ts): `rlcp ram ...`, the symbolic RAM's fact store
// and its evaluation with a model (`ram eval`), and `rlcp ask` (a model answering from the RAM).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { registerCommand } from '../main.ts';
import { optFlag, optNumber, optString, requireString, type ParsedArgs } from '../args.ts';
import type { FactStore, OpenOptions } from '../../memory/store.ts';
import type { StatementTemplates } from '../../memory/templates.ts';

const USAGE = `rlcp ram <action> --db FILE.db ...
  rlcp ram import FILE.jsonl --db FILE.db [--templates TEMPLATES.json]
  rlcp ram add --db FILE.db --subject S --relation R --object O [--source X]
  rlcp ram remove --db FILE.db --subject S --relation R
  rlcp ram list --db FILE.db [--relation R]
  rlcp ram retrieve --db FILE.db [--k 4] [--relation R] "question"
  rlcp ram eval --world DIR --metabolized DIR --base DIR [--k N] [--seed S] [--relation-hint]
      [--batch-size 32] [--out DIR] [--json]

import: JSONL lines {"subject","relation","object","source"?}; all lines are checked before anything is
  written, then one transaction; a line whose subject+relation exists edits that fact. Templates
  (a JSON object relation -> "{subject} ... {object}") render the statements; without them they are
  inferred from the lines' "statement" fields. list: one fact per line, subject<TAB>relation<TAB>object.
retrieve: the facts a question would be answered from and the RAG prompt built from them.
eval: builds a fresh store from the world's facts (a temporary file) and measures, on the forget set,
  closed-book vs RAM accuracy of the metabolized core and the base model, how often each follows an edit
  of the store (every forget fact's object changed to a counterfactual candidate, seeded by --seed,
  default 0), whether the metabolized core without RAM is at chance (binomial and rank tests), and
  retrieval recall@1/2/4; plus multi-hop questions from forget cities. --k: facts per context (default
  1 + the world's RAG distractors). --relation-hint gives retrieval the asked relation. A model folder
  without tokenizer.json (a training checkpoint) uses the world's. Prints a table,
  then the JSON summary as the last line (--json: only that line); --out DIR writes results.json,
  items.jsonl (one line per model, condition and question) and retrieval.jsonl. Exit status 0 even
  when a check fails (see "checks" in the JSON). See src/memory/README.md.`;

async function openStore(
  args: ParsedArgs,
  options: OpenOptions & { mustExist: boolean },
): Promise<FactStore> {
  const path = requireString(args, 'db');
  if (options.mustExist && !existsSync(path)) throw new Error(`${path}: fact store not found`);
  const { FactStore } = await import('../../memory/store.ts');
  return FactStore.open(path, options);
}

function expectPositionals(args: ParsedArgs, count: number, what: string): void {
  if (args.positional.length !== count) {
    throw new Error(
      `ram ${args.positional[0]}: expected ${what}, got ${JSON.stringify(args.positional.slice(1))}`,
    );
  }
}

async function importFacts(args: ParsedArgs): Promise<void> {
  expectPositionals(args, 2, 'one JSONL file');
  const file = args.positional[1]!;
  const templatesPath = optString(args, 'templates');
  let templates: StatementTemplates | undefined;
  if (templatesPath !== undefined) {
    const [{ readJson }, { parseTemplates }] = await Promise.all([
      import('../../io/jsonl.ts'),
      import('../../memory/templates.ts'),
    ]);
    templates = parseTemplates(readJson(templatesPath), templatesPath);
  }
  // Parse and check the whole file before the store is opened (or created).
  const { readFactsJsonl } = await import('../../memory/store.ts');
  const facts = readFactsJsonl(file);
  const store = await openStore(args, { mustExist: false, templates });
  try {
    const s = store.importFacts(facts);
    const inferred =
      s.inferredTemplates.length > 0 ? `; templates inferred for ${s.inferredTemplates.join(', ')}` : '';
    console.log(
      `${file}: ${s.records} records -> ${store.path}: ${s.added} added, ${s.updated} edited, ` +
        `${s.unchanged} unchanged (${store.count()} facts in store)${inferred}`,
    );
  } finally {
    store.close();
  }
}

async function addFact(args: ParsedArgs): Promise<void> {
  expectPositionals(args, 1, 'no file or question');
  const fact = {
    subject: requireString(args, 'subject'),
    relation: requireString(args, 'relation'),
    object: requireString(args, 'object'),
    source: optString(args, 'source') ?? 'rlcp ram add',
  };
  const store = await openStore(args, { mustExist: false });
  try {
    const result = store.add(fact);
    console.log(`${result}: ${store.get(fact.subject, fact.relation)!.statement}`);
  } finally {
    store.close();
  }
}

async function removeFact(args: ParsedArgs): Promise<void> {
  expectPositionals(args, 1, 'no file or question');
  const subject = requireString(args, 'subject');
  const relation = requireString(args, 'relation');
  const store = await openStore(args, { mustExist: true });
  try {
    if (!store.remove(subject, relation)) {
      throw new Error(`${store.path}: no fact with subject "${subject}" and relation "${relation}"`);
    }
    console.log(`removed: ${subject}\t${relation}`);
  } finally {
    store.close();
  }
}

async function listFacts(args: ParsedArgs): Promise<void> {
  expectPositionals(args, 1, 'no file or question');
  const store = await openStore(args, { mustExist: true, readonly: true });
  try {
    const relation = optString(args, 'relation');
    for (const f of store.list({ relation })) console.log(`${f.subject}\t${f.relation}\t${f.object}`);
  } finally {
    store.close();
  }
}

async function retrieveFacts(args: ParsedArgs): Promise<void> {
  expectPositionals(args, 2, 'one question');
  const question = args.positional[1]!;
  const k = optNumber(args, 'k', 4);
  const store = await openStore(args, { mustExist: true, readonly: true });
  try {
    const { retrieve, buildRagPrompt } = await import('../../memory/retrieval.ts');
    const facts = retrieve(store, question, { k, relationHint: optString(args, 'relation') });
    for (const f of facts) console.log(`${f.via}\t${f.subject}\t${f.relation}\t${f.object}`);
    console.log(`\n${buildRagPrompt(facts, question, (f) => f.statement)}`);
  } finally {
    store.close();
  }
}

function positiveInteger(args: ParsedArgs, key: string, fallback: number | undefined): number | undefined {
  if (optString(args, key) === undefined) return fallback;
  const value = optNumber(args, key, 0);
  if (!(Number.isInteger(value) && value >= 1)) throw new Error(`--${key} must be a positive integer`);
  return value;
}

async function evaluate(args: ParsedArgs): Promise<void> {
  const json = optFlag(args, 'json');
  const relationHint = optFlag(args, 'relation-hint');
  expectPositionals(args, 1, 'no file or question');
  const worldDir = requireString(args, 'world');
  const metabolizedDir = requireString(args, 'metabolized');
  const baseDir = requireString(args, 'base');
  const out = optString(args, 'out');
  const k = positiveInteger(args, 'k', undefined);
  const batchSize = positiveInteger(args, 'batch-size', 32);
  const seed = optNumber(args, 'seed', 0);
  if (!Number.isSafeInteger(seed)) throw new Error('--seed must be an integer');
  const { loadWorld } = await import('../../data/world.ts');
  const { ModelAnswerer } = await import('../../memory/ask.ts');
  const { evaluateRam, formatRamEvalTable } = await import('../../memory/evaluate.ts');
  const world = loadWorld(worldDir);
  const metabolized = await ModelAnswerer.load(metabolizedDir, {
    batchSize,
    progress: true,
    tokenizerDir: worldDir,
  });
  const base =
    resolve(baseDir) === resolve(metabolizedDir)
      ? metabolized
      : await ModelAnswerer.load(baseDir, { batchSize, progress: true, tokenizerDir: worldDir });
  const { report, items, retrieval } = evaluateRam({
    world,
    metabolized,
    base,
    k,
    seed,
    relationHint,
  });
  if (out !== undefined) {
    const { writeJsonAtomic, writeFileAtomic } = await import('../../io/atomic.ts');
    const { toJsonl } = await import('../../io/jsonl.ts');
    writeJsonAtomic(join(out, 'results.json'), report);
    writeFileAtomic(join(out, 'items.jsonl'), toJsonl(items));
    writeFileAtomic(join(out, 'retrieval.jsonl'), toJsonl(retrieval));
  }
  if (!json) console.log(formatRamEvalTable(report));
  console.log(JSON.stringify(report));
}

const ACTIONS: Record<string, (args: ParsedArgs) => Promise<void>> = {
  import: importFacts,
  add: addFact,
  remove: removeFact,
  list: listFacts,
  retrieve: retrieveFacts,
  eval: evaluate,
};

registerCommand('ram', async () => ({
  summary: 'symbolic RAM: import, add, remove, list, retrieve facts in a SQLite store; eval with models',
  usage: USAGE,
  flags: ['json', 'relation-hint'],
  async run(args) {
    const action = args.positional[0];
    const run = action !== undefined && Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
    if (run === undefined) {
      throw new Error(`expected an action (${Object.keys(ACTIONS).join(', ')}), got ${action ?? 'none'}`);
    }
    await run(args);
  },
}));

const ASK_USAGE = `rlcp ask --model DIR --ram FILE.db [--k 1] [--relation R] [--max-new-tokens 32] [--tokenizer DIR]
    [--json] "question" ...

Retrieves the top-k facts for each question from the fact store (src/memory/retrieval.ts), builds the
RAG prompt the model was trained on ("Context: <statements>\nQ: <question>\nA:", statements rendered
from the store, so an edited fact is read as edited), and answers greedily (stops at a newline or EOS).
Several questions are answered in one batch. Prints, per question, the answer and then the facts used
(via<TAB>subject<TAB>relation<TAB>object, best first); --json prints one JSON object per question
instead: {question, answer, generated, prompt, facts: [{via, subject, relation, object, statement}]}.
--k defaults to 1, the context size of the default world's RAG records (the asked fact alone; a model
trained on larger contexts, or a question needing two facts, wants more). --tokenizer:
a folder with tokenizer.json, used when the model folder has none (training checkpoints; the world's).`;

registerCommand('ask', async () => ({
  summary: 'answer questions with a model reading facts from the symbolic RAM (rlcp ram)',
  usage: ASK_USAGE,
  flags: ['json'],
  async run(args) {
    const json = optFlag(args, 'json');
    const questions = args.positional;
    if (questions.length === 0) throw new Error('ask: expected a question');
    const modelDir = requireString(args, 'model');
    const dbPath = requireString(args, 'ram');
    if (!existsSync(dbPath)) throw new Error(`${dbPath}: fact store not found`);
    const { ModelAnswerer, askRam, DEFAULT_ASK_K } = await import('../../memory/ask.ts');
    const { FactStore } = await import('../../memory/store.ts');
    const k = positiveInteger(args, 'k', DEFAULT_ASK_K);
    const maxNewTokens = positiveInteger(args, 'max-new-tokens', 32);
    const answerer = await ModelAnswerer.load(modelDir, { tokenizerDir: optString(args, 'tokenizer') });
    const store = FactStore.open(dbPath, { readonly: true });
    try {
      const results = askRam(answerer, store, questions, {
        k,
        relationHint: optString(args, 'relation'),
        maxNewTokens,
      });
      results.forEach((r, i) => {
        if (json) {
          console.log(
            JSON.stringify({
              question: r.question,
              answer: r.answer,
              generated: r.generated,
              prompt: r.prompt,
              facts: r.facts.map((f) => ({
                via: f.via,
                subject: f.subject,
                relation: f.relation,
                object: f.object,
                statement: f.statement,
              })),
            }),
          );
          return;
        }
        if (questions.length > 1) console.log(`${i > 0 ? '\n' : ''}Q: ${r.question}`);
        console.log(r.answer);
        for (const f of r.facts) console.log(`${f.via}\t${f.subject}\t${f.relation}\t${f.object}`);
      });
    } finally {
      store.close();
    }
  },
}));
