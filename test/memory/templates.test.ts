import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  fallbackStatement,
  inferTemplates,
  parseTemplates,
  renderStatement,
  validateTemplate,
} from '../../src/memory/templates.ts';

const velora = { subject: 'Velora', relation: 'city_country', object: 'Marvania' };

test('a template needs {subject} and {object} and nothing else', () => {
  assert.equal(validateTemplate('r', '{subject} is in {object}.'), '{subject} is in {object}.');
  assert.throws(() => validateTemplate('r', 'in {object}.'), /relation "r": missing \{subject\}/);
  assert.throws(() => validateTemplate('r', '{subject} in {obj}.'), /unknown placeholder \{obj\}/);
  assert.throws(() => validateTemplate('r', 42), /must be a non-empty string/);
  assert.throws(() => parseTemplates([], 'templates.json'), /templates.json: expected a JSON object/);
  assert.throws(() => parseTemplates({ r: 'x' }, 'templates.json'), /templates.json: .*missing \{subject\}/);
});

test('statements render from the template, or a generic fallback', () => {
  const templates = { city_country: '{subject} is a city in {object}.' };
  assert.equal(renderStatement(templates, velora), 'Velora is a city in Marvania.');
  assert.equal(renderStatement(templates, { ...velora, object: 'Dostel' }), 'Velora is a city in Dostel.');
  const other = { subject: 'Marvania', relation: 'country_capital', object: 'Tarsk' };
  assert.equal(renderStatement(templates, other), 'Marvania country capital Tarsk.');
  assert.equal(fallbackStatement(other), 'Marvania country capital Tarsk.');
  // A relation called like an Object.prototype member is still just a missing template.
  assert.equal(renderStatement(templates, { ...velora, relation: 'toString' }), 'Velora toString Marvania.');
});

test('templates are inferred from the statements records carry; the majority phrasing wins', () => {
  const inferred = inferTemplates([
    { ...velora, statement: 'Velora is a city in Marvania.' },
    { subject: 'Tarsk', relation: 'city_country', object: 'Dostel', statement: 'Tarsk is a city in Dostel.' },
    { subject: 'Ombrin', relation: 'city_country', object: 'Quellon', statement: 'Quellon contains Ombrin.' },
    // The object reversed into the subject's position: the placeholders follow the names, not the order.
    {
      subject: 'Aldo',
      relation: 'person_birth_city',
      object: 'Velora',
      statement: 'In Velora, Aldo was born.',
    },
    // Unusable: the subject appears twice, the object not at all, no statement.
    { subject: 'Sefa', relation: 'person_occupation', object: 'baker', statement: 'Sefa is Sefa.' },
    { subject: 'Sefa', relation: 'person_occupation', object: 'baker', statement: 'Sefa bakes.' },
    { subject: 'Sefa', relation: 'person_occupation', object: 'baker' },
  ]);
  assert.deepEqual(inferred, {
    city_country: '{subject} is a city in {object}.',
    person_birth_city: 'In {object}, {subject} was born.',
  });
});
