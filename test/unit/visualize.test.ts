import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type AnyStateMachine, type AnyStateNode, and, not, setup } from 'xstate';
import { connectionMachine } from '../../machines/connection.js';
import { toDot, toMermaid } from '../../src/visualize/index.js';

// ---------------------------------------------------------------------------------------------------------------
// Walking the machine independently of src/visualize: what any diagram of it must show.

/** Every state node but the root, parents first. */
function statesOf(machine: AnyStateMachine): AnyStateNode[] {
  const out: AnyStateNode[] = [];
  const visit = (node: AnyStateNode): void => {
    for (const child of Object.values(node.states) as AnyStateNode[]) {
      out.push(child);
      visit(child);
    }
  };
  visit(machine.root);
  return out;
}

/** The events a node reacts to, as its config spells them (`after` keys read as `after <delay>`). */
function configuredEvents(node: AnyStateNode): string[] {
  const config = node.config as { on?: object; after?: object; always?: unknown };
  const events = Object.keys(config.on ?? {});
  for (const delay of Object.keys(config.after ?? {})) events.push(`after ${/^\d+$/.test(delay) ? `${delay}ms` : delay}`);
  if (config.always !== undefined) events.push('always');
  return events;
}

/** How a transition's event must read in a diagram. */
function expectedEvent(node: AnyStateNode, eventType: string): string {
  if (eventType === '') return 'always';
  if (eventType.startsWith('xstate.after.')) {
    const delay = node.after.find((d) => d.eventType === eventType)?.delay;
    return `after ${typeof delay === 'number' ? `${delay}ms` : String(delay)}`;
  }
  if (eventType.startsWith('xstate.done.state.')) return 'done';
  // An invoked actor's end reads `done <id>` / `error <id>` (the chart's retryWait).
  if (eventType.startsWith('xstate.done.actor.')) return `done ${eventType.slice('xstate.done.actor.'.length)}`;
  if (eventType.startsWith('xstate.error.actor.')) return `error ${eventType.slice('xstate.error.actor.'.length)}`;
  return eventType;
}

interface Expected {
  source: AnyStateNode;
  targets: readonly AnyStateNode[];
  event: string;
  /** A named guard; `null` for a guard object or function (higher-order, inline), whose label the test won't predict. */
  guard: string | null | undefined;
}

function transitionsOf(machine: AnyStateMachine): Expected[] {
  const out: Expected[] = [];
  for (const node of [machine.root, ...statesOf(machine)]) {
    const lists = [...node.transitions.values()];
    if (node.always !== undefined) lists.push(node.always);
    for (const t of lists.flat()) {
      out.push({
        source: node,
        targets: t.target ?? [],
        event: expectedEvent(node, t.eventType),
        guard: typeof t.guard === 'string' ? t.guard : t.guard === undefined ? undefined : null,
      });
    }
  }
  return out;
}

const mermaidId = (node: AnyStateNode): string => node.path.join('_');
const dotId = (node: AnyStateNode): string => node.path.join('.');
const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// ---------------------------------------------------------------------------------------------------------------
// Structural checks. Mermaid's parser needs a DOM; instead, every line must be one of the statement forms of its
// stateDiagram grammar that we emit, ids must be declared before use, and blocks must balance.

interface MermaidDoc {
  problems: string[];
  /** Declared id -> the id of the composite block it's declared in (null at the top level). */
  scopes: Map<string, string | null>;
  labels: Map<string, string>;
  /** `source -> target` -> label lines. */
  edges: Map<string, string[]>;
  initials: Array<{ scope: string | null; id: string }>;
  notes: Map<string, string[]>;
  dividers: number;
}

function parseMermaid(text: string): MermaidDoc {
  const ID = '([A-Za-z0-9_]+)';
  const LABEL = '([^:;\\n]+)';
  const forms = {
    label: new RegExp(`^state "([^"]*)" as ${ID}$`),
    open: new RegExp(`^state ${ID} \\{$`),
    close: /^\}$/,
    initial: new RegExp(`^\\[\\*\\] --> ${ID}$`),
    final: new RegExp(`^${ID} --> \\[\\*\\]$`),
    edge: new RegExp(`^${ID} --> ${ID} : ${LABEL}$`),
    note: new RegExp(`^note (?:left|right) of ${ID} : ${LABEL}$`),
    divider: /^--$/,
  };
  const doc: MermaidDoc = {
    problems: [], scopes: new Map(), labels: new Map(), edges: new Map(), initials: [], notes: new Map(), dividers: 0,
  };
  const referenced: Array<[string, number]> = [];
  const stack: string[] = [];
  const opened = new Set<string>();
  const lines = text.split('\n');
  if (lines[0] !== 'stateDiagram-v2') doc.problems.push(`line 1 is not 'stateDiagram-v2': ${lines[0]}`);
  if (lines.at(-1) !== '') doc.problems.push('no final newline');
  lines.slice(1, -1).forEach((raw, i) => {
    const n = i + 2;
    const line = raw.trim();
    const scope = stack.at(-1) ?? null;
    if (raw.includes('%%')) doc.problems.push(`line ${n}: '%%' starts a comment: ${raw}`);
    let m: RegExpMatchArray | null;
    if ((m = line.match(forms.label))) {
      const [, label, id] = m as unknown as [string, string, string];
      if (doc.scopes.has(id)) doc.problems.push(`line ${n}: ${id} declared twice`);
      doc.scopes.set(id, scope);
      doc.labels.set(id, label);
    } else if ((m = line.match(forms.open))) {
      const id = m[1]!;
      if (doc.scopes.get(id) !== scope) doc.problems.push(`line ${n}: block ${id} opened outside the scope that declares it`);
      if (opened.has(id)) doc.problems.push(`line ${n}: block ${id} opened twice`);
      opened.add(id);
      stack.push(id);
    } else if (forms.close.test(line)) {
      if (stack.pop() === undefined) doc.problems.push(`line ${n}: '}' closes nothing`);
    } else if ((m = line.match(forms.initial)) || (m = line.match(forms.final))) {
      doc.initials.push({ scope, id: m[1]! });
      referenced.push([m[1]!, n]);
    } else if ((m = line.match(forms.edge))) {
      // Mermaid moves a state into the block that mentions it: arrows belong at the top level only.
      if (scope !== null) doc.problems.push(`line ${n}: arrow inside block ${scope}`);
      const [, from, to, label] = m as unknown as [string, string, string, string];
      const key = `${from} -> ${to}`;
      if (doc.edges.has(key)) doc.problems.push(`line ${n}: second arrow ${key}`);
      doc.edges.set(key, label.split('<br/>'));
      referenced.push([from, n], [to, n]);
    } else if ((m = line.match(forms.note))) {
      const [, id, note] = m as unknown as [string, string, string];
      if (doc.scopes.get(id) !== scope) doc.problems.push(`line ${n}: note on ${id} outside the scope that declares it`);
      doc.notes.set(id, note.split('<br/>'));
    } else if (forms.divider.test(line)) {
      if (scope === null) doc.problems.push(`line ${n}: '--' outside a block`);
      doc.dividers++;
    } else {
      doc.problems.push(`line ${n}: not a statement this diagram uses: ${raw}`);
    }
  });
  if (stack.length > 0) doc.problems.push(`unclosed blocks: ${stack.join(', ')}`);
  for (const { scope, id } of doc.initials) {
    if (doc.scopes.has(id) && doc.scopes.get(id) !== scope) doc.problems.push(`[*] --> ${id} in block ${scope}, not ${id}'s`);
  }
  for (const [id, n] of referenced) if (!doc.scopes.has(id)) doc.problems.push(`line ${n}: ${id} used but never declared`);
  return doc;
}

interface DotDoc {
  problems: string[];
  /** Node id -> enclosing cluster (null at the top level). */
  nodes: Map<string, string | null>;
  /** Cluster -> enclosing cluster. */
  clusters: Map<string, string | null>;
  clusterLabels: Map<string, string>;
  nodeLabels: Map<string, string>;
  edges: Array<{ from: string; to: string; label: string; lhead?: string; ltail?: string }>;
}

function parseDot(text: string): DotDoc {
  const Q = '"((?:[^"\\\\]|\\\\.)*)"';
  const forms = {
    header: new RegExp(`^digraph ${Q} \\{$`),
    attr: /^[a-z]+=("(?:[^"\\]|\\.)*"|[a-z0-9.,]+);$/,
    defaults: /^(node|edge) \[.*\];$/,
    subgraph: new RegExp(`^subgraph ${Q} \\{$`),
    close: /^\}$/,
    node: new RegExp(`^${Q} \\[(.*)\\];$`),
    edge: new RegExp(`^${Q} -> ${Q}(?: \\[(.*)\\])?;$`),
  };
  const doc: DotDoc = { problems: [], nodes: new Map(), clusters: new Map(), clusterLabels: new Map(), nodeLabels: new Map(), edges: [] };
  const stack: string[] = [];
  const lines = text.split('\n');
  if (!forms.header.test(lines[0] ?? '')) doc.problems.push(`line 1 is not a digraph header: ${lines[0]}`);
  let closed = false;
  lines.slice(1, -1).forEach((raw, i) => {
    const n = i + 2;
    const line = raw.trim();
    const scope = stack.at(-1) ?? null;
    if (closed) doc.problems.push(`line ${n}: after the graph's closing brace`);
    const attr = (attrs: string, name: string): string | undefined =>
      attrs.match(new RegExp(`(?:^|, )${name}=${Q}`))?.[1];
    let m: RegExpMatchArray | null;
    if ((m = line.match(forms.subgraph))) {
      const id = m[1]!;
      if (!id.startsWith('cluster')) doc.problems.push(`line ${n}: subgraph ${id} is not a cluster`);
      if (doc.clusters.has(id)) doc.problems.push(`line ${n}: cluster ${id} twice`);
      doc.clusters.set(id, scope);
      stack.push(id);
    } else if (forms.close.test(line)) {
      if (stack.pop() === undefined) closed = true;
    } else if ((m = line.match(forms.attr))) {
      if (line.startsWith('label=') && scope !== null) doc.clusterLabels.set(scope, m[1]!.slice(1, -1));
    } else if (forms.defaults.test(line)) {
      // node [...] / edge [...] defaults
    } else if ((m = line.match(forms.edge))) {
      const [, from, to, attrs = ''] = m as unknown as [string, string, string, string?];
      const edge = { from, to, label: attr(attrs, 'label') ?? '', lhead: attr(attrs, 'lhead'), ltail: attr(attrs, 'ltail') };
      doc.edges.push(edge);
    } else if ((m = line.match(forms.node))) {
      const [, id, attrs] = m as unknown as [string, string, string];
      if (doc.nodes.has(id)) doc.problems.push(`line ${n}: node ${id} declared twice`);
      doc.nodes.set(id, scope);
      doc.nodeLabels.set(id, attr(attrs, 'label') ?? id);
    } else {
      doc.problems.push(`line ${n}: unrecognized: ${raw}`);
    }
  });
  if (stack.length > 0 || !closed) doc.problems.push('unbalanced braces');
  const within = (nodeId: string, cluster: string): boolean => {
    for (let at = doc.nodes.get(nodeId) ?? null; at !== null; at = doc.clusters.get(at) ?? null) if (at === cluster) return true;
    return false;
  };
  for (const e of doc.edges) {
    for (const id of [e.from, e.to]) if (!doc.nodes.has(id)) doc.problems.push(`edge ${e.from} -> ${e.to}: ${id} undeclared`);
    if (e.lhead !== undefined && !(doc.clusters.has(e.lhead) && within(e.to, e.lhead) && !within(e.from, e.lhead))) {
      doc.problems.push(`edge ${e.from} -> ${e.to}: bad lhead ${e.lhead}`);
    }
    if (e.ltail !== undefined && !(doc.clusters.has(e.ltail) && within(e.from, e.ltail) && !within(e.to, e.ltail))) {
      doc.problems.push(`edge ${e.from} -> ${e.to}: bad ltail ${e.ltail}`);
    }
  }
  return doc;
}

const graphviz = spawnSync('dot', ['-V'], { encoding: 'utf8' });
// Skipped without Graphviz on a developer's machine; under CI (which installs it, see .ci/run) it must run.
const hasGraphviz = graphviz.status === 0 || process.env.CI === 'true';

// ---------------------------------------------------------------------------------------------------------------
// A small machine exercising what the connection machine doesn't (yet): parallel regions, final states, numeric
// delays, eventless and done transitions, higher-order guards, keys that aren't valid Mermaid ids.

const fixture = setup({
  guards: { ok: () => true, ready: () => true },
  actions: { noop: () => {} },
}).createMachine({
  id: 'fixture',
  initial: 'a-b',
  on: { RESET: { target: '.a-b' } },
  states: {
    'a-b': { on: { GO: 'a_b', PING: { actions: 'noop' } } },
    a_b: { after: { 500: 'state' } },
    state: {
      type: 'parallel',
      onDone: 'end',
      states: {
        left: { initial: 'x', states: { x: { on: { FINISH: 'y' } }, y: { type: 'final' } } },
        right: {
          initial: 'z',
          states: {
            z: { always: [{ guard: and(['ok', not('ready')]), target: 'done' }] },
            done: { type: 'final' },
          },
        },
      },
    },
    end: { type: 'final', tags: ['OVER'] },
  },
});

// ---------------------------------------------------------------------------------------------------------------

describe.each([
  ['connectionMachine', connectionMachine as AnyStateMachine],
  ['fixture machine', fixture as AnyStateMachine],
])('toMermaid(%s)', (name, machine) => {
  const text = name === 'connectionMachine' ? toMermaid() : toMermaid(machine);
  const doc = parseMermaid(text);
  /** The root's block, if the root is drawn as a box (it is when it has transitions of its own). */
  const rootScope = doc.initials.some((i) => i.scope === null && i.id === machine.id) ? machine.id : null;
  /** A state's Mermaid id: the one declared in its parent's block with its key as label. */
  const idOf = (node: AnyStateNode): string => {
    if (node === machine.root) return rootScope ?? '(root)';
    const scope = node.parent === machine.root ? rootScope : idOf(node.parent!);
    const matches = [...doc.labels].filter(([id, label]) => doc.scopes.get(id) === scope && (label === node.key || label.startsWith(`${node.key} `)));
    const exact = matches.find(([id]) => id === mermaidId(node));
    return (exact ?? matches[0])?.[0] ?? `(none for ${node.id})`;
  };

  it('is well-formed stateDiagram-v2', () => {
    expect(doc.problems).toEqual([]);
  });

  it('is the same on every call', () => {
    expect(name === 'connectionMachine' ? toMermaid(connectionMachine) : toMermaid(machine)).toBe(text);
  });

  it('declares every state once, labelled with its key and tags, inside its parent', () => {
    const states = statesOf(machine);
    expect(doc.scopes.size).toBeGreaterThanOrEqual(states.length);
    for (const node of states) {
      const id = idOf(node);
      expect(doc.labels.has(id), `no state ${node.path.join('.')} (${id})`).toBe(true);
      const label = doc.labels.get(id)!;
      for (const tag of node.tags) expect(label).toContain(tag);
      expect(id, 'ids are path-based').toMatch(new RegExp(`^${escapeRegExp(node.path.join('_').replace(/[^A-Za-z0-9_]/g, '_'))}`));
    }
  });

  it('marks the initial state of every compound state', () => {
    for (const node of [machine.root, ...statesOf(machine)]) {
      if (node.type !== 'compound') continue;
      const scope = node === machine.root ? rootScope : idOf(node);
      for (const target of node.initial.target) {
        expect(doc.initials, `${node.id} starts in ${target.id}`).toContainEqual({ scope, id: idOf(target) });
      }
    }
  });

  it('draws every transition with a target as an arrow to the node XState resolved, labelled EVENT [guard]', () => {
    const transitions = transitionsOf(machine).filter((t) => t.targets.length > 0);
    expect(transitions.length).toBeGreaterThan(0);
    for (const t of transitions) {
      for (const target of t.targets) {
        const key = `${idOf(t.source)} -> ${idOf(target)}`;
        expect(doc.edges.has(key), `no arrow ${key} for ${t.event}`).toBe(true);
        const guard = t.guard === undefined ? '( \\[else\\])?' : ` \\[${t.guard === null ? '.+' : escapeRegExp(t.guard)}\\]`;
        const wanted = new RegExp(`^${escapeRegExp(t.event)}${guard}$`);
        expect(doc.edges.get(key)!.some((label) => wanted.test(label)), `${key}: ${doc.edges.get(key)!.join(' | ')} lacks ${wanted}`).toBe(true);
      }
    }
  });

  it('lists targetless transitions as notes on their state, not as arrows', () => {
    for (const t of transitionsOf(machine).filter((x) => x.targets.length === 0)) {
      const id = idOf(t.source);
      expect(doc.notes.get(id)?.some((note) => note.startsWith(t.event)), `note on ${id} for ${t.event}`).toBe(true);
    }
  });

  it('mentions every event the machine reacts to, delays as `after <delay>`', () => {
    for (const node of [machine.root, ...statesOf(machine)]) {
      for (const event of configuredEvents(node)) expect(text, `${node.id}: ${event}`).toContain(event);
    }
    expect(text).not.toMatch(/xstate\.(after|done|error)/);
  });
});

describe('toMermaid specifics', () => {
  it('labels the connection machine readably', () => {
    const text = toMermaid();
    expect(text).toMatch(/^ {2}\[\*\] --> idle$/m);
    expect(text).toContain('state "attempt (invoke socket)" as attempt');
    expect(text).toMatch(/state "open «OPEN[^"]*" as attempt_open/);
    expect(text).toContain('SOCKET.CLOSE [closeIsFatal]');
    expect(text).toMatch(/^ {2}attempt --> closed : .*SOCKET\.CLOSE \[closeIsFatal\]/m);
    expect(text).toMatch(/^ {2}attempt --> attempt : .*RECONNECT/m); // re-entering self-transition kept
    expect(text).toMatch(/note right of attempt : .*SOCKET\.ERROR \/ recordError, announceError/);
  });

  it('handles parallel regions, finals, numeric delays, done events, higher-order guards and awkward keys', () => {
    const text = toMermaid(fixture);
    expect(text).toMatch(/^ {2}\[\*\] --> fixture$/m); // root-level transitions: the root becomes a box
    expect(text).toContain('state "a-b" as a_b\n');
    expect(text).toContain('state "a_b" as a_b_2\n');
    expect(text).toContain('state "state" as state_2\n');
    expect(text).toContain('state "end «OVER»" as end_2\n');
    expect(text).toContain('fixture --> a_b : RESET');
    expect(text).toContain('a_b_2 --> state_2 : after 500ms');
    expect(text).toContain('state_2 --> end_2 : done');
    expect(text).toContain('state_right_z --> state_right_done : always [and(ok, not(ready))]');
    expect(text).toContain('    state_left_y --> [*]\n'); // final states end their region
    expect(text).toContain('    end_2 --> [*]\n');
    expect(text).toContain('note right of a_b : PING / noop');
    expect(parseMermaid(text).dividers).toBe(1);
  });

  it('the structural check itself catches broken diagrams', () => {
    const ok = 'stateDiagram-v2\n  state "a" as a\n  state a {\n    [*] --> a_b\n    state "b" as a_b\n  }\n  a --> a_b : GO\n';
    expect(parseMermaid(ok).problems).toEqual([]);
    expect(parseMermaid(ok.replace('  }\n', '')).problems).toContain('unclosed blocks: a');
    expect(parseMermaid(ok.replace('a --> a_b', 'a --> nowhere')).problems).toEqual(['line 7: nowhere used but never declared']);
    expect(parseMermaid(ok.replace(': GO', ': GO: now')).problems).toHaveLength(1);
    expect(parseMermaid(ok.replace('  }\n  a --> a_b : GO', '    a --> a_b : GO\n  }')).problems).toEqual(['line 6: arrow inside block a']);
  });
});

describe.each([
  ['connectionMachine', connectionMachine as AnyStateMachine],
  ['fixture machine', fixture as AnyStateMachine],
])('toDot(%s)', (name, machine) => {
  const text = name === 'connectionMachine' ? toDot() : toDot(machine);
  const doc = parseDot(text);
  const clusterOf = (node: AnyStateNode): string => `cluster:${dotId(node)}`;

  it('is well-formed DOT: balanced, every edge between declared nodes, lhead/ltail on clusters that fit', () => {
    expect(doc.problems).toEqual([]);
  });

  it('has every state: a cluster for compound ones, a node otherwise, nested like the machine', () => {
    for (const node of statesOf(machine)) {
      const parent = node.parent === machine.root ? (doc.clusters.has(`cluster:${machine.id}`) ? `cluster:${machine.id}` : null) : clusterOf(node.parent!);
      if (Object.keys(node.states).length > 0) {
        expect(doc.clusters.get(clusterOf(node)), `cluster for ${node.id}`).toBe(parent);
        for (const tag of node.tags) expect(doc.clusterLabels.get(clusterOf(node))).toContain(tag);
      } else {
        expect(doc.nodes.get(dotId(node)), `node for ${node.id}`).toBe(parent);
        for (const tag of node.tags) expect(doc.nodeLabels.get(dotId(node))).toContain(tag);
      }
    }
  });

  it('draws every transition with a target, into the right node or cluster', () => {
    const endpoint = (node: AnyStateNode): string =>
      node === machine.root ? '[*]' : Object.keys(node.states).length > 0 ? `${dotId(node)}:[*]` : dotId(node);
    for (const t of transitionsOf(machine)) {
      for (const target of t.targets) {
        const labels = doc.edges
          .filter((e) => e.from === endpoint(t.source) && e.to === endpoint(target))
          .flatMap((e) => e.label.split('\\n'));
        const wanted = typeof t.guard === 'string' ? `${t.event} [${t.guard}]` : t.event;
        expect(labels.some((l) => l.startsWith(wanted)), `${t.source.id} -> ${target.id}: [${labels.join(' | ')}] lacks ${wanted}`).toBe(true);
      }
    }
  });

  it('mentions every event the machine reacts to', () => {
    for (const node of [machine.root, ...statesOf(machine)]) {
      for (const event of configuredEvents(node)) expect(text, `${node.id}: ${event}`).toContain(event);
    }
  });

  it.skipIf(!hasGraphviz)('renders with Graphviz without a warning', () => {
    const result = spawnSync('dot', ['-Tsvg'], { input: text, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('<svg');
  });
});

describe('README', () => {
  it('shows the diagram the machine generates now', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf('<!-- diagram:start -->');
    const end = readme.indexOf('<!-- diagram:end -->');
    expect(start, 'README lacks <!-- diagram:start -->').toBeGreaterThan(-1);
    expect(end, 'README lacks <!-- diagram:end -->').toBeGreaterThan(start);
    const block = readme.slice(start + '<!-- diagram:start -->'.length, end);
    const fenced = block.match(/^\n```mermaid\n([\s\S]*)```\n$/)?.[1];
    expect(fenced, 'README diagram block is not a single ```mermaid fence; run `npm run diagram:readme`').toBeDefined();
    expect(fenced, 'README statechart is out of date with machines/connection.ts: run `npm run diagram:readme`').toBe(toMermaid());
  });
});
