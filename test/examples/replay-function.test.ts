/**
 * examples/replay-function/badge.test.ts is the example (run from a clone; its source ships with the package): imported here, its tests run
 * in the suite. The README shows the same file; this checks it is the same, so the README's version runs too.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import '../../examples/replay-function/badge.test.js';

it("is the README's model-based testing example, line for line", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Model-based tests of your own app'));
  const shown = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const example = readFileSync(new URL('../../examples/replay-function/badge.test.ts', import.meta.url), 'utf8')
    .replace(/^\/\*\*.*\*\/\n/, '') // its header comment
    .replace("'../../src/testing/index.js'; // in your app: from 'socketchart/testing'", "'socketchart/testing';");
  expect(shown).toBe(example);
  expect(shown.trim().split('\n').length).toBeLessThan(20);
});
