/** Diagrams of the connection statechart, generated from the machine definition itself. */
export { toMermaid } from './mermaid.js';
export { toDot } from './dot.js';
export {
  type Edge,
  type MachineGraph,
  type StateInfo,
  type TransitionInfo,
  describeMachine,
  edgesOf,
  internalTransitions,
  transitionLabel,
} from './model.js';
