/**
 * `socketchart --chaos`: faults injected into the embedded echo server at random intervals, so the user watches
 * the statechart heal. Each fault is announced through `log` before it happens.
 */

export const FAULTS = ['drop', 'refuse', 'restart', 'blackhole'] as const;
export type FaultName = (typeof FAULTS)[number];

/** The part of `TestServer` chaos drives; `blackhole` is used when the server has it. */
export interface ChaosTarget {
  dropAll(): void;
  refuseNext(status: number, count?: number): void;
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Swallow all traffic while on (newer `TestServer`s). */
  blackhole?(on?: boolean): void;
}

export interface ChaosOptions {
  /** Mean ms from the connection being open (again) to the next fault; each wait is uniform in [0.5, 1.5] times this. */
  interval: number;
  /** One line per fault (no newline). */
  log: (line: string) => void;
  /** Whether the connection is open now. */
  isOpen: () => boolean;
  /** Resolves at the connection's next open (never at once): after a fault, the next one waits for it. */
  nextOpen: () => Promise<void>;
  /** Resolves when the current socket is next lost or closed (never at once): ends a blackhole. */
  nextClose: () => Promise<void>;
  /**
   * The faults to choose from; those the server cannot do are left out.
   * @default all of them
   */
  faults?: readonly FaultName[];
  /** @default Math.random */
  random?: () => number;
  /**
   * Inject each fault once, in the order of `FAULTS`, then stop: the demo's finite form, for runs without a terminal
   * (a CI job, `npm start < /dev/null`) that must see every fault heal and then end.
   * @default false (random faults until `stop()`)
   */
  tour?: boolean;
}

export interface Chaos {
  /** The faults this server supports, in the order they are described. */
  readonly faults: readonly FaultName[];
  /** Stop injecting; resolves once a fault in progress (a restart) is over and the server is listening again. */
  stop(): Promise<void>;
  /** With `tour`: resolves once every fault was injected and the connection opened again after the last. */
  readonly finished: Promise<void>;
}

/** The faults `server` can suffer: blackhole only when the test server implements it. */
export function faultsOf(server: ChaosTarget): FaultName[] {
  const faults: FaultName[] = ['drop', 'refuse', 'restart'];
  if (typeof server.blackhole === 'function') faults.push('blackhole');
  return faults;
}

/** The longest a blackhole lasts when no heartbeat notices it. */
const BLACKHOLE_MAX = 8000;

export function startChaos(server: ChaosTarget, options: ChaosOptions): Chaos {
  const random = options.random ?? Math.random;
  const faults = faultsOf(server).filter((fault) => options.faults?.includes(fault) ?? true);
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  // Outages last a fraction of the interval (at most 3 s), so the chart is seen healing before the next fault.
  const outage = () => Math.round(Math.min(3000, options.interval * 0.6) * (0.5 + random()));
  // Waits inside a fault. Each ends its timer however it ends, and `stop()` ends them all, so quitting never waits
  // for an outage (and no stray timer keeps the process alive).
  const waits = new Set<() => void>();
  const sleep = (ms: number, until?: Promise<void>) =>
    new Promise<void>((resolve) => {
      const end = () => {
        clearTimeout(t);
        waits.delete(end);
        resolve();
      };
      const t = setTimeout(end, ms);
      waits.add(end);
      void until?.then(end);
    });

  async function inject(fault: FaultName): Promise<void> {
    switch (fault) {
      case 'drop':
        options.log('chaos: drop - the server kills every connection without a close frame (code 1006)');
        server.dropAll();
        return;
      case 'refuse': {
        const count = 1 + Math.floor(random() * 2);
        options.log(`chaos: refused handshake - the server drops the connection and answers the next ${count} handshake(s) with HTTP 503`);
        server.refuseNext(503, count);
        server.dropAll();
        return;
      }
      case 'restart': {
        const down = outage();
        options.log(`chaos: server restart - the server stops listening for ${down} ms`);
        await server.stop();
        await sleep(down);
        await server.restart();
        options.log('chaos: server restarted - listening again');
        return;
      }
      case 'blackhole': {
        const started = Date.now();
        options.log('chaos: blackhole - the server swallows every byte but keeps the TCP connection up: only the heartbeat can tell');
        server.blackhole?.(true);
        // Until the heartbeat gives the connection up (or, with no heartbeat, for a while): new connections
        // would be swallowed as well, so the reconnect must come after it.
        await sleep(BLACKHOLE_MAX, options.nextClose());
        server.blackhole?.(false);
        options.log(`chaos: blackhole over after ${Date.now() - started} ms - traffic flows again`);
        return;
      }
    }
  }

  // One fault at a time, each some time after the connection has healed from the last one.
  let wake: (() => void) | undefined;
  const interruptible = (promise: Promise<void>) => Promise.race([promise, new Promise<void>((resolve) => (wake = resolve))]);
  let injected = 0;
  const nextFault = (): FaultName | undefined => {
    if (options.tour) return faults[injected];
    return faults[Math.floor(random() * faults.length)] ?? 'drop';
  };
  async function loop(): Promise<void> {
    while (!stopped) {
      if (!options.isOpen()) await interruptible(options.nextOpen());
      if (stopped) return;
      const fault = nextFault();
      if (fault === undefined) return;
      await sleep(Math.round(options.interval * (0.5 + random())));
      if (stopped) return;
      if (!options.isOpen()) continue;
      injected++;
      const reopened = options.nextOpen();
      running = inject(fault).catch((error: unknown) => {
        options.log(`chaos: ${fault} failed: ${error instanceof Error ? error.message : String(error)}`);
      });
      await running;
      if (stopped) return;
      // Wait for the reconnect (a blackhole the heartbeat did not notice in time causes none: give up waiting).
      await sleep(Math.max(10_000, options.interval * 4), reopened);
    }
  }

  const finished = faults.length > 0 ? loop() : Promise.resolve();
  return {
    faults,
    // A random run never finishes by itself; a tour when its last fault has healed (or stop() ended it).
    finished: options.tour ? finished : new Promise<void>(() => undefined),
    async stop() {
      stopped = true;
      wake?.();
      for (const end of [...waits]) end();
      await running;
    },
  };
}
