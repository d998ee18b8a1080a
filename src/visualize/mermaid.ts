/**
 * The statechart as a Mermaid `stateDiagram-v2`, generated from the machine definition.
 *
 * Choices, so the diagram stays readable and renders the same everywhere:
 * - Mermaid state ids are global (not scoped by composite), so every state gets a path-based id
 *   (`attempt_connecting_opening`) and its key as a label (`state "opening" as attempt_connecting_opening`).
 * - Tags (the readyState a state reports) and invoked actors are part of the label: `open «OPEN»`,
 *   `attempt (invoke socket)`.
 * - Transitions are labelled `EVENT [guard]`; delayed ones `after <delay>`; an unguarded transition tried after
 *   guarded ones for the same event is `EVENT [else]`. Transitions between the same two states share one arrow, one
 *   label line each (`<br/>`), so labels don't pile up. Arrows are all written at the top level,
 *   after every state is declared: Mermaid moves a state into whichever composite block mentions it, so an edge
 *   written inside a block would drag a state from elsewhere into it. Deep targets (`#connection.closed`) point at
 *   the node XState resolved.
 * - Self-transitions (`RECONNECT` re-entering `attempt`) are kept: they exit and re-enter, so they change something.
 * - Targetless transitions (only actions: `SOCKET.ERROR`, `after resetAfter`) are not arrows (an arrow would claim
 *   the state is left and re-entered); they are listed in a note on their state, UML's "internal transitions".
 */
import type { AnyStateMachine } from 'xstate';
import { connectionMachine } from '../../machines/connection.js';
import { type MachineGraph, type StateInfo, describeMachine, edgesOf, internalTransitions } from './model.js';

const INDENT = '  ';

/** Words Mermaid's state grammar reads as keywords when a line starts with them. */
const RESERVED = new Set(['state', 'note', 'class', 'classdef', 'style', 'scale', 'hide', 'direction', 'end', 'root']);

/** Renders `machine` as Mermaid `stateDiagram-v2` text (no fences, ends with a newline). */
export function toMermaid(machine: AnyStateMachine = connectionMachine): string {
  const graph = describeMachine(machine);
  const ids = mermaidIds(graph);
  const id = (state: StateInfo): string => ids.get(state) as string;
  const lines: string[] = ['stateDiagram-v2'];

  const internal = internalTransitions(graph);
  const edges = edgesOf(graph);

  // The root is drawn as a box only when it has something of its own to show.
  const rootBoxed = graph.root.tags.length > 0 || graph.root.invokes.length > 0 || internal.has(graph.root) ||
    edges.some((e) => e.source === graph.root || e.target === graph.root);

  const writeState = (state: StateInfo, depth: number): void => {
    const pad = INDENT.repeat(depth);
    lines.push(`${pad}state "${stateLabel(state)}" as ${id(state)}`);
    if (state.children.length > 0) {
      lines.push(`${pad}state ${id(state)} {`);
      writeBody(state, depth + 1);
      lines.push(`${pad}}`);
    }
    const notes = internal.get(state);
    if (notes !== undefined) lines.push(`${pad}note right of ${id(state)} : ${notes.map(edgeText).join('<br/>')}`);
  };

  const writeBody = (state: StateInfo, depth: number): void => {
    const pad = INDENT.repeat(depth);
    for (const initial of state.initial) lines.push(`${pad}[*] --> ${id(initial)}`);
    state.children.forEach((child, i) => {
      if (state.type === 'parallel' && i > 0) lines.push(`${pad}--`);
      writeState(child, depth);
    });
    for (const child of state.children) if (child.type === 'final') lines.push(`${pad}${id(child)} --> [*]`);
  };

  if (rootBoxed) {
    lines.push(`${INDENT}[*] --> ${id(graph.root)}`);
    writeState(graph.root, 1);
  } else {
    writeBody(graph.root, 1);
  }

  for (const edge of edges) {
    const label = edge.labels.map(edgeText).join('<br/>');
    lines.push(`${INDENT}${id(edge.source)} --> ${id(edge.target)} : ${label}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Unique, Mermaid-safe ids: the state path joined with `_`, suffixed if two paths collapse to the same text. */
function mermaidIds(graph: MachineGraph): Map<StateInfo, string> {
  const ids = new Map<StateInfo, string>();
  const used = new Set<string>();
  for (const state of [graph.root, ...graph.states]) {
    const base = (state.path.length === 0 ? graph.id : state.path.join('_')).replace(/[^A-Za-z0-9_]/g, '_') || 'state';
    let candidate = base;
    for (let n = 2; isTaken(candidate, used); n++) candidate = `${base}_${n}`;
    used.add(candidate.toLowerCase());
    ids.set(state, candidate);
  }
  return ids;
}

function isTaken(id: string, used: Set<string>): boolean {
  const lower = id.toLowerCase();
  // `default...` is a keyword prefix for Mermaid's lexer; `X_start`/`X_end` are the ids it gives composite X's [*].
  return used.has(lower) || RESERVED.has(lower) || lower.startsWith('default') || /_(start|end)$/.test(lower);
}

function stateLabel(state: StateInfo): string {
  let label = state.key;
  if (state.type === 'history') label = `${label} (${state.node.history === 'deep' ? 'deep ' : ''}history)`;
  if (state.tags.length > 0) label = `${label} «${state.tags.join(', ')}»`;
  if (state.invokes.length > 0) label = `${label} (invoke ${state.invokes.join(', ')})`;
  return label.replace(/"/g, "'").replace(/[\r\n]+/g, ' ');
}

/** Edge labels and one-line notes end at the first `:`, `;` or newline, and `%%` starts a comment. */
function edgeText(text: string): string {
  return text.replace(/[:;\r\n]+/g, ' ').replace(/%%/g, '%');
}
