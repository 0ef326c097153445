// The symbolic RAM: an editable fact store on SQLite (better-sqlite3, WAL journaling) with an FTS5 index.
// One object per (subject, relation): adding a fact whose key exists replaces its object — that is how a
// fact is edited. Triggers keep the FTS5 index in step with `facts` and `templates` inside the writing
// transaction, so no writer (this class, the sqlite3 shell) can leave the index stale. See README.md.
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import Database from 'better-sqlite3';
import { readJsonl } from '../io/jsonl.ts';
import {
  inferTemplates,
  renderStatement,
  validateTemplate,
  type StatementTemplates,
  type Triple,
} from './templates.ts';

export interface Fact extends Triple {
  /** Where the fact came from (a file, a person, an edit); null when unknown. */
  source?: string | null;
}

export interface StoredFact {
  id: number;
  subject: string;
  relation: string;
  object: string;
  source: string | null;
  /** ISO 8601 time of the last add or edit. */
  updatedAt: string;
  /** The fact rendered with the store's template for its relation. */
  statement: string;
}

export type AddResult = 'added' | 'updated' | 'unchanged';

export interface ImportSummary {
  /** Records in the file (exact duplicates included). */
  records: number;
  added: number;
  updated: number;
  unchanged: number;
  /** Relations whose template was inferred from the file's `statement` fields. */
  inferredTemplates: string[];
}

export interface ImportOptions {
  /** Called inside the import transaction after every `progressEvery` rows and after the last one. */
  onProgress?: (written: number, total: number) => void;
  progressEvery?: number;
}

export interface OpenOptions {
  /** Templates to store (added or replaced per relation; relations not named keep theirs). */
  templates?: StatementTemplates;
  readonly?: boolean;
}

const SCHEMA_VERSION = 1;

// The statement expression must match renderStatement in templates.ts: {subject} first, then {object}.
const SCHEMA = `
CREATE TABLE facts (
  id INTEGER PRIMARY KEY,
  subject TEXT NOT NULL,
  relation TEXT NOT NULL,
  object TEXT NOT NULL,
  source TEXT,
  updated_at TEXT NOT NULL,
  UNIQUE (subject, relation)
);
CREATE INDEX facts_subject_nocase ON facts (subject COLLATE NOCASE);
CREATE INDEX facts_object_nocase ON facts (object COLLATE NOCASE);
CREATE INDEX facts_relation ON facts (relation);
CREATE TABLE templates (relation TEXT PRIMARY KEY, template TEXT NOT NULL);
CREATE VIEW fact_statements AS
  SELECT f.id, f.subject, f.relation, f.object, f.source, f.updated_at,
    coalesce(
      replace(replace(t.template, '{subject}', f.subject), '{object}', f.object),
      f.subject || ' ' || replace(f.relation, '_', ' ') || ' ' || f.object || '.'
    ) AS statement
  FROM facts f LEFT JOIN templates t ON t.relation = f.relation;
CREATE VIRTUAL TABLE facts_fts USING fts5 (subject, relation, object, statement, tokenize = 'porter unicode61');
CREATE TRIGGER facts_after_insert AFTER INSERT ON facts BEGIN
  INSERT INTO facts_fts (rowid, subject, relation, object, statement)
    SELECT id, subject, relation, object, statement FROM fact_statements WHERE id = new.id;
END;
CREATE TRIGGER facts_after_delete AFTER DELETE ON facts BEGIN
  DELETE FROM facts_fts WHERE rowid = old.id;
END;
CREATE TRIGGER facts_after_update AFTER UPDATE ON facts BEGIN
  DELETE FROM facts_fts WHERE rowid = old.id;
  INSERT INTO facts_fts (rowid, subject, relation, object, statement)
    SELECT id, subject, relation, object, statement FROM fact_statements WHERE id = new.id;
END;
CREATE TRIGGER templates_after_insert AFTER INSERT ON templates BEGIN
  UPDATE facts_fts SET statement = (SELECT statement FROM fact_statements WHERE id = facts_fts.rowid)
    WHERE rowid IN (SELECT id FROM facts WHERE relation = new.relation);
END;
CREATE TRIGGER templates_after_update AFTER UPDATE ON templates BEGIN
  UPDATE facts_fts SET statement = (SELECT statement FROM fact_statements WHERE id = facts_fts.rowid)
    WHERE rowid IN (SELECT id FROM facts WHERE relation IN (old.relation, new.relation));
END;
CREATE TRIGGER templates_after_delete AFTER DELETE ON templates BEGIN
  UPDATE facts_fts SET statement = (SELECT statement FROM fact_statements WHERE id = facts_fts.rowid)
    WHERE rowid IN (SELECT id FROM facts WHERE relation = old.relation);
END;
`;

interface FactRow {
  id: number;
  subject: string;
  relation: string;
  object: string;
  source: string | null;
  updated_at: string;
  statement: string;
}

const FACT_COLUMNS = 'id, subject, relation, object, source, updated_at, statement';

function userVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function assertNoTables(db: Database.Database): void {
  const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as {
    n: number;
  };
  if (tables.n > 0) throw new Error('a SQLite database, but not an rlcp fact store');
}

function toFact(row: FactRow): StoredFact {
  return {
    id: row.id,
    subject: row.subject,
    relation: row.relation,
    object: row.object,
    source: row.source,
    updatedAt: row.updated_at,
    statement: row.statement,
  };
}

/**
 * Checks one fact's fields. Tabs and line breaks are refused because `rlcp ram list` prints one
 * tab-separated fact per line.
 */
export function validateFact(value: unknown): Fact & { statement?: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('expected a JSON object with "subject", "relation" and "object"');
  }
  const record = value as Record<string, unknown>;
  const text = (field: string): string => {
    const v = record[field];
    if (typeof v !== 'string' || v.trim().length === 0) {
      throw new Error(`field "${field}": must be a non-empty string, got ${JSON.stringify(v) ?? 'nothing'}`);
    }
    if (/[\t\r\n]/.test(v)) throw new Error(`field "${field}": must not contain tabs or line breaks`);
    if (v !== v.trim()) throw new Error(`field "${field}": must not start or end with whitespace`);
    return v;
  };
  const fact: Fact & { statement?: string } = {
    subject: text('subject'),
    relation: text('relation'),
    object: text('object'),
  };
  if (record.source !== undefined && record.source !== null) fact.source = text('source');
  if (record.statement !== undefined) {
    if (typeof record.statement !== 'string') throw new Error('field "statement": must be a string');
    fact.statement = record.statement;
  }
  return fact;
}

/** A JSONL fact file, parsed and checked, ready for `FactStore.importFacts`. */
export interface FactFile {
  path: string;
  /** Non-empty lines in the file (exact repeats included). */
  records: number;
  /** One fact per (subject, relation), in file order; a missing source is the file's name. */
  facts: Fact[];
  /** Templates recovered from the lines' `statement` fields (see inferTemplates). */
  inferredTemplates: StatementTemplates;
}

/**
 * Reads `{ subject, relation, object, source?, statement? }` lines (other fields, e.g. `split`, are
 * ignored). Errors name file:line and the field; a (subject, relation) given twice with different
 * objects is an error, an exact repeat is not.
 */
export function readFactsJsonl(path: string): FactFile {
  const lines = readJsonl(path, (value, line) => ({ record: validateFact(value), line }));
  const firstLine = new Map<string, { object: string; line: number }>();
  const facts: Fact[] = [];
  for (const { record, line } of lines) {
    const key = JSON.stringify([record.subject, record.relation]);
    const seen = firstLine.get(key);
    if (seen === undefined) {
      firstLine.set(key, { object: record.object, line });
      facts.push({
        subject: record.subject,
        relation: record.relation,
        object: record.object,
        source: record.source ?? basename(path),
      });
    } else if (seen.object !== record.object) {
      throw new Error(
        `${path}:${line}: field "object": "${record.object}" contradicts line ${seen.line}, which gives ` +
          `"${seen.object}" for subject "${record.subject}", relation "${record.relation}"`,
      );
    }
  }
  return {
    path,
    records: lines.length,
    facts,
    inferredTemplates: inferTemplates(lines.map((l) => l.record)),
  };
}

export class FactStore {
  readonly path: string;
  private readonly db: Database.Database;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.db = db;
  }

  /** Opens (creating if needed, unless readonly) a fact store file. */
  static open(path: string, options: OpenOptions = {}): FactStore {
    if (options.readonly && !existsSync(path)) throw new Error(`${path}: fact store not found`);
    let db: Database.Database;
    try {
      db = new Database(path, { readonly: options.readonly ?? false });
    } catch (error) {
      throw new Error(`${path}: cannot open fact store (${(error as Error).message})`);
    }
    try {
      db.pragma('busy_timeout = 10000');
      if (userVersion(db) === 0) {
        // Refuse a foreign database before changing anything in it (journal mode included).
        assertNoTables(db);
        if (options.readonly) throw new Error('empty database opened read-only');
        db.pragma('journal_mode = WAL');
        // Checked again under the write lock: another process may have created the schema meanwhile.
        db.transaction(() => {
          if (userVersion(db) !== 0) return;
          assertNoTables(db);
          db.exec(SCHEMA);
          db.pragma(`user_version = ${SCHEMA_VERSION}`);
        }).immediate();
      }
      const version = userVersion(db);
      if (version !== SCHEMA_VERSION) {
        throw new Error(`fact store schema version ${version}, this rlcp reads version ${SCHEMA_VERSION}`);
      }
    } catch (error) {
      db.close();
      throw new Error(`${path}: ${(error as Error).message}`);
    }
    const store = new FactStore(path, db);
    if (options.templates) store.setTemplates(options.templates);
    return store;
  }

  /** Prepared statements, reused: an import runs the same few statements for every row. */
  private readonly prepared = new Map<string, Database.Statement>();

  private sql(text: string): Database.Statement {
    let statement = this.prepared.get(text);
    if (statement === undefined) {
      statement = this.db.prepare(text);
      this.prepared.set(text, statement);
    }
    return statement;
  }

  close(): void {
    this.db.close();
  }

  /** Adds a fact, or edits the object (and source) of the fact with the same subject and relation. */
  add(fact: Fact): AddResult {
    const valid = validateFact(fact);
    return this.db.transaction(() => this.write(valid, new Date().toISOString())).immediate();
  }

  /** Removes the fact with this key; false when there was none. */
  remove(subject: string, relation: string): boolean {
    return (
      this.sql('DELETE FROM facts WHERE subject = ? AND relation = ?').run(subject, relation).changes > 0
    );
  }

  get(subject: string, relation: string): StoredFact | undefined {
    const row = this.sql(
      `SELECT ${FACT_COLUMNS} FROM fact_statements WHERE subject = ? AND relation = ?`,
    ).get(subject, relation) as FactRow | undefined;
    return row && toFact(row);
  }

  /** Every fact (or every fact of one relation) in insertion order; one statement, so one snapshot. */
  list(options: { relation?: string } = {}): StoredFact[] {
    const rows = (
      options.relation === undefined
        ? this.sql(`SELECT ${FACT_COLUMNS} FROM fact_statements ORDER BY id`).all()
        : this.sql(`SELECT ${FACT_COLUMNS} FROM fact_statements WHERE relation = ? ORDER BY id`).all(
            options.relation,
          )
    ) as FactRow[];
    return rows.map(toFact);
  }

  count(): number {
    return (this.sql('SELECT count(*) AS n FROM facts').get() as { n: number }).n;
  }

  /** The stored relation → template map. */
  templates(): Record<string, string> {
    const rows = this.sql('SELECT relation, template FROM templates ORDER BY relation').all() as {
      relation: string;
      template: string;
    }[];
    return Object.fromEntries(rows.map((r) => [r.relation, r.template]));
  }

  /** Stores templates (per relation, replacing any stored one); the indexed statements follow. */
  setTemplates(templates: StatementTemplates): void {
    const entries = Object.entries(templates).map(([r, t]) => [r, validateTemplate(r, t)] as const);
    const current = this.templates();
    const changed = entries.filter(([r, t]) => current[r] !== t);
    if (changed.length === 0) return;
    const upsert = this.sql(
      'INSERT INTO templates (relation, template) VALUES (?, ?) ON CONFLICT (relation) DO UPDATE SET template = excluded.template',
    );
    this.db
      .transaction(() => {
        for (const [relation, template] of changed) upsert.run(relation, template);
      })
      .immediate();
  }

  /** Renders a fact (stored or not) with the store's templates, exactly as the store's statements are. */
  render(fact: Triple): string {
    return renderStatement(this.templates(), fact);
  }

  /**
   * Imports a JSONL file of facts (see `readFactsJsonl`): every line is parsed and checked before
   * anything is written, so a bad line imports nothing; then one transaction writes everything.
   */
  importJsonl(path: string, options: ImportOptions = {}): ImportSummary {
    return this.importFacts(readFactsJsonl(path), options);
  }

  /**
   * Writes checked facts in one transaction: a fact with an existing key is an edit. Relations without
   * a stored template get the one inferred from the file's statements.
   */
  importFacts(file: FactFile, options: ImportOptions = {}): ImportSummary {
    const stored = this.templates();
    const inferred = Object.entries(file.inferredTemplates).filter(([r]) => !Object.hasOwn(stored, r));
    const every = Math.max(1, Math.floor(options.progressEvery ?? 1000));
    const summary: ImportSummary = {
      records: file.records,
      added: 0,
      updated: 0,
      unchanged: 0,
      inferredTemplates: inferred.map(([r]) => r),
    };
    const now = new Date().toISOString();
    const insertTemplate = this.sql('INSERT INTO templates (relation, template) VALUES (?, ?)');
    const total = file.facts.length;
    this.db
      .transaction(() => {
        for (const [relation, template] of inferred) insertTemplate.run(relation, template);
        file.facts.forEach((fact, i) => {
          summary[this.write(fact, now)]++;
          if ((i + 1) % every === 0 || i + 1 === total) options.onProgress?.(i + 1, total);
        });
      })
      .immediate();
    return summary;
  }

  /** Facts whose subject equals one of `names`, ignoring ASCII case (SQLite NOCASE). */
  withSubjectIn(names: readonly string[]): StoredFact[] {
    return this.byNames('subject', names);
  }

  /** Facts whose object equals one of `names`, ignoring ASCII case (SQLite NOCASE). */
  withObjectIn(names: readonly string[]): StoredFact[] {
    return this.byNames('object', names);
  }

  /**
   * FTS5 search for any of `terms` (each quoted, so FTS syntax in a term is just text), best BM25 first.
   * `score` is FTS5's bm25(): lower is better. `onlyIds` restricts the search to those facts.
   */
  textSearch(
    terms: readonly string[],
    options: { limit: number; onlyIds?: readonly number[] },
  ): { fact: StoredFact; score: number }[] {
    if (terms.length === 0) return [];
    const query = terms.map((t) => `"${t.replaceAll('"', '""')}"`).join(' OR ');
    const restrict = options.onlyIds ? 'AND facts_fts.rowid IN (SELECT value FROM json_each(?))' : '';
    const params: unknown[] = [query];
    if (options.onlyIds) params.push(JSON.stringify(options.onlyIds));
    params.push(Math.max(0, Math.floor(options.limit)));
    const rows = this.sql(
      `SELECT ${FACT_COLUMNS.split(', ')
        .map((c) => `s.${c}`)
        .join(', ')}, bm25(facts_fts) AS score
         FROM facts_fts JOIN fact_statements s ON s.id = facts_fts.rowid
         WHERE facts_fts MATCH ? ${restrict} ORDER BY score LIMIT ?`,
    ).all(...params) as (FactRow & { score: number })[];
    return rows.map((row) => ({ fact: toFact(row), score: row.score }));
  }

  /** SQLite's and FTS5's own consistency checks; throws when either finds a problem. */
  checkIntegrity(): void {
    const result = this.db.pragma('integrity_check', { simple: true });
    if (result !== 'ok') throw new Error(`${this.path}: integrity_check: ${String(result)}`);
    try {
      this.db.exec("INSERT INTO facts_fts (facts_fts) VALUES ('integrity-check')");
    } catch (error) {
      throw new Error(`${this.path}: FTS index out of step with facts (${(error as Error).message})`);
    }
  }

  private byNames(column: 'subject' | 'object', names: readonly string[]): StoredFact[] {
    if (names.length === 0) return [];
    const rows = this.sql(
      `SELECT ${FACT_COLUMNS} FROM fact_statements
         WHERE id IN (SELECT id FROM facts WHERE ${column} COLLATE NOCASE IN (SELECT value FROM json_each(?)))
         ORDER BY id`,
    ).all(JSON.stringify(names)) as FactRow[];
    return rows.map(toFact);
  }

  private write(fact: Fact, now: string): AddResult {
    const source = fact.source ?? null;
    const existing = this.sql('SELECT object, source FROM facts WHERE subject = ? AND relation = ?').get(
      fact.subject,
      fact.relation,
    ) as { object: string; source: string | null } | undefined;
    if (existing === undefined) {
      this.sql(
        'INSERT INTO facts (subject, relation, object, source, updated_at) VALUES (?, ?, ?, ?, ?)',
      ).run(fact.subject, fact.relation, fact.object, source, now);
      return 'added';
    }
    if (existing.object === fact.object && existing.source === source) return 'unchanged';
    this.sql(
      'UPDATE facts SET object = ?, source = ?, updated_at = ? WHERE subject = ? AND relation = ?',
    ).run(fact.object, source, now, fact.subject, fact.relation);
    return 'updated';
  }
}
