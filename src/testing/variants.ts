/**
 * The policy variants the connection chart is walked under (paths.ts): each makes a different set of guards
 * reachable; replays pass a variant's options to the connection they build.
 */
import type { ConnectionOptions } from '../options.js';

/** The policy variants the chart is walked under: each makes a different set of guards reachable. */
export type PathVariantName = 'plain' | 'heartbeat' | 'auth' | 'strict' | 'noReconnect' | 'retryWait';

export interface PathVariant {
  name: PathVariantName;
  /** What the variant makes reachable. */
  summary: string;
  /**
   * Connection options the paths of this variant assume (`startClosed: true`: every path starts in `idle`). Pass
   * them to `createConnection` when replaying a path on a real connection; add your transport, clock and
   * environment. Timer lengths are chosen so that no two timers are ever due at the same instant.
   */
  options: ConnectionOptions;
}

const COMMON = {
  startClosed: true,
  random: () => 0.5,
  connectTimeout: 10_000,
  closeTimeout: 3_000,
  backoff: { initialDelay: 400, maxRetries: 2, resetAfter: 4_500 },
} satisfies ConnectionOptions;

/** Heartbeat every 2 s with a 1 s timeout: a probe can fail before the connection counts as stable (4.5 s). */
const HEARTBEAT = { mode: 'protocol', interval: 2_000, timeout: 1_000 } as const;

export const PATH_VARIANTS: Readonly<Record<PathVariantName, PathVariant>> = Object.freeze({
  plain: {
    name: 'plain',
    summary: 'no auth, no heartbeat, 2 retries: close-code classes, backoff, give-up, timeouts, network, close handshake',
    options: { ...COMMON, heartbeat: false },
  },
  heartbeat: {
    name: 'heartbeat',
    summary: 'protocol pings: probing, pongs, traffic during a probe, heartbeat timeouts (also before stable)',
    options: { ...COMMON, heartbeat: HEARTBEAT },
  },
  auth: {
    name: 'auth',
    summary: 'auth by message: authenticating, ack, refusal, auth timeout, token refresh once on close code 4001',
    options: { ...COMMON, heartbeat: false, auth: { token: () => 'token', timeout: 2_000, refreshCodes: [4001] } },
  },
  strict: {
    name: 'strict',
    summary: 'closeCodes { 1006: fatal }: a connect or heartbeat timeout ends the session',
    options: { ...COMMON, heartbeat: HEARTBEAT, closeCodes: { 1006: 'fatal' } },
  },
  retryWait: {
    name: 'retryWait',
    summary: 'a retryWait hook ends each backoff (the invoked retryWait actor resolves or fails), not the timer',
    // Replays put a hook of their own in its place, resolved or rejected at the step that needs it.
    options: { ...COMMON, heartbeat: false, retryWait: () => new Promise<void>(() => {}) },
  },
  noReconnect: {
    name: 'noReconnect',
    summary: 'shouldReconnect: () => false (plain WebSocket behaviour): every loss ends the session',
    options: { ...COMMON, heartbeat: HEARTBEAT, shouldReconnect: () => false },
  },
});

/** Close codes a server (or the network) ends a socket with, one per verdict class. */
export const CLOSE_CLASSES = Object.freeze({
  normal: { code: 1000, reason: 'bye', wasClean: true },
  abnormal: { code: 1006, reason: '', wasClean: false },
  tryLater: { code: 1013, reason: 'busy', wasClean: true },
  fatal: { code: 1002, reason: 'protocol error', wasClean: true },
  /** In the auth variant's `refreshCodes`: the token was rejected. */
  token: { code: 4001, reason: 'token expired', wasClean: true },
});

/** The user's `close()` in every path. */
export const USER_CLOSE = Object.freeze({ code: 4000, reason: 'done' });
