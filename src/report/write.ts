// Rebuilds a run folder's report.html from its saved results.json and config.json.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.ts';
import { readJson, readJsonl } from '../io/jsonl.ts';
import { renderReport } from './render.ts';
import { validateResults, type RunResults } from './schema.ts';

export interface LoadedRun {
  results: RunResults;
  config: Record<string, unknown>;
}

/** Reads and checks a run folder: results.json against the schema, config.json, and every item file. */
export function loadRun(runDir: string): LoadedRun {
  if (!existsSync(runDir) || !statSync(runDir).isDirectory()) {
    throw new Error(`${runDir}: run folder not found`);
  }
  const resultsPath = join(runDir, 'results.json');
  const results = validateResults(readJson(resultsPath), resultsPath);
  const configPath = join(runDir, 'config.json');
  const config = readJson(configPath);
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new Error(`${configPath}: must hold a JSON object (the run's resolved config)`);
  }
  // The report promises that every aggregate can be audited: the listed records must all be there.
  results.item_files.forEach((item, i) => {
    const path = join(runDir, item.path);
    const count = readJsonl(path).length;
    if (count !== item.records) {
      throw new Error(
        `${path}: has ${count} records but ${resultsPath} item_files[${i}].records says ${item.records}`,
      );
    }
  });
  return { results, config: config as Record<string, unknown> };
}

/** Validates the run folder and (re)writes RUN_DIR/report.html atomically; returns its path. */
export function writeReport(runDir: string): string {
  const { results, config } = loadRun(runDir);
  const out = join(runDir, 'report.html');
  writeFileAtomic(out, renderReport(results, config));
  return out;
}
