import { test } from 'node:test';
import assert from 'node:assert/strict';
import { duration, escapeHtml, jsonForScript, percent, points, pValue } from '../../src/report/html.ts';

test('escapeHtml neutralises every character that can start markup or end an attribute', () => {
  assert.equal(
    escapeHtml(`<img src=x onerror="alert('1')">&amp;`),
    '&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;amp;',
  );
  assert.equal(escapeHtml('Q: Is 17 < 12 + 4?\nA:'), 'Q: Is 17 &lt; 12 + 4?\nA:');
});

test('jsonForScript cannot close its script element and parses back to the same value', () => {
  const value = {
    label: '</script><script>alert(1)</script>',
    comment: '<!-- x -->',
    sep: 'a\u2028b\u2029c',
    amp: 'a&b',
  };
  const text = jsonForScript(value);
  assert.ok(!/<|>|&|\u2028|\u2029/.test(text), text);
  assert.deepEqual(JSON.parse(text), value);
});

test('numbers are formatted for reading', () => {
  assert.equal(percent(0.95556), '95.6%');
  assert.equal(percent(1, 0), '100%');
  assert.equal(pValue(1.2e-48), '< 0.001');
  assert.equal(pValue(0.3817), '0.382');
  assert.equal(points(0.0667), '+6.7 pts');
  assert.equal(points(-0.02), '−2.0 pts');
  assert.equal(points(0), '±0.0 pts');
  assert.equal(duration(9.46), '9.5 s');
  assert.equal(duration(412), '6 min 52 s');
});
