/**
 * Where a connection's chart actor lives: an actor system of its own (a standalone connection), or a child of a
 * pool's actor (one system, one `inspect` for all the pool's connections, and no system per connection).
 */
import { type Actor, type InspectionEvent, type Observer, createActor } from 'xstate';
import type { ConnectionInput, ConnectionMachine } from '../../machines/connection.js';
import type { ConnectionClock } from '../options.js';
import { hostedConnectionMachine } from './hostedChart.js';

/** The `inspect` option: a function or an observer. */
export type InspectOption = ((event: InspectionEvent) => void) | Partial<Observer<InspectionEvent>> | undefined;

/** Who hears a chart actor's own inspection events (its microsteps and commits): the connection's host. */
export interface ChartWatcher {
  chartInspected(event: InspectionEvent): void;
}

export interface ChartHome {
  /**
   * Creates (and may start) the chart actor of one connection; `watcher` hears that actor's own inspection events,
   * which the host turns into `statechange` events. `clock` and `inspect` are the connection's options (a pool
   * applies its own, once, to all its connections).
   */
  adopt(input: ConnectionInput, watcher: ChartWatcher, clock: ConnectionClock | undefined, inspect: InspectOption): Actor<ConnectionMachine>;
  /** Stops a chart actor whose connection failed (a pool's child cannot be stopped directly). */
  release(actor: Actor<ConnectionMachine>): void;
}

/** Passes an inspection event to the app's `inspect` option, whichever form it has. */
export function inspectWith(inspect: InspectOption, event: InspectionEvent): void {
  if (typeof inspect === 'function') inspect(event);
  else inspect?.next?.(event);
}

/**
 * A root actor with a system of its own, on the connection's clock, inspected by the app's `inspect`. One object
 * for every standalone connection: a connection holds nothing for it but one inspection closure.
 */
export const standaloneHome: ChartHome = {
  adopt(input, watcher, clock, inspect) {
    // Declared before createActor runs: XState inspects the actor's creation before it returns (a const would be
    // read in its temporal dead zone).
    let actor: Actor<ConnectionMachine> | undefined;
    // eslint-disable-next-line prefer-const
    actor = createActor(hostedConnectionMachine, {
      input,
      ...(clock ? { clock } : {}),
      inspect: (event: InspectionEvent) => {
        if (event.actorRef === actor) watcher.chartInspected(event);
        inspectWith(inspect, event);
      },
    });
    return actor;
  },
  release(actor) {
    actor.stop();
  },
};
