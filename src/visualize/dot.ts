/**
 * The statechart as Graphviz DOT, generated from the machine definition: `socketchart diagram --format dot | dot -Tsvg`.
 *
 * Compound (and parallel) states are clusters. Graphviz can't point an edge at a cluster, so each cluster's initial
 * pseudo-state (the small dot; an invisible point for a parallel state) stands for it, and `compound=true` with `lhead`/`ltail` clips the edge at the cluster's
 * border. Labels follow the Mermaid diagram: `EVENT [guard]`, `after <delay>`, tags as `«TAG»`, invoked actors, and
 * targetless transitions listed inside their state instead of drawn as arrows.
 */
import type { AnyStateMachine } from 'xstate';
import { connectionMachine } from '../../machines/connection.js';
import { type StateInfo, describeMachine, edgesOf, internalTransitions, isWithin } from './model.js';

const INDENT = '  ';

/** Renders `machine` as a DOT `digraph` (ends with a newline). */
export function toDot(machine: AnyStateMachine = connectionMachine): string {
  const graph = describeMachine(machine);
  const internal = internalTransitions(graph);
  const edges = edgesOf(graph);
  const isCluster = (s: StateInfo): boolean => s.children.length > 0;
  const nodeId = (s: StateInfo): string => quote(s.path.length === 0 ? graph.id : s.path.join('.'));
  const anchorId = (s: StateInfo): string => quote(`${s.path.length === 0 ? '' : `${s.path.join('.')}:`}[*]`);
  const clusterId = (s: StateInfo): string => quote(`cluster:${s.path.length === 0 ? graph.id : s.path.join('.')}`);
  /** The node an edge touches to reach `s`: the state itself, or its cluster's initial dot. */
  const endpoint = (s: StateInfo): string => (isCluster(s) ? anchorId(s) : nodeId(s));

  const lines: string[] = [
    `digraph ${quote(graph.id)} {`,
    `${INDENT}compound=true;`,
    `${INDENT}fontname="Helvetica";`,
    `${INDENT}node [shape=box, style=rounded, fontname="Helvetica", fontsize=11];`,
    `${INDENT}edge [fontname="Helvetica", fontsize=9];`,
  ];

  const writeBody = (state: StateInfo, depth: number): void => {
    const pad = INDENT.repeat(depth);
    // A parallel state has no initial dot (it enters every region): its anchor is invisible.
    const look = state.type === 'parallel' ? 'style=invis, width=0.01' : 'width=0.12';
    lines.push(`${pad}${anchorId(state)} [shape=point, ${look}, label=""];`);
    for (const initial of state.initial) {
      const clip = headClip(state, initial);
      lines.push(`${pad}${anchorId(state)} -> ${endpoint(initial)}${clip === '' ? '' : ` [${clip.slice(2)}]`};`);
    }
    for (const child of state.children) writeState(child, depth);
  };

  const writeState = (state: StateInfo, depth: number): void => {
    const pad = INDENT.repeat(depth);
    const label = quote(stateLabel(state, internal.get(state) ?? []));
    if (isCluster(state)) {
      const style = state.type === 'parallel' ? 'rounded,dashed' : 'rounded';
      lines.push(`${pad}subgraph ${clusterId(state)} {`, `${pad}${INDENT}label=${label};`, `${pad}${INDENT}style="${style}";`);
      writeBody(state, depth + 1);
      lines.push(`${pad}}`);
      return;
    }
    const shape =
      state.type === 'final' ? ', peripheries=2' : state.type === 'history' ? ', shape=circle, style=solid' : '';
    lines.push(`${pad}${nodeId(state)} [label=${label}${shape}];`);
  };

  /** `lhead` so an edge into a cluster stops at its border (not when the edge starts inside that cluster). */
  const headClip = (source: StateInfo, target: StateInfo): string =>
    isCluster(target) && !isWithin(source, target) ? `, lhead=${clusterId(target)}` : '';
  const tailClip = (source: StateInfo, target: StateInfo): string =>
    isCluster(source) && !isWithin(target, source) ? `, ltail=${clusterId(source)}` : '';

  // The root is drawn as a cluster only when it has something of its own to show.
  const { root } = graph;
  const rootBoxed = root.tags.length > 0 || root.invokes.length > 0 || internal.has(root) ||
    edges.some((e) => e.source === root || e.target === root);
  if (rootBoxed) {
    writeState(graph.root, 1);
  } else {
    writeBody(graph.root, 1);
  }

  for (const edge of edges) {
    const { source, target } = edge;
    const attrs = `label=${quote(edge.labels.join('\n'))}${tailClip(source, target)}${headClip(source, target)}`;
    lines.push(`${INDENT}${endpoint(source)} -> ${endpoint(target)} [${attrs}];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

function stateLabel(state: StateInfo, internal: readonly string[]): string {
  const lines = [state.type === 'history' ? (state.node.history === 'deep' ? 'H*' : 'H') : state.key];
  if (state.tags.length > 0) lines.push(`«${state.tags.join(', ')}»`);
  if (state.invokes.length > 0) lines.push(`invoke ${state.invokes.join(', ')}`);
  lines.push(...internal);
  return lines.join('\n');
}

/** A DOT double-quoted string; `\n` inside becomes DOT's centred line break. */
function quote(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n')}"`;
}
