import type { InspectionEvent } from 'xstate';
import { chartStates, chartTransitions, stateIdsOf, transitionKeys } from '../../../src/testing/paths.js';

/**
 * Transitions no event can take, whatever the policy, each with its proof. The coverage test checks they stay
 * untaken. Empty now: the token-rejection branches used to be shared with the chart's timeouts, where they could
 * never hold; they now hang off `SOCKET.CLOSE` alone.
 */
export const UNREACHABLE: Readonly<Record<string, string>> = Object.freeze({});

/** What the real connections' actors did, from their inspection events: every transition taken, every state entered. */
export class Coverage {
  readonly transitions = new Map<string, number>();
  readonly states = new Set<string>();

  /** An `inspect` option for `createConnection`. */
  readonly inspect = (event: InspectionEvent): void => {
    // Microsteps carry the transitions taken (and pass through transient states); snapshots include the initial one.
    if (event.type !== '@xstate.microstep' && event.type !== '@xstate.snapshot') return;
    if (!('_nodes' in (event.snapshot as object))) return; // the socket actor's snapshots
    if (event.type === '@xstate.microstep') {
      for (const key of transitionKeys(event._transitions)) this.transitions.set(key, (this.transitions.get(key) ?? 0) + 1);
    }
    for (const id of stateIdsOf(event.snapshot as unknown as Parameters<typeof stateIdsOf>[0])) this.states.add(id);
  };

  report(): { states: string; transitions: string; missingStates: string[]; missingTransitions: string[]; takenUnreachable: string[] } {
    const allStates = chartStates();
    const allTransitions = chartTransitions().map((t) => t.key);
    const reachable = allTransitions.filter((key) => !(key in UNREACHABLE));
    const coveredReachable = reachable.filter((key) => this.transitions.has(key));
    return {
      states: `${allStates.filter((s) => this.states.has(s)).length}/${allStates.length}`,
      transitions: `${coveredReachable.length}/${reachable.length} reachable (${allTransitions.length} in the chart, ${allTransitions.length - reachable.length} unreachable by construction)`,
      missingStates: allStates.filter((s) => !this.states.has(s)),
      missingTransitions: reachable.filter((key) => !this.transitions.has(key)),
      takenUnreachable: Object.keys(UNREACHABLE).filter((key) => this.transitions.has(key)),
    };
  }
}
