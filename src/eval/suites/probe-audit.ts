// The fresh probe audit (issue 6 part 2): linear and MLP probes trained after unlearning on frozen
// last-prompt-token hidden states, one per layer, in two designs —
//   cross_entity:   trained on the retain subjects of the forget relation (label = their object), tested
//                   on the forget subjects: does a forget city still carry the shared code of its country?
//   cross_template: trained on the forget facts' training templates, tested on their held-out templates;
//                   it can succeed on subject identity alone, so it is also run on an untrained model.
// Selectivity is against a Hewitt & Liang control task whose random labels are shared per subject.
import { probeAudit, type ProbeKind, type ProbeOptions } from '../probes.ts';
import type { FactItem } from './items.ts';

export const PROBE_DESIGNS = ['cross_entity', 'cross_template'] as const;
export type ProbeDesign = (typeof PROBE_DESIGNS)[number];

export interface ProbeLayerResult {
  layer: number;
  design: ProbeDesign;
  kind: ProbeKind;
  accuracy: number;
  /** Accuracy of always predicting the most frequent training label. */
  majority: number;
  /** accuracy − control_accuracy. */
  selectivity: number;
  control_accuracy: number;
  n_train: number;
  n_test: number;
}

/** Rows of one side of a probe: hidden states per layer (states[layer][row]) and the items they encode. */
export interface ProbeRows {
  states: readonly (readonly Float32Array[])[];
  items: readonly FactItem[];
}

export interface ProbeDesignInput {
  design: ProbeDesign;
  train: ProbeRows;
  test: ProbeRows;
  /** The label space: index of each item's answer in this list. */
  classes: readonly string[];
  layers: readonly number[];
  kinds: readonly ProbeKind[];
  seed: number;
  options?: ProbeOptions;
  /** Called after each probe pair (real + control) is trained, for progress. */
  onProbe?: () => void;
}

function labelsOf(items: readonly FactItem[], classes: readonly string[], side: string): Int32Array {
  return Int32Array.from(items, (item) => {
    const label = classes.indexOf(item.answer);
    if (label < 0) throw new Error(`probe ${side} item ${item.id}: answer "${item.answer}" is not a class`);
    return label;
  });
}

/** Trains and tests one probe (plus its control) per layer and kind. */
export function auditProbeDesign(input: ProbeDesignInput): ProbeLayerResult[] {
  const { design, train, test, classes, seed } = input;
  if (train.items.length === 0 || test.items.length === 0) {
    throw new Error(`probe ${design}: ${train.items.length} training and ${test.items.length} test rows`);
  }
  const trainY = labelsOf(train.items, classes, 'training');
  const testY = labelsOf(test.items, classes, 'test');
  const results: ProbeLayerResult[] = [];
  for (const layer of input.layers) {
    const trainX = train.states[layer];
    const testX = test.states[layer];
    if (!trainX || !testX) throw new Error(`probe ${design}: no hidden states for layer ${layer}`);
    for (const kind of input.kinds) {
      const audit = probeAudit({
        trainX,
        trainY,
        testX,
        testY,
        numClasses: classes.length,
        kind,
        seed,
        trainGroups: train.items.map((item) => item.subject),
        testGroups: test.items.map((item) => item.subject),
        options: input.options,
      });
      results.push({
        layer,
        design,
        kind,
        accuracy: audit.accuracy,
        majority: audit.majority,
        selectivity: audit.selectivity,
        control_accuracy: audit.control_accuracy,
        n_train: audit.n_train,
        n_test: audit.n_test,
      });
      input.onProbe?.();
    }
  }
  return results;
}
