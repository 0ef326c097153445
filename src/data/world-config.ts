// Sizes and knobs of the synthetic world, their defaults, and validation of a user's --config file.

export interface WorldConfig {
  countries: number;
  /** Cities per country; one is the capital. A forget country keeps the others as retain cities. */
  citiesPerCountry: number;
  people: number;
  /** How many occupations (from a fixed list of 16) people are drawn from. */
  occupations: number;
  /** Forget facts: city → country facts, one per distinct country. */
  forgetFacts: number;
  logic: {
    train: number;
    test: number;
    /** Largest operand of + and - and largest starting count (× is always by 2 or 3). */
    operandMax: number;
    /** Largest value any intermediate or final result may take. */
    resultMax: number;
    /** Share of problems with 3 steps; the rest have 2 (or 1, see oneStepFraction). */
    threeStepFraction: number;
    /** Optional (absent = 0): share of problems with a single step; with threeStepFraction at most 1. */
    oneStepFraction?: number;
    /** Share of chain-of-thought solutions in each split (the rest answer directly). */
    cotFraction: number;
    /**
     * Optional (absent = 0): problems with at most this many steps are solved directly and cotFraction
     * applies to the longer ones, so the style is a rule a small model learns rather than a coin flip.
     */
    directSteps?: number;
  };
  rag: {
    train: number;
    test: number;
    counterfactual: number;
    /** Distractor statements per context, besides the asked fact. */
    distractors: number;
    /** Share of rag_train contexts that state a different object (teaches reading over memory). */
    counterfactualTrainFraction: number;
  };
  multihop: {
    train: number;
    test: number;
    /** Share of retain cities kept out of multihop_train so multihop_test asks about unseen chains. */
    heldoutCityFraction: number;
  };
  /**
   * Optional: derivable facts (issue 20). Every country lies on a continent, and every city's continent is
   * a composite fact, trained directly and derivable as city → country → continent. The forget facts are
   * then composite ones; their chain links stay retain facts.
   */
  derivable?: DerivableConfig;
}

export interface DerivableConfig {
  continents: number;
  /** Share of retain cities whose composite question is also trained with the step-by-step chain. */
  chainFraction: number;
}

/** Defaults of the optional sections, filled in when a config names the section (or one of its keys). */
const OPTIONAL_DEFAULTS: Record<string, unknown> = {
  'logic.directSteps': 0,
  'logic.oneStepFraction': 0,
  derivable: { continents: 6, chainFraction: 1 } satisfies DerivableConfig,
};

export const DEFAULT_WORLD_CONFIG: WorldConfig = {
  countries: 30,
  citiesPerCountry: 4,
  people: 40,
  occupations: 10,
  forgetFacts: 15,
  logic: { train: 3000, test: 200, operandMax: 6, resultMax: 24, threeStepFraction: 0.6, cotFraction: 0.7 },
  rag: { train: 3000, test: 150, counterfactual: 150, distractors: 0, counterfactualTrainFraction: 1 },
  multihop: { train: 600, test: 200, heldoutCityFraction: 0.3 },
};

type Bounds = { min: number; max: number; integer: boolean };
const count = (min: number, max = 1_000_000): Bounds => ({ min, max, integer: true });
const fraction: Bounds = { min: 0, max: 1, integer: false };

const BOUNDS: Record<string, Bounds> = {
  countries: count(2, 500),
  citiesPerCountry: count(3, 50),
  people: count(1, 5000),
  occupations: count(2, 16),
  forgetFacts: count(1, 500),
  'logic.train': count(0),
  'logic.test': count(0),
  'logic.operandMax': count(2, 99),
  'logic.resultMax': count(4, 999),
  'logic.threeStepFraction': fraction,
  'logic.cotFraction': fraction,
  'logic.directSteps': count(0, 3),
  'logic.oneStepFraction': fraction,
  'rag.train': count(0),
  'rag.test': count(0),
  'rag.counterfactual': count(0),
  'rag.distractors': count(0, 10),
  'rag.counterfactualTrainFraction': fraction,
  'multihop.train': count(0),
  'multihop.test': count(0),
  'multihop.heldoutCityFraction': { min: 0.05, max: 0.95, integer: false },
  'derivable.continents': count(2, 100),
  'derivable.chainFraction': fraction,
};

/**
 * Merges a partial config (e.g. parsed from --config FILE.json) over the defaults. Unknown keys, wrong
 * types and out-of-range values are errors that name `source` and the key.
 */
export function resolveWorldConfig(partial: unknown, source = 'config'): WorldConfig {
  const resolved = structuredClone(DEFAULT_WORLD_CONFIG) as unknown as Record<string, unknown>;
  merge(resolved, partial, '', source);
  const config = resolved as unknown as WorldConfig;
  if (config.forgetFacts > config.countries) {
    throw new Error(
      `${source}: forgetFacts (${config.forgetFacts}) must not exceed countries (${config.countries})`,
    );
  }
  if (config.logic.resultMax < config.logic.operandMax) {
    throw new Error(`${source}: logic.resultMax must be at least logic.operandMax`);
  }
  const { oneStepFraction = 0, threeStepFraction } = config.logic;
  if (oneStepFraction + threeStepFraction > 1) {
    throw new Error(
      `${source}: logic.oneStepFraction (${oneStepFraction}) + logic.threeStepFraction (${threeStepFraction}) must not exceed 1`,
    );
  }
  if (config.derivable && config.derivable.continents > config.countries) {
    throw new Error(
      `${source}: derivable.continents (${config.derivable.continents}) must not exceed countries (${config.countries})`,
    );
  }
  return config;
}

function merge(target: Record<string, unknown>, partial: unknown, prefix: string, source: string): void {
  if (typeof partial !== 'object' || partial === null || Array.isArray(partial)) {
    throw new Error(`${source}: ${prefix ? `"${prefix.slice(0, -1)}"` : 'the config'} must be a JSON object`);
  }
  for (const [key, value] of Object.entries(partial)) {
    const path = prefix + key;
    if (!(key in target) && path in OPTIONAL_DEFAULTS) target[key] = structuredClone(OPTIONAL_DEFAULTS[path]);
    if (!(key in target)) throw new Error(`${source}: unknown config key "${path}"`);
    const current = target[key];
    if (typeof current === 'object' && current !== null) {
      merge(current as Record<string, unknown>, value, `${path}.`, source);
      continue;
    }
    const bounds = BOUNDS[path]!;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new Error(`${source}: "${path}" must be a number`);
    }
    if ((bounds.integer && !Number.isInteger(value)) || value < bounds.min || value > bounds.max) {
      const kind = bounds.integer ? 'an integer' : 'a number';
      throw new Error(`${source}: "${path}" must be ${kind} in [${bounds.min}, ${bounds.max}], got ${value}`);
    }
    target[key] = value;
  }
}
