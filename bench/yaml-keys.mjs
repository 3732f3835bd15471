#!/usr/bin/env node
// Reading a values file grows linearly with its number of keys: renderers/yaml-read.ts against the
// yaml package's own uniqueKeys check (which compares every key with every earlier one), on the
// same 4k- and 40k-key files in this one invocation. Linear means the 40k/4k ratio is about 10;
// the library's check gives about 100. Needs dist/ (npm run build). Usage: node bench/yaml-keys.mjs
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { readYaml } = await import(join(ROOT, 'dist', 'renderers', 'yaml-read.js'));

const text = (n) => `${Array.from({ length: n }, (_, i) => `key${i}: ${i}`).join('\n')}\n`;
const time = (fn) => {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
};
const small = text(4_000);
const large = text(40_000);
const ours = (t) => readYaml(t);
const library = (t) => parseAllDocuments(t, { uniqueKeys: true }).forEach((d) => d.toJS());
ours(small); // warm up the JIT for both
library(small);
for (const [name, fn] of [
  ['meshwasm readYaml', ours],
  ['yaml uniqueKeys', library],
]) {
  const a = time(() => fn(small));
  const b = time(() => fn(large));
  console.log(
    `${name.padEnd(18)} 4k keys ${a.toFixed(0).padStart(6)} ms  40k keys ${b.toFixed(0).padStart(6)} ms  ratio ${(b / a).toFixed(1)}`,
  );
}
