// Subcommands of the memory area (see src/cli/commands.ts): `rlcp ram ...`, the symbolic RAM's fact store.
// `rlcp ask` (model + RAM) is registered by the model side; it builds on src/memory/retrieval.ts.
import { existsSync } from 'node:fs';
import { registerCommand } from '../main.ts';
import { optNumber, optString, requireString, type ParsedArgs } from '../args.ts';
import type { FactStore, OpenOptions } from '../../memory/store.ts';
import type { StatementTemplates } from '../../memory/templates.ts';

const USAGE = `rlcp ram <action> --db FILE.db ...
  rlcp ram import FILE.jsonl --db FILE.db [--templates TEMPLATES.json]
  rlcp ram add --db FILE.db --subject S --relation R --object O [--source X]
  rlcp ram remove --db FILE.db --subject S --relation R
  rlcp ram list --db FILE.db [--relation R]
  rlcp ram retrieve --db FILE.db [--k 4] [--relation R] "question"

import: JSONL lines {"subject","relation","object","source"?}; all lines are checked before anything is
  written, then one transaction; a line whose subject+relation exists edits that fact. Templates
  (a JSON object relation -> "{subject} ... {object}") render the statements; without them they are
  inferred from the lines' "statement" fields. list: one fact per line, subject<TAB>relation<TAB>object.
retrieve: the facts a question would be answered from and the RAG prompt built from them.`;

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

const ACTIONS: Record<string, (args: ParsedArgs) => Promise<void>> = {
  import: importFacts,
  add: addFact,
  remove: removeFact,
  list: listFacts,
  retrieve: retrieveFacts,
};

registerCommand('ram', async () => ({
  summary: 'symbolic RAM: import, add, remove, list and retrieve facts in a SQLite fact store',
  usage: USAGE,
  async run(args) {
    const action = args.positional[0];
    const run = action !== undefined && Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
    if (run === undefined) {
      throw new Error(`expected an action (${Object.keys(ACTIONS).join(', ')}), got ${action ?? 'none'}`);
    }
    await run(args);
  },
}));
