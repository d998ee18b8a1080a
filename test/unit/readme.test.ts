import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createConnection } from '../../src/index.js';
import { DEFAULTS } from '../../src/options.js';
import { BATCHING_DEFAULTS } from '../../src/plugins/batching.js';
import { CHUNKING_DEFAULTS } from '../../src/plugins/chunking.js';
import { REQUESTS_DEFAULTS } from '../../src/plugins/requests.js';
import { ROUTER_DEFAULTS } from '../../src/plugins/router.js';
import { createMemoryTransport } from '../../src/transports/memory.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

function flatten(value: object, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [key, v] of Object.entries(value)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, inner] of flatten(v, `${prefix}${key}.`)) out.set(k, inner);
    } else out.set(`${prefix}${key}`, v);
  }
  return out;
}

function show(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value)) return JSON.stringify(value);
  return String(value);
}

describe('README', () => {
  const table = readme.slice(readme.indexOf('<!-- options:start -->'), readme.indexOf('<!-- options:end -->'));
  const rows = new Map(
    [...table.matchAll(/^\| `([^`]+)` \| (.+?) \|/gm)].map((m) => [m[1]!, m[2]!.trim()] as const),
  );

  it('lists every default of DEFAULTS with the value the code uses', () => {
    const defaults = flatten(DEFAULTS);
    expect(defaults.size).toBeGreaterThan(10);
    for (const [name, value] of defaults) {
      expect(rows.has(name), `README options table lacks \`${name}\``).toBe(true);
      expect(rows.get(name), `README default of \`${name}\``).toBe(`\`${show(value)}\``);
    }
  });

  it('documents only options that exist', () => {
    const documented = [...rows.keys()];
    const known = new Set([
      ...flatten(DEFAULTS).keys(),
      'transport', 'headers', 'binaryType', 'retryWait', 'shouldReconnect', 'closeCodes', 'environment', 'clock', 'random', 'inspect',
      'codec', 'schema', 'router', 'requests', 'batching', 'chunking', 'metrics', 'flow.lowWaterMark', 'flow.rateLimit', 'auth.token', 'auth.message', 'auth.isAck', 'auth.isNack', 'heartbeat', 'heartbeat.mode', 'heartbeat.ping', 'heartbeat.isPong', 'unconfirmed', 'delivery',
    ]);
    expect(documented.filter((name) => !known.has(name))).toEqual([]);
  });

  it('documents only keys createConnection accepts (the unknown-key check would refuse any other)', () => {
    const transport = createMemoryTransport().transport;
    for (const name of rows.keys()) {
      // `{ backoff: { maxRetries: undefined } }`: an own key with no value. Required ones (`batching.envelope`) are
      // then refused for their value, never for their name.
      const options = name.split('.').reduceRight<unknown>((inner, key) => ({ [key]: inner }), undefined) as object;
      expect(() => createConnection('ws://example.test/', { ...options, transport, startClosed: true }).close(), name).not.toThrow(/Unknown option/);
    }
    expect(() => createConnection('ws://example.test/', { transport, backoff: { maxAttempt: undefined } as never })).toThrow(/maxAttempts/);
  });

  it("lists every plug-in's defaults with the value its entry uses", () => {
    const pluginTable = readme.slice(readme.indexOf('<!-- plugin-options:start -->'), readme.indexOf('<!-- plugin-options:end -->'));
    const pluginRows = new Map([...pluginTable.matchAll(/^\| `([^`]+)` \| (.+?) \|/gm)].map((m) => [m[1]!, m[2]!.trim()] as const));
    const defaults = flatten({ chunking: CHUNKING_DEFAULTS, batching: BATCHING_DEFAULTS, requests: REQUESTS_DEFAULTS, router: ROUTER_DEFAULTS });
    for (const [name, value] of defaults) expect(pluginRows.get(name), `README default of \`${name}\``).toBe(`\`${show(value)}\``);
    for (const name of pluginRows.keys()) {
      expect(defaults.has(name) || ['batching.envelope', 'batching.split'].includes(name), `${name} is not a plug-in option`).toBe(true);
    }
  });

  it('gives the two set-up commands and the test command CI runs', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toMatch(/^npm test\b/m);
    const ci = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
    expect(ci).toMatch(/^npm test$/m);
  });
});
