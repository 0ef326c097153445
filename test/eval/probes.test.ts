import { test } from 'node:test';
import assert from 'node:assert/strict';
import { controlLabels, evaluateProbe, probeAudit, trainProbe } from '../../src/eval/probes.ts';

/** Seeded normal samples for the synthetic data (independent of the probe's own RNG). */
function normals(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** Gaussian clusters: class c centred at `centres[c]`, unit noise. */
function clusters(centres: Float32Array[], perClass: number, noise: number, seed: number) {
  const g = normals(seed);
  const X: Float32Array[] = [];
  const y: number[] = [];
  for (let i = 0; i < perClass * centres.length; i++) {
    const c = i % centres.length;
    X.push(Float32Array.from(centres[c]!, (v) => v + noise * g()));
    y.push(c);
  }
  return { X, y };
}

function randomCentres(count: number, dim: number, scale: number, seed: number): Float32Array[] {
  const g = normals(seed);
  return Array.from({ length: count }, () => Float32Array.from({ length: dim }, () => scale * g()));
}

test('both probes separate well-separated clusters', () => {
  const centres = randomCentres(4, 48, 1, 1);
  const train = clusters(centres, 40, 1, 2);
  const testSet = clusters(centres, 25, 1, 3);
  for (const kind of ['linear', 'mlp'] as const) {
    const probe = trainProbe(kind, train.X, train.y, 4, { seed: 7 });
    const result = evaluateProbe(probe, testSet.X, testSet.y);
    assert.ok(result.accuracy > 0.95, `${kind}: ${result.accuracy}`);
    assert.equal(result.n, 100);
    assert.equal(result.predictions.length, 100);
  }
});

test('the MLP finds a non-linear (XOR) code the linear probe cannot', () => {
  const g = normals(5);
  const make = (n: number) => {
    const X: Float32Array[] = [];
    const y: number[] = [];
    for (let i = 0; i < n; i++) {
      const a = i % 2 === 0 ? 1 : -1;
      const b = (i >> 1) % 2 === 0 ? 1 : -1;
      const row = Float32Array.from({ length: 8 }, () => 0.3 * g());
      row[0]! += 2 * a;
      row[1]! += 2 * b;
      X.push(row);
      y.push(a * b > 0 ? 1 : 0);
    }
    return { X, y };
  };
  const train = make(200);
  const testSet = make(200);
  const linear = evaluateProbe(trainProbe('linear', train.X, train.y, 2), testSet.X, testSet.y).accuracy;
  const mlp = evaluateProbe(
    trainProbe('mlp', train.X, train.y, 2, { seed: 3 }),
    testSet.X,
    testSet.y,
  ).accuracy;
  assert.ok(linear < 0.7, `linear ${linear}`);
  assert.ok(mlp > 0.95, `mlp ${mlp}`);
});

test('random labels stay near chance on held-out rows', () => {
  const g = normals(11);
  const rows = (n: number) => Array.from({ length: n }, () => Float32Array.from({ length: 32 }, () => g()));
  const trainX = rows(200);
  const testX = rows(400);
  const label = () => Math.floor(((g() + 10) * 1000) % 4);
  const trainY = trainX.map(label);
  const testY = testX.map(label);
  for (const kind of ['linear', 'mlp'] as const) {
    const acc = evaluateProbe(trainProbe(kind, trainX, trainY, 4), testX, testY).accuracy;
    // Chance 0.25; 0.35 is ~4.6 standard errors above it for 400 rows.
    assert.ok(acc < 0.35, `${kind}: ${acc}`);
  }
});

test('training is deterministic for a seed', () => {
  const centres = randomCentres(3, 16, 0.5, 21);
  const train = clusters(centres, 30, 1, 22);
  const testSet = clusters(centres, 30, 1, 23);
  for (const kind of ['linear', 'mlp'] as const) {
    const a = evaluateProbe(trainProbe(kind, train.X, train.y, 3, { seed: 4 }), testSet.X, testSet.y);
    const b = evaluateProbe(trainProbe(kind, train.X, train.y, 3, { seed: 4 }), testSet.X, testSet.y);
    assert.deepEqual(a.predictions, b.predictions);
  }
});

test('probeAudit: majority baseline uses the training majority on the test labels', () => {
  const centres = randomCentres(3, 8, 3, 31);
  const train = clusters(centres, 10, 0.5, 32);
  // Training labels: class 2 is the majority (10 extra rows); the test set has 5 of class 2 out of 20.
  const extra = clusters([centres[2]!], 10, 0.5, 33);
  const trainX = [...train.X, ...extra.X];
  const trainY = [...train.y, ...extra.y.map(() => 2)];
  const testX = clusters(centres, 5, 0.5, 34)
    .X.slice(0, 15)
    .concat(clusters([centres[0]!], 5, 0.5, 35).X);
  const testY = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 0, 0, 0, 0];
  const audit = probeAudit({ trainX, trainY, testX, testY, numClasses: 3, kind: 'linear' });
  assert.equal(audit.majority_class, 2);
  assert.equal(audit.majority, 5 / 20);
  assert.equal(audit.chance, 1 / 3);
  assert.equal(audit.accuracy, 1);
  assert.equal(audit.n_train, 40);
  assert.equal(audit.n_test, 20);
});

test('probeAudit: selectivity is high for a real code and near zero when labels only track entity identity', () => {
  // Real code: the label (a "country") is a direction shared across entities, tested on new entities.
  const countries = randomCentres(3, 24, 1.5, 41);
  const entityOffsets = randomCentres(30, 24, 0.5, 42);
  const g = normals(43);
  const rowsFor = (entities: number[], templates: number) => {
    const X: Float32Array[] = [];
    const y: number[] = [];
    const groups: number[] = [];
    for (const e of entities) {
      for (let t = 0; t < templates; t++) {
        X.push(
          Float32Array.from(
            { length: 24 },
            (_, d) => countries[e % 3]![d]! + entityOffsets[e]![d]! + 0.3 * g(),
          ),
        );
        y.push(e % 3);
        groups.push(e);
      }
    }
    return { X, y, groups };
  };
  const trainEntities = rowsFor(
    Array.from({ length: 24 }, (_, i) => i),
    3,
  );
  const testEntities = rowsFor([24, 25, 26, 27, 28, 29], 3);
  const crossEntity = probeAudit({
    trainX: trainEntities.X,
    trainY: trainEntities.y,
    testX: testEntities.X,
    testY: testEntities.y,
    numClasses: 3,
    kind: 'linear',
    seed: 1,
    trainGroups: trainEntities.groups,
    testGroups: testEntities.groups,
  });
  assert.ok(crossEntity.accuracy > 0.9, `accuracy ${crossEntity.accuracy}`);
  assert.ok(crossEntity.selectivity > 0.4, `selectivity ${crossEntity.selectivity}`);

  // Identity only: features carry each entity's own random code, no shared country direction; the same
  // entities appear in training and test templates, so their control labels are just as learnable.
  const identity = randomCentres(12, 24, 2, 44);
  const identityRows = (templates: number[]) => {
    const X: Float32Array[] = [];
    const y: number[] = [];
    const groups: number[] = [];
    for (let e = 0; e < 12; e++) {
      for (const _t of templates) {
        X.push(Float32Array.from(identity[e]!, (v) => v + 0.3 * g()));
        y.push(e % 4);
        groups.push(e);
      }
    }
    return { X, y, groups };
  };
  const seen = identityRows([0, 1, 2]);
  const heldOut = identityRows([3, 4]);
  const crossTemplate = probeAudit({
    trainX: seen.X,
    trainY: seen.y,
    testX: heldOut.X,
    testY: heldOut.y,
    numClasses: 4,
    kind: 'linear',
    seed: 2,
    trainGroups: seen.groups,
    testGroups: heldOut.groups,
  });
  assert.ok(crossTemplate.accuracy > 0.9, `accuracy ${crossTemplate.accuracy}`);
  assert.ok(crossTemplate.control_accuracy > 0.9, `control ${crossTemplate.control_accuracy}`);
  assert.ok(Math.abs(crossTemplate.selectivity) < 0.1, `selectivity ${crossTemplate.selectivity}`);
});

test('control labels are constant within a group and shared between train and test groups', () => {
  const trainY = [0, 1, 2, 3, 0, 1, 2, 3];
  const { train, test: testLabels } = controlLabels(
    trainY,
    ['a', 'a', 'b', 'b', 'c', 'c', 'd', 'd'],
    3,
    ['b', 'z', 'a'],
    9,
  );
  for (let i = 0; i < 8; i += 2) assert.equal(train[i], train[i + 1]);
  assert.equal(testLabels[0], train[2]);
  assert.equal(testLabels[2], train[0]);
  assert.ok([...train, ...testLabels].every((l) => l >= 0 && l <= 3));
  assert.deepEqual(
    controlLabels(trainY, undefined, 3, undefined, 9),
    controlLabels(trainY, undefined, 3, undefined, 9),
  );
  assert.throws(() => controlLabels(trainY, ['a'], 3, undefined, 1), /1 training groups for 8 rows/);
});

test('bad probe input is rejected with the offending row', () => {
  const X = [new Float32Array([1, 2]), new Float32Array([3])];
  assert.throws(() => trainProbe('linear', X, [0, 1], 2), /row 1 has 1 features, expected 2/);
  const ok = [new Float32Array([1, 2]), new Float32Array([3, 4])];
  assert.throws(() => trainProbe('linear', ok, [0, 2], 2), /label 1 is 2, outside 0\.\.1/);
  assert.throws(() => trainProbe('linear', ok, [0], 2), /2 rows but 1 labels/);
  assert.throws(
    () => trainProbe('mlp', [new Float32Array([NaN, 1]), ok[1]!], [0, 1], 2),
    /trainProbe: row 0 feature 0 is NaN/,
  );
  assert.throws(() => trainProbe('linear', ok, [0, 1], 1), /numClasses must be an integer ≥ 2/);
  const probe = trainProbe('linear', ok, [0, 1], 2);
  assert.throws(
    () => evaluateProbe(probe, [new Float32Array([1, 2, 3])], [0]),
    /row has 3 features, expected 2/,
  );
});
