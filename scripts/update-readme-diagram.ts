/**
 * Regenerates the statechart in README.md (between `<!-- diagram:start -->` and `<!-- diagram:end -->`) from the
 * machine definition: `npm run diagram:readme`. With `--check`, changes nothing and exits 1 if the README is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { toMermaid } from '../src/visualize/index.js';
import { withDiagram } from './readme-diagram.js';

const path = fileURLToPath(new URL('../README.md', import.meta.url));
const check = process.argv.includes('--check');

const before = readFileSync(path, 'utf8');
const after = withDiagram(before, toMermaid());

if (before === after) {
  console.log('README.md: statechart diagram is up to date');
} else if (check) {
  console.error('README.md: statechart diagram is out of date; run `npm run diagram:readme`');
  process.exitCode = 1;
} else {
  writeFileSync(path, after);
  console.log('README.md: statechart diagram updated');
}
