/**
 * Who holds the socket: the leader/follower chart of a shared connection (one actor per tab).
 *
 * The Web Lock is an invoked actor of `member`, so the tab stays in the lock's queue for as long as it is a member
 * and lets go of it (or of its place in the queue) the moment it leaves. The browser grants the lock in request
 * order and frees it within milliseconds of the holding page closing or crashing; nothing here ever steals it.
 * What the tab does in each state (open the socket, follow a leader, show the handover) is told to the shared
 * connection through emitted events, which XState delivers after the transition commits.
 */
import { assign, emit, fromCallback, setup } from 'xstate';

export interface LeaderContext {
  /** Lock and channel name. */
  name: string;
  /** This tab's id. */
  tab: string;
  /** Whether Web Locks and BroadcastChannel are usable here; without them the tab leads alone (`solo`). */
  shareable: boolean;
  /** The tab that leads, as far as this one knows (itself while leading). */
  leader: string | null;
  /** The leader's term (see protocol.ts). */
  epoch: number;
}

export type LeaderEvent =
  /** The lock was granted: this tab leads now. */
  | { type: 'LOCK.ACQUIRED' }
  /** The lock request failed for another reason than leaving: lead alone, visibly. */
  | { type: 'LOCK.FAILED'; error: unknown }
  /** Another tab says it leads, with its term. */
  | { type: 'LEADER.ANNOUNCED'; leader: string; epoch: number }
  /** The leader said it is leaving. */
  | { type: 'LEADER.LEFT'; leader: string }
  /** This tab's handle closed. */
  | { type: 'CLOSE' };

export type LeaderEmitted =
  /** Open the socket (this tab leads). */
  | { type: 'lead'; epoch: number }
  /** Close it: the tab stops leading. */
  | { type: 'resign' }
  /** Send through `leader` from now on. */
  | { type: 'follow'; leader: string; epoch: number }
  /** Nobody leads for now: show the connection as reconnecting. */
  | { type: 'lost' };

/**
 * Holds the Web Lock `name` for the actor's lifetime: queued until granted, released (or the request withdrawn)
 * when the actor stops.
 */
const lock = fromCallback<LeaderEvent, { name: string }>(({ input, sendBack }) => {
  const withdraw = new AbortController();
  let release: (() => void) | undefined;
  let stopped = false;
  navigator.locks
    .request(input.name, { signal: withdraw.signal }, () => {
      // A grant can race the stop: let go at once instead of holding a lock nobody uses.
      if (stopped) return undefined;
      sendBack({ type: 'LOCK.ACQUIRED' });
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    })
    .catch((error: unknown) => {
      if (!stopped) sendBack({ type: 'LOCK.FAILED', error });
    });
  return () => {
    stopped = true;
    withdraw.abort();
    release?.();
  };
});

export const leaderMachine = setup({
  types: {} as {
    context: LeaderContext;
    events: LeaderEvent;
    emitted: LeaderEmitted;
    input: { name: string; tab: string; shareable: boolean };
  },
  actors: { lock },
  guards: {
    shareable: ({ context }) => context.shareable,
    /** A later term than the one followed (a hello answer repeats the current one). */
    newerLeader: ({ context, event }) =>
      event.type === 'LEADER.ANNOUNCED' && (event.leader !== context.leader || event.epoch > context.epoch) && event.epoch >= context.epoch,
    fromLeader: ({ context, event }) => event.type === 'LEADER.LEFT' && event.leader === context.leader,
  },
  actions: {
    setLeader: assign(({ event }) => (event.type === 'LEADER.ANNOUNCED' ? { leader: event.leader, epoch: event.epoch } : {})),
    // Terms are times, so a tab that never saw its predecessor still starts a later one.
    takeLead: assign(({ context }) => ({ leader: context.tab, epoch: Math.max(Date.now(), context.epoch + 1) })),
    emitLead: emit(({ context }) => ({ type: 'lead' as const, epoch: context.epoch })),
    emitResign: emit({ type: 'resign' as const }),
    emitFollow: emit(({ context }) => ({ type: 'follow' as const, leader: context.leader as string, epoch: context.epoch })),
    emitLost: emit({ type: 'lost' as const }),
  },
}).createMachine({
  id: 'shared',
  initial: 'starting',
  context: ({ input }) => ({ name: input.name, tab: input.tab, shareable: input.shareable, leader: null, epoch: 0 }),
  states: {
    starting: {
      always: [{ guard: 'shareable', target: 'member' }, { target: 'solo' }],
    },
    member: {
      invoke: { id: 'lock', src: 'lock', input: ({ context }) => ({ name: context.name }) },
      initial: 'electing',
      on: {
        'LOCK.ACQUIRED': '.leading',
        'LOCK.FAILED': 'solo',
        CLOSE: 'closed',
      },
      states: {
        /** Waiting for the lock, or for a leader to say who it is (a hello may arrive before anyone leads). */
        electing: {
          on: { 'LEADER.ANNOUNCED': { target: 'following', actions: 'setLeader' } },
        },
        following: {
          entry: 'emitFollow',
          on: {
            // Re-entered so the backlog is sent again, addressed to the new leader.
            'LEADER.ANNOUNCED': { guard: 'newerLeader', target: 'following', reenter: true, actions: 'setLeader' },
            'LEADER.LEFT': { guard: 'fromLeader', target: 'handover' },
          },
        },
        /** The leader left and nobody has the lock yet (about 25 ms in Chromium): sends wait in the backlog. */
        handover: {
          entry: 'emitLost',
          on: { 'LEADER.ANNOUNCED': { guard: 'newerLeader', target: 'following', actions: 'setLeader' } },
        },
        leading: {
          entry: ['takeLead', 'emitLead'],
          exit: 'emitResign',
        },
      },
    },
    /** No Web Locks or BroadcastChannel here (or not a secure context): the tab has its own socket. */
    solo: {
      entry: ['takeLead', 'emitLead'],
      exit: 'emitResign',
      on: { CLOSE: 'closed' },
    },
    closed: { type: 'final' },
  },
});

export type LeaderMachine = typeof leaderMachine;
