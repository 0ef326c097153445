// Statement templates: how a (subject, relation, object) triple is written as the declarative sentence the
// model reads in a RAG context. The templates belong to the data (the world, a real fact set), never to this
// module; the store keeps the map it was given and renders every statement from it, so an edited object
// shows up in the sentence. The SQL view in store.ts renders with the same two replacements, in the same
// order, so statements from SQL and from `renderStatement` are identical.

export type StatementTemplates = Readonly<Record<string, string>>;

export interface Triple {
  subject: string;
  relation: string;
  object: string;
}

const PLACEHOLDER = /\{([^{}]*)\}/g;

/** Checks a template: it must name `{subject}` and `{object}` and no other placeholder. */
export function validateTemplate(relation: string, template: unknown): string {
  const where = `template for relation "${relation}"`;
  if (typeof template !== 'string' || template.trim().length === 0) {
    throw new Error(`${where}: must be a non-empty string`);
  }
  const names = [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!);
  const unknown = names.filter((n) => n !== 'subject' && n !== 'object');
  if (unknown.length > 0) throw new Error(`${where}: unknown placeholder {${unknown[0]}} in "${template}"`);
  for (const required of ['subject', 'object']) {
    if (!names.includes(required)) throw new Error(`${where}: missing {${required}} in "${template}"`);
  }
  return template;
}

/** Validates a parsed JSON value as a relation → template map (e.g. the contents of a templates file). */
export function parseTemplates(value: unknown, origin: string): StatementTemplates {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${origin}: expected a JSON object mapping relation to template`);
  }
  const templates: Record<string, string> = {};
  for (const [relation, template] of Object.entries(value)) {
    try {
      templates[relation] = validateTemplate(relation, template);
    } catch (error) {
      throw new Error(`${origin}: ${(error as Error).message}`);
    }
  }
  return templates;
}

/** The sentence used when a relation has no template: "Velora city country Marvania." */
export function fallbackStatement(fact: Triple): string {
  return `${fact.subject} ${fact.relation.replaceAll('_', ' ')} ${fact.object}.`;
}

/** Renders one fact: every `{subject}` is replaced first, then every `{object}` (as the SQL view does). */
export function renderStatement(templates: StatementTemplates, fact: Triple): string {
  const template = Object.hasOwn(templates, fact.relation) ? templates[fact.relation] : undefined;
  if (template === undefined) return fallbackStatement(fact);
  // Function replacers: a name containing "$&" must be inserted literally, as SQL's replace() does.
  return template.replaceAll('{subject}', () => fact.subject).replaceAll('{object}', () => fact.object);
}

/**
 * Recovers templates from records that carry their own sentence (`statement`), as the world's JSONL does:
 * a statement containing the subject and the object exactly once each, in separate places, yields a
 * template; per relation the most frequent template wins (ties: the alphabetically first), so a data set
 * with a few paraphrased statements still gets its dominant phrasing. Records without a usable statement
 * are skipped.
 */
export function inferTemplates(records: readonly (Triple & { statement?: string })[]): StatementTemplates {
  const counts = new Map<string, Map<string, number>>();
  for (const record of records) {
    const template = templateFromStatement(record);
    if (template === undefined) continue;
    const perRelation = counts.get(record.relation) ?? new Map<string, number>();
    perRelation.set(template, (perRelation.get(template) ?? 0) + 1);
    counts.set(record.relation, perRelation);
  }
  const templates: Record<string, string> = {};
  for (const [relation, perRelation] of counts) {
    const ranked = [...perRelation].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    templates[relation] = ranked[0]![0];
  }
  return templates;
}

function templateFromStatement(record: Triple & { statement?: string }): string | undefined {
  const { statement, subject, object } = record;
  if (typeof statement !== 'string' || statement.includes('{') || statement.includes('}')) return undefined;
  const s = singleOccurrence(statement, subject);
  const o = singleOccurrence(statement, object);
  if (s === undefined || o === undefined) return undefined;
  const [first, second] = s < o ? [s, o] : [o, s];
  const firstLength = s < o ? subject.length : object.length;
  if (first + firstLength > second) return undefined;
  const marks: [number, number, string][] = [
    [s, subject.length, '{subject}'],
    [o, object.length, '{object}'],
  ];
  marks.sort((a, b) => b[0] - a[0]);
  let template = statement;
  for (const [at, length, placeholder] of marks) {
    template = template.slice(0, at) + placeholder + template.slice(at + length);
  }
  return template;
}

function singleOccurrence(text: string, needle: string): number | undefined {
  const at = text.indexOf(needle);
  if (at < 0 || text.indexOf(needle, at + 1) >= 0) return undefined;
  return at;
}
