// Call tree under a named function, inclusive seconds, to a depth.
import { readFileSync, readdirSync } from 'node:fs';
const [dir, root, depthArg] = process.argv.slice(2);
const file = readdirSync(dir)
  .filter((f) => f.endsWith('.cpuprofile'))
  .map((f) => `${dir}/${f}`)[0];
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const dt = (p.endTime - p.startTime) / 1e6 / p.samples.length;
const count = new Map();
for (const s of p.samples) count.set(s, (count.get(s) ?? 0) + 1);
const total = (n) => (count.get(n.id) ?? 0) + (n.children ?? []).reduce((a, c) => a + total(byId.get(c)), 0);
const label = (n) =>
  `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-1)}:${n.callFrame.lineNumber}:${n.callFrame.columnNumber}`;
function show(n, d, ind) {
  const t = total(n) * dt;
  if (t < 0.15) return;
  console.log(`${ind}${t.toFixed(2)} ${label(n)}`);
  if (d > 0)
    for (const c of (n.children ?? []).map((c) => byId.get(c)).sort((a, b) => total(b) - total(a)))
      show(c, d - 1, ind + '  ');
}
for (const n of p.nodes) if (n.callFrame.functionName === root) show(n, Number(depthArg ?? 3), '');
