// Inclusive and self time per function in two windows of a .cpuprofile (before and after SPLIT seconds
// from its start: e.g. a thread's first run vs its second), sorted by the difference.
// Usage: SPLIT=SECONDS node prof-split.mjs FILE [N]
import { readFileSync } from 'node:fs';
const [file, n = '40'] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((x) => [x.id, x]));
const parent = new Map();
for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
const name = (x) =>
  `${x.callFrame.functionName || '(anon)'} ${x.callFrame.url.split('/').slice(-2).join('/')}:${x.callFrame.lineNumber + 1}`;
// sample times
let t = p.startTime;
const times = p.timeDeltas.map((d) => (t += d));
// The split: SPLIT seconds after the profile's start (an async function's calls resume in new nodes, so
// its calls cannot be told apart by node).
const split = p.startTime + Number(process.env.SPLIT) * 1e6;
const acc = [new Map(), new Map()];
const selfAcc = [new Map(), new Map()];
const tot = [0, 0];
for (let i = 0; i < p.samples.length; i++) {
  const w = times[i] < split ? 0 : 1;
  const dt = (p.timeDeltas[i + 1] ?? p.timeDeltas[i]) / 1e6;
  tot[w] += dt;
  const seen = new Set();
  const leaf = name(byId.get(p.samples[i]));
  selfAcc[w].set(leaf, (selfAcc[w].get(leaf) ?? 0) + dt);
  for (let id = p.samples[i]; id !== undefined; id = parent.get(id)) {
    const k = name(byId.get(id));
    if (seen.has(k)) continue;
    seen.add(k);
    acc[w].set(k, (acc[w].get(k) ?? 0) + dt);
  }
}
console.log(`window 1 ${tot[0].toFixed(2)} s, window 2 ${tot[1].toFixed(2)} s`);
const keys = new Set([...acc[0].keys(), ...acc[1].keys()]);
const rows = [...keys].map((k) => [k, acc[0].get(k) ?? 0, acc[1].get(k) ?? 0]);
rows.sort((a, b) => b[1] - b[2] - (a[1] - a[2]));
console.log('--- inclusive: first, second, diff');
for (const [k, a, b] of rows.slice(0, Number(n)))
  console.log(
    `${a.toFixed(2).padStart(7)} ${b.toFixed(2).padStart(7)} ${(a - b).toFixed(2).padStart(7)} ${k}`,
  );
const srows = [...new Set([...selfAcc[0].keys(), ...selfAcc[1].keys()])].map((k) => [
  k,
  selfAcc[0].get(k) ?? 0,
  selfAcc[1].get(k) ?? 0,
]);
srows.sort((a, b) => b[1] - b[2] - (a[1] - a[2]));
console.log('--- self: first, second, diff');
for (const [k, a, b] of srows.slice(0, 25))
  console.log(
    `${a.toFixed(2).padStart(7)} ${b.toFixed(2).padStart(7)} ${(a - b).toFixed(2).padStart(7)} ${k}`,
  );
