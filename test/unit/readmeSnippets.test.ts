import { existsSync, readdirSync, readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { createConnection } from '../../src/index.js';
import { connectionPaths, replayPath } from '../../src/testing/index.js';
import { createMemoryTransport } from '../../src/transports/memory.js';

// The README's code is what new users copy: these check its snippets against the code and the chart's behaviour.

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const reactExample = readFileSync(new URL('../../examples/react/ConnectionStatus.ts', import.meta.url), 'utf8');

/** The text of `function statusOf(...) { ... }` (up to the closing brace at the start of a line). */
function statusOfSource(text: string, where: string): string {
  const match = /function statusOf\(s: ChartSnapshot\): string \{\n[\s\S]*?\n\}/.exec(text);
  if (!match) throw new Error(`no \`function statusOf(s: ChartSnapshot): string { ... }\` in ${where}`);
  return match[0];
}

/** What a status word must be for the public state path (`conn.state`) it is shown in. */
function expectedStatus(state: string): string {
  if (state === 'reconnecting.waitingForNetwork') return 'offline';
  return state.split('.')[0] as string;
}

describe('README snippets', () => {
  const readmeStatusOf = statusOfSource(readme, 'README.md');

  it("the React section's statusOf is examples/react's, line for line", () => {
    expect(readmeStatusOf).toBe(statusOfSource(reactExample, 'examples/react/ConnectionStatus.ts'));
  });

  it("the React section's statusOf names the state at every step of every path of the plain variant (closing included)", async () => {
    const js = ts.transpileModule(readmeStatusOf, { compilerOptions: { target: ts.ScriptTarget.ES2022 } }).outputText;
    const statusOf = new Function(`${js}\nreturn statusOf;`)() as (snapshot: unknown) => string;
    const paths = connectionPaths({ variants: ['plain'] });
    const seen = new Set<string>();
    for (const path of paths) {
      await replayPath(path, {
        onStep: (conn) => {
          const status = statusOf(conn.actor.getSnapshot());
          seen.add(status);
          expect(status, `${path.id} at ${conn.state}`).toBe(expectedStatus(conn.state));
        },
      });
    }
    // The paths reach every branch, so a missing one could not hide.
    expect([...seen].sort()).toEqual(['closed', 'closing', 'connecting', 'offline', 'open', 'reconnecting']);
  });

  it("the quick start's note: a statechange listener attached after createConnection() misses idle -> connecting.opening; startClosed + open() shows it", () => {
    expect(readme).toMatch(/`createConnection\(\)` enters `connecting\.opening` before it returns[\s\S]{0,200}`idle -> connecting\.opening` fired before the listener was\s+attached/);
    const memory = createMemoryTransport();
    const log = (conn: ReturnType<typeof createConnection>) => {
      const seen: string[] = [];
      conn.addEventListener('statechange', (e) => seen.push(`${e.from} -> ${e.to}`));
      return seen;
    };

    const quickStart = createConnection('ws://example.test/', { transport: memory.transport });
    const missed = log(quickStart);
    expect(quickStart.state).toBe('connecting.opening');
    memory.last!.accept();
    expect(missed).toEqual(['connecting.opening -> open']);

    const deferred = createConnection('ws://example.test/', { transport: memory.transport, startClosed: true });
    const all = log(deferred);
    deferred.open();
    memory.last!.accept();
    expect(all).toEqual(['idle -> connecting.opening', 'connecting.opening -> open']);
    quickStart.close();
    deferred.close();
  });

  it('the typed-messages snippet and the session-restore snippet after it type-check together (what they send is in Out)', () => {
    const block = (heading: string) => {
      const match = new RegExp(`${heading}\\n\\n\`\`\`ts\\n([\\s\\S]*?)\`\`\``).exec(readme);
      if (!match) throw new Error(`no ts block right after ${heading}`);
      return match[1] as string;
    };
    const entry = (name: string) => ({ requests: 'plugins/requests', router: 'plugins/router', schema: 'plugins/schema' })[name] ?? name;
    const snippets = `${block('### Typed messages, routing, request/response')}\n${block('### Session restore')}`.replace(
      /from 'socketchart\/(\w+)'/g,
      (_all, name: string) => `from '../../src/${entry(name)}.js'`,
    );
    const source = [
      "import { z } from 'zod';",
      "import { createConnection, jsonCodec } from '../../src/index.js';",
      "const InSchema = z.discriminatedUnion('type', [z.object({ type: z.literal('chat'), text: z.string() }), z.object({ type: z.literal('presence'), users: z.array(z.string()) })]);",
      'declare const url: string;',
      'declare function show(text: string): void;',
      snippets,
      'export {};',
    ].join('\n');
    const file = new URL('readme-typed-snippet.ts', import.meta.url).pathname;
    const options = { ...ts.getDefaultCompilerOptions(), target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, noEmit: true, skipLibCheck: true, types: ['node'], lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'] };
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, version, ...rest) => (name === file ? ts.createSourceFile(name, source, version) : getSourceFile(name, version, ...rest));
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (name) => name === file || fileExists(name);
    const program = ts.createProgram([file], options, host);
    const problems = ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(problems).toEqual([]);
  }, 60_000);

  it('examples/README.md links every example folder, and every examples/ link in both READMEs resolves', () => {
    const examples = new URL('../../examples/', import.meta.url);
    const folders = readdirSync(examples, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
    const index = readFileSync(new URL('README.md', examples), 'utf8');
    const indexLinks = [...index.matchAll(/\]\(([^)#]+)\)/g)].map((m) => m[1] as string);
    expect(folders.filter((folder) => !indexLinks.includes(`${folder}/`))).toEqual([]);
    const readmeLinks = [...readme.matchAll(/\]\((examples\/[^)#]*)\)/g)].map((m) => m[1] as string);
    expect(readmeLinks.length).toBeGreaterThan(0);
    const missing = [
      ...indexLinks.filter((link) => !existsSync(new URL(link, examples))),
      ...readmeLinks.filter((link) => !existsSync(new URL(`../../${link}`, import.meta.url))),
    ];
    expect(missing).toEqual([]);
  });
});
