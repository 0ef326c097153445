// Inclusive and self time per function of a .cpuprofile (sample counts × mean interval).
import { readFileSync, readdirSync } from 'node:fs';
const dir = process.argv[2];
const file = readdirSync(dir)
  .filter((f) => f.endsWith('.cpuprofile'))
  .map((f) => `${dir}/${f}`)[0];
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const dt = (p.endTime - p.startTime) / 1e6 / p.samples.length;
const incl = new Map(),
  self = new Map();
const name = (n) =>
  `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
for (const s of p.samples) {
  let n = byId.get(s);
  self.set(name(n), (self.get(name(n)) ?? 0) + dt);
  const seen = new Set();
  for (let id = s; id !== undefined; id = parent.get(id)) {
    const k = name(byId.get(id));
    if (!seen.has(k)) {
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + dt);
    }
  }
}
const top = (m, k) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([n, t]) => `${t.toFixed(2).padStart(7)} ${n}`)
    .join('\n');
console.log(`total ${(p.endTime - p.startTime) / 1e6} s`);
console.log('--- inclusive');
console.log(top(incl, Number(process.argv[3] ?? 70)));
console.log('--- self');
console.log(top(self, 30));
