// Relations, their declarative statement and their question templates, shared by the synthetic world
// and the real fact sets in data/facts/. `{s}` is the subject, `{o}` the object.
//
// Held-out templates are evaluation-only paraphrases. They are written to reuse the words of the
// training templates in new arrangements (a tiny model cannot learn a word it never saw), and each keeps
// the relation's cue word ("country", "born", "job", "currency", "capital", ...).

export type TemplateSplit = 'train' | 'heldout';

export interface QuestionTemplate {
  /** Stable id, e.g. "city_country.t1" (train) or "city_country.h1" (held out). */
  id: string;
  text: string;
  split: TemplateSplit;
}

export interface RelationSpec {
  name: string;
  subjectType: string;
  objectType: string;
  statement: string;
  templates: QuestionTemplate[];
}

function relation(
  name: string,
  subjectType: string,
  objectType: string,
  statement: string,
  train: string[],
  heldout: string[],
): RelationSpec {
  return {
    name,
    subjectType,
    objectType,
    statement,
    templates: [
      ...train.map((text, i) => ({ id: `${name}.t${i + 1}`, text, split: 'train' as const })),
      ...heldout.map((text, i) => ({ id: `${name}.h${i + 1}`, text, split: 'heldout' as const })),
    ],
  };
}

export const CITY_COUNTRY = relation(
  'city_country',
  'city',
  'country',
  '{s} is a city in {o}.',
  [
    'What country is {s} in?',
    'In which country is {s}?',
    '{s} is a city in which country?',
    'Which country is the city of {s} in?',
    'Name the country where {s} is.',
  ],
  [
    'Which country is {s} in?',
    'In which country is the city of {s}?',
    'The city of {s} is in which country?',
  ],
);

export const PERSON_BIRTH_CITY = relation(
  'person_birth_city',
  'person',
  'city',
  '{s} was born in {o}.',
  [
    'Where was {s} born?',
    'In which city was {s} born?',
    'What city was {s} born in?',
    '{s} was born in which city?',
    'Name the city where {s} was born.',
  ],
  ['Which city was {s} born in?', 'In what city was {s} born?', 'What is the city where {s} was born?'],
);

export const PERSON_OCCUPATION = relation(
  'person_occupation',
  'person',
  'occupation',
  '{s} works as a {o}.',
  [
    'What is the job of {s}?',
    'What does {s} work as?',
    'Which job does {s} have?',
    '{s} works as what?',
    'Name the job of {s}.',
  ],
  ['What job does {s} have?', '{s} has which job?', 'The job of {s} is what?'],
);

export const COUNTRY_CURRENCY = relation(
  'country_currency',
  'country',
  'currency',
  'The currency of {s} is the {o}.',
  [
    'What is the currency of {s}?',
    'What currency is used in {s}?',
    'Which currency does {s} use?',
    '{s} uses which currency?',
    'Name the currency of {s}.',
  ],
  ['What currency does {s} use?', 'Which currency is used in {s}?', 'The currency of {s} is what?'],
);

export const COUNTRY_CAPITAL = relation(
  'country_capital',
  'country',
  'city',
  'The capital of {s} is {o}.',
  [
    'What is the capital of {s}?',
    'Which city is the capital of {s}?',
    'What city is the capital of {s}?',
    '{s} has which city as its capital?',
    'Name the capital of {s}.',
  ],
  [
    'The capital of {s} is which city?',
    'Name the city which is the capital of {s}.',
    'What is the capital city of {s}?',
  ],
);

export const COUNTRY_LANGUAGE = relation(
  'country_language',
  'country',
  'language',
  'The main language of {s} is {o}.',
  [
    'What is the main language of {s}?',
    'What language is spoken in {s}?',
    'Which language do people in {s} speak?',
    'People in {s} speak which language?',
    'Name the main language of {s}.',
  ],
  [
    'Which language is spoken in {s}?',
    'What language do people in {s} speak?',
    'The main language of {s} is what?',
  ],
);

export const COUNTRY_CONTINENT = relation(
  'country_continent',
  'country',
  'continent',
  '{s} is a country in {o}.',
  [
    'On which continent is {s}?',
    'What continent is {s} in?',
    '{s} is on which continent?',
    'Which continent is {s} part of?',
    'Name the continent where {s} is.',
  ],
  ['Which continent is {s} in?', 'In which continent is {s}?', 'What continent is {s} part of?'],
);

/**
 * A composite relation (issue 20): its object is derivable as city → country → continent, and a world with
 * derivable facts also trains it directly. Held-out templates reuse country_continent's wording.
 */
export const CITY_CONTINENT = relation(
  'city_continent',
  'city',
  'continent',
  '{s} is a city on the continent of {o}.',
  [
    'Which continent is the city of {s} on?',
    'On which continent is the city of {s}?',
    'The city of {s} is on which continent?',
    'What continent is the city of {s} on?',
    'Name the continent where the city of {s} is.',
  ],
  [
    'Which continent is the city of {s} part of?',
    'In which continent is the city of {s}?',
    'What continent is the city of {s} in?',
  ],
);

/** The relations of the synthetic world, in file order. */
export const WORLD_RELATIONS: readonly RelationSpec[] = [
  CITY_COUNTRY,
  PERSON_BIRTH_CITY,
  PERSON_OCCUPATION,
  COUNTRY_CURRENCY,
  COUNTRY_CAPITAL,
];

/** The extra relations of a world with derivable facts: the chain's second link, then the composite. */
export const DERIVABLE_RELATIONS: readonly RelationSpec[] = [COUNTRY_CONTINENT, CITY_CONTINENT];

export function fillTemplate(template: string, subject: string, object = ''): string {
  return template.replaceAll('{s}', subject).replaceAll('{o}', object);
}
