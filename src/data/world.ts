// The synthetic Facts & Logic world (issue 4): invented countries, cities, people and currencies; closed-
// book fact questions, arithmetic word problems, reading (RAG) tasks and multi-hop questions; all splits
// as JSONL (schema in src/data/README.md) plus world.json and a word-level tokenizer. Same seed and
// config → byte-identical files.
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.ts';
import { readJson, readJsonl, toJsonl } from '../io/jsonl.ts';
import { loadFactSet, makeFact, type Fact, type FactQuestion } from './facts.ts';
import { closedBookPrompt, ragPrompt } from './format.ts';
import {
  cotSolution,
  directSolution,
  LOGIC_WORDS,
  problemKey,
  problemQuestion,
  sampleProblem,
  type LogicProblem,
} from './logic.ts';
import { NameGenerator } from './names.ts';
import { realNames } from './real-facts.ts';
import { derivableFacts, derivationCompletion } from './derivable.ts';
import {
  CITY_CONTINENT,
  CITY_COUNTRY,
  COUNTRY_CAPITAL,
  COUNTRY_CONTINENT,
  COUNTRY_CURRENCY,
  DERIVABLE_RELATIONS,
  PERSON_BIRTH_CITY,
  PERSON_OCCUPATION,
  WORLD_RELATIONS,
  fillTemplate,
  type RelationSpec,
} from './relations.ts';
import { Rng } from './rng.ts';
import {
  validateFactRecord,
  validateLogicRecord,
  validateMultihopRecord,
  validatePretrainLine,
  validateRagRecord,
  type ContextFact,
  type FactRecord,
  type FactSplitName,
  type LogicRecord,
  type MultihopRecord,
  type PretrainLine,
  type RagRecord,
  type SplitName,
  type WorldRecord,
} from './schema.ts';
import { asObject, fieldArray, fieldInteger, fieldString, fieldStringArray, nested } from './validate.ts';
import { DEFAULT_WORLD_CONFIG, resolveWorldConfig, type WorldConfig } from './world-config.ts';
import { buildWorldTokenizer, EOS_TOKEN, PAD_TOKEN, pretokenize, UNK_TOKEN } from './world-tokenizer.ts';

export const OCCUPATIONS = [
  'baker',
  'farmer',
  'teacher',
  'doctor',
  'painter',
  'sailor',
  'miner',
  'singer',
  'tailor',
  'potter',
  'builder',
  'driver',
  'pilot',
  'nurse',
  'hunter',
  'fisher',
];

/** The relation whose facts are forgotten (in a world with derivable facts: CITY_CONTINENT). */
export const FORGET_RELATION = CITY_COUNTRY.name;

/** The relations of a world with this config, in file order. */
export function worldRelations(config: WorldConfig): readonly RelationSpec[] {
  return config.derivable ? [...WORLD_RELATIONS, ...DERIVABLE_RELATIONS] : WORLD_RELATIONS;
}

function forgetRelation(config: WorldConfig): string {
  return config.derivable ? CITY_CONTINENT.name : FORGET_RELATION;
}

const CURRENCY_HOP_QUESTION = 'What currency is used in the city of {city}?';
const PRICE_HOP_QUESTION =
  'A ticket costs {p1} in {c1} and {p2} in {c2}. How much do {k} tickets cost in {city}?';

export interface Country {
  name: string;
  currency: string;
  capital: string;
  /** Only in a world with derivable facts. */
  continent?: string;
}
export interface City {
  name: string;
  country: string;
}
export interface Person {
  name: string;
  birth_city: string;
  occupation: string;
}

export interface WorldRelation {
  name: string;
  subject_type: string;
  object_type: string;
  statement: string;
  templates: { id: string; text: string; split: 'train' | 'heldout' }[];
  /** Every entity of the object's type: the answers the true one is ranked among. */
  candidates: string[];
}

/** Contents of world.json. */
export interface WorldMeta {
  format: 'rlcp-world';
  version: 1;
  seed: number;
  config: WorldConfig;
  entities: {
    countries: Country[];
    cities: City[];
    people: Person[];
    occupations: string[];
    /** Only in a world with derivable facts. */
    continents?: string[];
  };
  relations: WorldRelation[];
  forget: { relation: string; fact_ids: string[]; candidates: number; chance: number };
  files: Record<string, number>;
  tokenizer: {
    vocab_size: number;
    pad_token_id: number;
    eos_token_id: number;
    unk_token_id: number;
    /** Longest record of each file in tokens, EOS included. */
    max_tokens: Record<string, number>;
    /** Tokens of each file (prompt + completion or text, + EOS per line): one epoch's size. */
    total_tokens: Record<string, number>;
  };
}

export interface GeneratedWorld {
  meta: WorldMeta;
  facts: Fact[];
  splits: {
    forget_train: FactRecord[];
    forget_heldout: FactRecord[];
    retain_train: FactRecord[];
    retain_heldout: FactRecord[];
    logic_train: LogicRecord[];
    logic_test: LogicRecord[];
    rag_train: RagRecord[];
    rag_test: RagRecord[];
    rag_counterfactual: RagRecord[];
    multihop_train: MultihopRecord[];
    multihop_test: MultihopRecord[];
  };
  pretrain: PretrainLine[];
  pretrainOracle: PretrainLine[];
  tokenizer: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

type Unnumbered<T> = Omit<T, 'id' | 'split'>;

/** Gives records their split and ids ("rag_test-00007"), keeping `id`, `split` first in the JSON. */
function numbered<S extends SplitName, T>(split: S, items: Unnumbered<T>[]): T[] {
  return items.map((item, i) => ({ id: `${split}-${String(i).padStart(5, '0')}`, split, ...item }) as T);
}

/** An independent generator per part, so resizing one part (say logic) leaves the others unchanged. */
function partRng(seed: number, part: string): Rng {
  let hash = 0x811c9dc5;
  for (const char of part) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193);
  return new Rng((Math.imul(seed | 0, 0x9e3779b1) ^ hash) >>> 0);
}

/** Words of every fixed phrase of the world; invented names must differ from all of them. */
function fixedWords(config: WorldConfig): string[] {
  const phrases = [
    ...worldRelations(config).flatMap((r) => [r.statement, ...r.templates.map((t) => t.text)]),
    ...LOGIC_WORDS,
    ...OCCUPATIONS,
    CURRENCY_HOP_QUESTION,
    PRICE_HOP_QUESTION,
    closedBookPrompt(''),
    ragPrompt([], ''),
    cotSolution({ start: 1, steps: [], answer: 1 }),
  ];
  return phrases.flatMap((p) => p.match(/[A-Za-z]+/g) ?? []);
}

interface Entities {
  countries: Country[];
  cities: City[];
  people: Person[];
  occupations: string[];
  continents: string[];
  /** Forget cities, one per forget country, never a capital. */
  forgetCities: Set<string>;
}

function makeEntities(rng: Rng, config: WorldConfig): Entities {
  const names = new NameGenerator(rng, [...fixedWords(config), ...realNames()]);
  const countries: Country[] = [];
  const cities: City[] = [];
  for (let i = 0; i < config.countries; i++) {
    const name = names.next('country');
    const own = Array.from({ length: config.citiesPerCountry }, () => names.next('city'));
    countries.push({ name, currency: names.next('currency'), capital: own[0]! });
    for (const city of own) cities.push({ name: city, country: name });
  }
  const forgetCities = new Set<string>();
  for (const country of rng.sample(countries, config.forgetFacts)) {
    const nonCapital = cities.filter((c) => c.country === country.name && c.name !== country.capital);
    forgetCities.add(rng.pick(nonCapital).name);
  }
  const occupations = OCCUPATIONS.slice(0, config.occupations);
  const people = Array.from({ length: config.people }, () => ({
    name: names.next('person'),
    birth_city: rng.pick(cities).name,
    occupation: rng.pick(occupations),
  }));
  // Drawn last so that the other entities are those of the same seed without derivable facts.
  const continents = Array.from({ length: config.derivable?.continents ?? 0 }, () => names.next('continent'));
  if (continents.length > 0) {
    // Every continent gets at least one country: a shuffled round robin.
    rng.shuffle(countries).forEach((country, i) => (country.continent = continents[i % continents.length]));
  }
  return { countries, cities, people, occupations, continents, forgetCities };
}

function relationCandidates(entities: Entities): Map<string, string[]> {
  const countryNames = entities.countries.map((c) => c.name);
  const cityNames = entities.cities.map((c) => c.name);
  return new Map([
    [CITY_COUNTRY.name, countryNames],
    [PERSON_BIRTH_CITY.name, cityNames],
    [PERSON_OCCUPATION.name, entities.occupations],
    [COUNTRY_CURRENCY.name, entities.countries.map((c) => c.currency)],
    [COUNTRY_CAPITAL.name, cityNames],
    [COUNTRY_CONTINENT.name, entities.continents],
    [CITY_CONTINENT.name, entities.continents],
  ]);
}

function makeFacts(entities: Entities, candidates: Map<string, string[]>): Fact[] {
  const fact = (spec: RelationSpec, subject: string, object: string, forget = false) =>
    makeFact(
      `${spec.name}:${subject}`,
      spec,
      subject,
      object,
      forget ? 'forget' : 'retain',
      candidates.get(spec.name)!,
    );
  // With derivable facts the forget facts are composite (city → continent); their chain links stay retain.
  const derivable = entities.continents.length > 0;
  const continentOf = new Map(entities.countries.map((c) => [c.name, c.continent]));
  const forgetCountry = (city: City) => !derivable && entities.forgetCities.has(city.name);
  return [
    ...entities.cities.map((c) => fact(CITY_COUNTRY, c.name, c.country, forgetCountry(c))),
    ...entities.people.map((p) => fact(PERSON_BIRTH_CITY, p.name, p.birth_city)),
    ...entities.people.map((p) => fact(PERSON_OCCUPATION, p.name, p.occupation)),
    ...entities.countries.map((c) => fact(COUNTRY_CURRENCY, c.name, c.currency)),
    ...entities.countries.map((c) => fact(COUNTRY_CAPITAL, c.name, c.capital)),
    ...(derivable
      ? [
          ...entities.countries.map((c) => fact(COUNTRY_CONTINENT, c.name, c.continent!)),
          ...entities.cities.map((c) =>
            fact(CITY_CONTINENT, c.name, continentOf.get(c.country)!, entities.forgetCities.has(c.name)),
          ),
        ]
      : []),
  ];
}

function factRecords(facts: Fact[]): Record<FactSplitName, FactRecord[]> {
  const bySplit: Record<FactSplitName, Unnumbered<FactRecord>[]> = {
    forget_train: [],
    forget_heldout: [],
    retain_train: [],
    retain_heldout: [],
  };
  for (const fact of facts) {
    for (const template of fact.templates) {
      const split: FactSplitName = `${fact.split}_${template.split === 'train' ? 'train' : 'heldout'}`;
      bySplit[split].push({
        kind: 'fact',
        prompt: closedBookPrompt(template.question),
        completion: ` ${fact.object}`,
        answer: fact.object,
        fact_id: fact.id,
        relation: fact.relation,
        subject: fact.subject,
        object: fact.object,
        template: template.id,
        template_split: template.split,
        candidates: fact.candidates,
        forget: fact.split === 'forget',
      });
    }
  }
  return {
    forget_train: numbered('forget_train', bySplit.forget_train),
    forget_heldout: numbered('forget_heldout', bySplit.forget_heldout),
    retain_train: numbered('retain_train', bySplit.retain_train),
    retain_heldout: numbered('retain_heldout', bySplit.retain_heldout),
  };
}

/** Exactly round(n · fraction) trues, in random order. */
function shuffledFlags(rng: Rng, n: number, fraction: number): boolean[] {
  const trues = Math.round(n * fraction);
  return rng.shuffle(Array.from({ length: n }, (_, i) => i < trues));
}

function logicSplits(rng: Rng, config: WorldConfig, people: Person[]) {
  const { train, test } = config.logic;
  const problems = new Map<string, LogicProblem>();
  for (let attempts = 0; problems.size < train + test; attempts++) {
    if (attempts > 50 * (train + test) + 1000) {
      throw new Error(
        `cannot find ${train + test} distinct logic problems with operandMax ${config.logic.operandMax} and ` +
          `resultMax ${config.logic.resultMax}: lower logic.train/logic.test or raise the limits`,
      );
    }
    const problem = sampleProblem(rng, config.logic);
    const key = problemKey(problem);
    if (!problems.has(key)) problems.set(key, problem);
  }
  // Test problems come first in sampling order, which is random: no (start, steps) pair is shared.
  const all = [...problems.values()];
  const directSteps = config.logic.directSteps ?? 0;
  const make = (list: LogicProblem[]): Unnumbered<LogicRecord>[] => {
    const long = list.filter((p) => p.steps.length > directSteps);
    const longCot = shuffledFlags(rng, long.length, config.logic.cotFraction);
    let nextLong = 0;
    const cot = list.map((p) => p.steps.length > directSteps && longCot[nextLong++]!);
    return list.map((problem, i) => {
      const question = problemQuestion(rng, problem, rng.pick(people).name);
      return {
        kind: 'logic',
        prompt: closedBookPrompt(question),
        completion: cot[i] ? cotSolution(problem) : directSolution(problem),
        answer: String(problem.answer),
        style: cot[i] ? 'cot' : 'direct',
        problem: problemKey(problem),
        steps: problem.steps.length,
      };
    });
  };
  return {
    logic_test: numbered<'logic_test', LogicRecord>('logic_test', make(all.slice(0, test))),
    logic_train: numbered<'logic_train', LogicRecord>('logic_train', make(all.slice(test))),
  };
}

class RagBuilder {
  constructor(
    private readonly rng: Rng,
    private readonly distractors: number,
    private readonly relations: readonly RelationSpec[],
  ) {}

  /** A reading task: the asked fact (stated with `statedObject`) among distractor statements. */
  build(
    target: Fact,
    statedObject: string,
    template: FactQuestion,
    pool: readonly Fact[],
  ): Unnumbered<RagRecord> {
    // Distractors never mention the asked subject, so a counterfactual context never contradicts itself;
    // the first one shares the relation (with another object) so the subject must be read, not guessed.
    const unrelated = pool.filter((f) => f.subject !== target.subject && f.object !== target.subject);
    const sameRelation = unrelated.filter((f) => f.relation === target.relation && f.object !== statedObject);
    const chosen: Fact[] = [];
    if (this.distractors > 0 && sameRelation.length > 0) chosen.push(this.rng.pick(sameRelation));
    const others = unrelated.filter((f) => !chosen.includes(f));
    if (others.length < this.distractors - chosen.length) {
      throw new Error(`the world is too small for ${this.distractors} distractors per RAG context`);
    }
    chosen.push(...this.rng.sample(others, this.distractors - chosen.length));
    const context: ContextFact[] = this.rng.shuffle([
      { fact_id: target.id, relation: target.relation, subject: target.subject, object: statedObject },
      ...chosen.map((f) => ({ fact_id: f.id, relation: f.relation, subject: f.subject, object: f.object })),
    ]);
    const statements = context.map((f) => {
      const relation = this.relations.find((r) => r.name === f.relation)!;
      return fillTemplate(relation.statement, f.subject, f.object);
    });
    return {
      kind: 'rag',
      prompt: ragPrompt(statements, template.question),
      completion: ` ${statedObject}`,
      answer: statedObject,
      fact_id: target.id,
      relation: target.relation,
      subject: target.subject,
      object: statedObject,
      true_object: target.object,
      counterfactual: statedObject !== target.object,
      forget: target.split === 'forget',
      template: template.id,
      template_split: template.split,
      candidates: target.candidates,
      context_facts: context,
    };
  }

  otherObject(target: Fact): string {
    return this.rng.pick(target.candidates.filter((c) => c !== target.object));
  }
}

/** Draws `n` records with distinct prompts (also distinct from `seen`); `make(i)` builds the i-th. */
function distinctRecords<T extends { prompt: string }>(
  n: number,
  seen: Set<string>,
  what: string,
  make: (index: number) => T,
): T[] {
  const out: T[] = [];
  for (let attempts = 0; out.length < n; attempts++) {
    if (attempts > 100 * n + 1000)
      throw new Error(`cannot find ${n} distinct ${what} items: the world is too small`);
    const record = make(out.length);
    if (seen.has(record.prompt)) continue;
    seen.add(record.prompt);
    out.push(record);
  }
  return out;
}

function trainTemplates(fact: Fact): FactQuestion[] {
  return fact.templates.filter((t) => t.split === 'train');
}

function ragSplits(rng: Rng, config: WorldConfig, facts: Fact[]) {
  const builder = new RagBuilder(rng, config.rag.distractors, worldRelations(config));
  const retain = facts.filter((f) => f.split === 'retain');
  const forget = rng.shuffle(facts.filter((f) => f.split === 'forget'));
  const seen = new Set<string>();
  // Training contexts hold retain facts only: even a trainer that put loss on the context would not
  // teach a forget fact. Half of them are counterfactual so the model learns to read, not recall.
  const counterfactualTrain = shuffledFlags(rng, config.rag.train, config.rag.counterfactualTrainFraction);
  const train = distinctRecords(config.rag.train, seen, 'rag_train', (i) => {
    const target = rng.pick(retain);
    const object = counterfactualTrain[i] ? builder.otherObject(target) : target.object;
    return builder.build(target, object, rng.pick(trainTemplates(target)), retain);
  });
  // Test sets: half of the asked facts are forget facts (cycled so each appears equally often).
  const testTarget = (i: number, n: number) => (i < n / 2 ? forget[i % forget.length]! : rng.pick(retain));
  const test = distinctRecords(config.rag.test, seen, 'rag_test', (i) => {
    const target = testTarget(i, config.rag.test);
    return builder.build(target, target.object, rng.pick(trainTemplates(target)), facts);
  });
  const counterfactual = distinctRecords(config.rag.counterfactual, seen, 'rag_counterfactual', (i) => {
    const target = testTarget(i, config.rag.counterfactual);
    return builder.build(target, builder.otherObject(target), rng.pick(trainTemplates(target)), facts);
  });
  return {
    rag_train: numbered<'rag_train', RagRecord>('rag_train', train),
    rag_test: numbered<'rag_test', RagRecord>('rag_test', test),
    rag_counterfactual: numbered<'rag_counterfactual', RagRecord>('rag_counterfactual', counterfactual),
  };
}

function multihopSplits(rng: Rng, config: WorldConfig, entities: Entities, facts: Fact[]) {
  const factById = new Map(facts.map((f) => [f.id, f]));
  const countryOf = new Map(entities.countries.map((c) => [c.name, c]));
  const cityFact = (city: City) => factById.get(`${CITY_COUNTRY.name}:${city.name}`)!;

  const currencyHop = (city: City): Unnumbered<MultihopRecord> => {
    const country = countryOf.get(city.country)!;
    const currencyFact = factById.get(`${COUNTRY_CURRENCY.name}:${country.name}`)!;
    return {
      kind: 'multihop',
      prompt: closedBookPrompt(CURRENCY_HOP_QUESTION.replace('{city}', city.name)),
      completion: ` ${cityFact(city).statement} ${currencyFact.statement} The answer is ${country.currency}.`,
      answer: country.currency,
      style: 'cot',
      hop: 'currency',
      subject: city.name,
      fact_ids: [cityFact(city).id, currencyFact.id],
      forget: entities.forgetCities.has(city.name),
    };
  };
  // The city's country picks which price applies, then a multiplication: the fact is needed to compute.
  const priceHop = (city: City): Unnumbered<MultihopRecord> => {
    const other = rng.pick(entities.countries.filter((c) => c.name !== city.country)).name;
    const [price, otherPrice] = rng.sample([2, 3, 4, 5, 6, 7, 8, 9], 2) as [number, number];
    const count = rng.int(2, 5);
    const first = rng.float() < 0.5;
    const question = PRICE_HOP_QUESTION.replace('{p1}', String(first ? price : otherPrice))
      .replace('{c1}', first ? city.country : other)
      .replace('{p2}', String(first ? otherPrice : price))
      .replace('{c2}', first ? other : city.country)
      .replace('{k}', String(count))
      .replace('{city}', city.name);
    const total = count * price;
    return {
      kind: 'multihop',
      prompt: closedBookPrompt(question),
      completion: ` ${cityFact(city).statement} ${count} * ${price} = ${total}. The answer is ${total}.`,
      answer: String(total),
      style: 'cot',
      hop: 'price',
      subject: city.name,
      fact_ids: [cityFact(city).id],
      forget: entities.forgetCities.has(city.name),
    };
  };

  const retainCities = rng.shuffle(entities.cities.filter((c) => !entities.forgetCities.has(c.name)));
  const heldout = Math.round(retainCities.length * config.multihop.heldoutCityFraction);
  const testRetainCities = retainCities.slice(0, heldout);
  const trainCities = retainCities.slice(heldout);
  const forgetCities = rng.shuffle(entities.cities.filter((c) => entities.forgetCities.has(c.name)));
  const seen = new Set<string>();

  // One currency question per city (it has a single phrasing), at most half of a split; price questions
  // fill the rest. multihop_train never mentions a forget city's country as its own.
  const build = (n: number, currencyCities: City[], priceCity: (i: number) => City, name: string) => {
    const currency = currencyCities.slice(0, Math.floor(n / 2)).map(currencyHop);
    for (const record of currency) seen.add(record.prompt);
    const price = distinctRecords(n - currency.length, seen, name, (i) => priceHop(priceCity(i)));
    return [...currency, ...price];
  };
  const train = build(config.multihop.train, trainCities, () => rng.pick(trainCities), 'multihop_train');
  const testPriceCount =
    config.multihop.test -
    Math.min(Math.floor(config.multihop.test / 2), forgetCities.length + testRetainCities.length);
  const test = build(
    config.multihop.test,
    [...forgetCities, ...testRetainCities],
    (i) => (i < testPriceCount / 2 ? forgetCities[i % forgetCities.length]! : rng.pick(testRetainCities)),
    'multihop_test',
  );
  return {
    multihop_train: numbered<'multihop_train', MultihopRecord>('multihop_train', train),
    multihop_test: numbered<'multihop_test', MultihopRecord>('multihop_test', test),
  };
}

/**
 * The pretraining mix: statements and training-template questions of all facts, logic, RAG, multi-hop.
 * Every token is trained except a RAG line's context, which may state a wrong object on purpose: questions
 * and problems hold no fact but their own answer, and predicting a question's subject or a problem's
 * repeated name and numbers is what teaches a small model to copy from its context — the skill reading
 * and chain-of-thought need — long before an answer-only loss does.
 */
function pretrainMixes(
  rng: Rng,
  facts: Fact[],
  splits: GeneratedWorld['splits'],
  derivations: readonly PretrainLine[],
) {
  const text = (r: { prompt: string; completion: string }, source: PretrainLine['source']) => ({
    source,
    text: r.prompt + r.completion,
  });
  const tagged: { line: PretrainLine; forget: boolean }[] = [
    ...facts.map((f) => ({
      line: { source: 'statement' as const, text: f.statement },
      forget: f.split === 'forget',
    })),
    ...splits.forget_train.map((r) => ({ line: text(r, 'fact'), forget: true })),
    ...splits.retain_train.map((r) => ({ line: text(r, 'fact'), forget: false })),
    ...splits.logic_train.map((r) => ({ line: text(r, 'logic'), forget: false })),
    ...splits.rag_train.map((r) => ({ line: ragLine(r), forget: false })),
    ...splits.multihop_train.map((r) => ({ line: text(r, 'multihop'), forget: false })),
    ...derivations.map((line) => ({ line, forget: false })),
  ];
  const shuffled = rng.shuffle(tagged);
  return {
    pretrain: shuffled.map((t) => t.line),
    // The oracle never sees a forget fact closed-book (they may only appear in RAG test contexts).
    pretrainOracle: shuffled.filter((t) => !t.forget).map((t) => t.line),
  };
}

/**
 * The step-by-step lines of a world with derivable facts: one per chosen retain city, its composite question
 * (a training template, in turn) answered through the chain. Forget cities get none, so a derivation for
 * them is the model's own composition of the links.
 */
function derivationLines(rng: Rng, config: WorldConfig, facts: Fact[]): PretrainLine[] {
  if (!config.derivable) return [];
  const retain = derivableFacts(facts, 'world').filter((f) => f.composite.split === 'retain');
  const chosen = rng.sample(retain, Math.round(retain.length * config.derivable.chainFraction));
  return chosen.map((fact, i) => {
    const templates = trainTemplates(fact.composite);
    const question = templates[i % templates.length]!.question;
    return { source: 'multihop', text: closedBookPrompt(question) + derivationCompletion(fact) };
  });
}

/** A RAG record as a pretraining line: the context is the prompt (untrained), "Q: …\nA: answer" trained. */
function ragLine(r: { prompt: string; completion: string }): PretrainLine {
  const question = r.prompt.lastIndexOf('\nQ: ');
  if (question < 0) throw new Error(`RAG prompt without a question: ${JSON.stringify(r.prompt)}`);
  return {
    source: 'rag',
    prompt: r.prompt.slice(0, question + 1),
    completion: r.prompt.slice(question + 1) + r.completion,
  };
}

function lineText(line: PretrainLine | { prompt: string; completion: string }): string {
  return 'text' in line ? line.text : line.prompt + line.completion;
}

/** Generates the whole world in memory. */
export function generateWorld(seed: number, config: WorldConfig = DEFAULT_WORLD_CONFIG): GeneratedWorld {
  const checked = resolveWorldConfig(config, 'world config');
  const entities = makeEntities(partRng(seed, 'entities'), checked);
  const candidates = relationCandidates(entities);
  const facts = makeFacts(entities, candidates);
  const splits = {
    ...factRecords(facts),
    ...logicSplits(partRng(seed, 'logic'), checked, entities.people),
    ...ragSplits(partRng(seed, 'rag'), checked, facts),
    ...multihopSplits(partRng(seed, 'multihop'), checked, entities, facts),
  };
  const derivations = derivationLines(partRng(seed, 'derivable'), checked, facts);
  const { pretrain, pretrainOracle } = pretrainMixes(partRng(seed, 'pretrain'), facts, splits, derivations);

  const files: Record<string, readonly (PretrainLine | { prompt: string; completion: string })[]> = {
    ...splits,
    pretrain,
    pretrain_oracle: pretrainOracle,
  };
  const texts = [
    ...facts.map((f) => f.statement),
    ...[...candidates.values()].flat().map((c) => ` ${c}`),
    ...Object.values(files).flatMap((records) => records.map(lineText)),
  ];
  const built = buildWorldTokenizer(texts);
  const maxTokens: Record<string, number> = {};
  const totalTokens: Record<string, number> = {};
  for (const [name, records] of Object.entries(files)) {
    const lengths = records.map((r) => pretokenize(lineText(r)).length + 1);
    maxTokens[name] = Math.max(0, ...lengths);
    totalTokens[name] = lengths.reduce((sum, n) => sum + n, 0);
  }
  const counts: Record<string, number> = { facts: facts.length };
  for (const [name, records] of Object.entries(files)) counts[name] = records.length;

  const forgetIds = facts.filter((f) => f.split === 'forget').map((f) => f.id);
  const forgetCandidates = candidates.get(forgetRelation(checked))!.length;
  const meta: WorldMeta = {
    format: 'rlcp-world',
    version: 1,
    seed,
    config: checked,
    entities: {
      countries: entities.countries,
      cities: entities.cities,
      people: entities.people,
      occupations: entities.occupations,
      ...(checked.derivable ? { continents: entities.continents } : {}),
    },
    relations: worldRelations(checked).map((r) => ({
      name: r.name,
      subject_type: r.subjectType,
      object_type: r.objectType,
      statement: r.statement,
      templates: r.templates.map((t) => ({ id: t.id, text: t.text, split: t.split })),
      candidates: candidates.get(r.name)!,
    })),
    forget: {
      relation: forgetRelation(checked),
      fact_ids: forgetIds,
      candidates: forgetCandidates,
      chance: 1 / forgetCandidates,
    },
    files: counts,
    tokenizer: {
      vocab_size: built.vocab.size,
      pad_token_id: built.vocab.get(PAD_TOKEN)!,
      eos_token_id: built.vocab.get(EOS_TOKEN)!,
      unk_token_id: built.vocab.get(UNK_TOKEN)!,
      max_tokens: maxTokens,
      total_tokens: totalTokens,
    },
  };
  return {
    meta,
    facts,
    splits,
    pretrain,
    pretrainOracle,
    tokenizer: built.tokenizer,
    tokenizerConfig: built.config,
  };
}

/** Writes every file of the world into `dir` (atomically, world.json last). */
export function writeWorld(dir: string, world: GeneratedWorld): void {
  writeFileAtomic(`${dir}/facts.jsonl`, toJsonl(world.facts));
  for (const [name, records] of Object.entries(world.splits))
    writeFileAtomic(`${dir}/${name}.jsonl`, toJsonl(records));
  writeFileAtomic(`${dir}/pretrain.jsonl`, toJsonl(world.pretrain));
  writeFileAtomic(`${dir}/pretrain_oracle.jsonl`, toJsonl(world.pretrainOracle));
  writeJsonAtomic(`${dir}/tokenizer.json`, world.tokenizer);
  writeJsonAtomic(`${dir}/tokenizer_config.json`, world.tokenizerConfig);
  writeJsonAtomic(`${dir}/world.json`, world.meta);
}

/** A world folder loaded and validated (see loadWorld). */
export interface World {
  dir: string;
  meta: WorldMeta;
  facts: Fact[];
  forgetTrain: FactRecord[];
  forgetHeldout: FactRecord[];
  retainTrain: FactRecord[];
  retainHeldout: FactRecord[];
  logicTrain: LogicRecord[];
  logicTest: LogicRecord[];
  ragTrain: RagRecord[];
  ragTest: RagRecord[];
  ragCounterfactual: RagRecord[];
  multihopTrain: MultihopRecord[];
  multihopTest: MultihopRecord[];
  pretrain: PretrainLine[];
  pretrainOracle: PretrainLine[];
  /** The candidate answers of a relation (throws for an unknown relation). */
  candidates(relation: string): string[];
  /** A split by its file name, e.g. "forget_heldout" (for commands taking `--split NAME`). */
  records(split: SplitName): WorldRecord[];
}

function readSplit<S extends SplitName, T extends { split: string }>(
  dir: string,
  split: S,
  validate: (value: unknown) => T,
): T[] {
  return readJsonl(`${dir}/${split}.jsonl`, (value) => {
    const record = validate(value);
    if (record.split !== split) throw new Error(`field "split" is "${record.split}" in ${split}.jsonl`);
    return record;
  });
}

function validateMeta(value: unknown, path: string): WorldMeta {
  try {
    const meta = asObject(value, 'world.json');
    if (meta.format !== 'rlcp-world' || meta.version !== 1) {
      throw new Error('not an rlcp world (expected "format": "rlcp-world", "version": 1)');
    }
    fieldInteger(meta, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    resolveWorldConfig(meta.config, 'field "config"');
    for (const [i, r] of fieldArray(meta, 'relations', 1).entries()) {
      nested(`relations[${i}]`, () => {
        const relation = asObject(r, 'relation');
        fieldString(relation, 'name');
        fieldStringArray(relation, 'candidates', 2);
        fieldArray(relation, 'templates', 1);
      });
    }
    const forget = nested('forget', () => asObject(meta.forget, 'forget'));
    nested('forget', () => fieldStringArray(forget, 'fact_ids', 1));
    nested('tokenizer', () =>
      fieldInteger(asObject(meta.tokenizer, 'tokenizer'), 'eos_token_id', 0, 1 << 30),
    );
    return meta as unknown as WorldMeta;
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
}

/** Loads a world folder written by `rlcp world`; every file is validated (errors name file:line and field). */
export function loadWorld(dir: string): World {
  const meta = validateMeta(readJson(`${dir}/world.json`), `${dir}/world.json`);
  const facts = loadFactSet(`${dir}/facts.jsonl`);
  derivableFacts(facts, `${dir}/facts.jsonl`);
  const candidates = new Map(meta.relations.map((r) => [r.name, r.candidates]));
  const splits: Record<SplitName, WorldRecord[]> = {
    forget_train: readSplit(dir, 'forget_train', validateFactRecord),
    forget_heldout: readSplit(dir, 'forget_heldout', validateFactRecord),
    retain_train: readSplit(dir, 'retain_train', validateFactRecord),
    retain_heldout: readSplit(dir, 'retain_heldout', validateFactRecord),
    logic_train: readSplit(dir, 'logic_train', validateLogicRecord),
    logic_test: readSplit(dir, 'logic_test', validateLogicRecord),
    rag_train: readSplit(dir, 'rag_train', validateRagRecord),
    rag_test: readSplit(dir, 'rag_test', validateRagRecord),
    rag_counterfactual: readSplit(dir, 'rag_counterfactual', validateRagRecord),
    multihop_train: readSplit(dir, 'multihop_train', validateMultihopRecord),
    multihop_test: readSplit(dir, 'multihop_test', validateMultihopRecord),
  };
  return {
    dir,
    meta,
    facts,
    forgetTrain: splits.forget_train as FactRecord[],
    forgetHeldout: splits.forget_heldout as FactRecord[],
    retainTrain: splits.retain_train as FactRecord[],
    retainHeldout: splits.retain_heldout as FactRecord[],
    logicTrain: splits.logic_train as LogicRecord[],
    logicTest: splits.logic_test as LogicRecord[],
    ragTrain: splits.rag_train as RagRecord[],
    ragTest: splits.rag_test as RagRecord[],
    ragCounterfactual: splits.rag_counterfactual as RagRecord[],
    multihopTrain: splits.multihop_train as MultihopRecord[],
    multihopTest: splits.multihop_test as MultihopRecord[],
    pretrain: readJsonl(`${dir}/pretrain.jsonl`, validatePretrainLine),
    pretrainOracle: readJsonl(`${dir}/pretrain_oracle.jsonl`, validatePretrainLine),
    candidates(relation: string): string[] {
      const list = candidates.get(relation);
      if (!list) throw new Error(`${dir}/world.json: no relation "${relation}"`);
      return list;
    },
    records(split: SplitName): WorldRecord[] {
      const list = splits[split];
      if (!list) throw new Error(`${dir}: no split "${split}" (one of ${Object.keys(splits).join(', ')})`);
      return list;
    },
  };
}
