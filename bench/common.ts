/**
 * Shared pieces of the benchmark: the client kinds, the IPC message shapes between `run.ts` and its children, and
 * the 64-byte payload.
 */

/** `ws`: a bare `ws` client. `socketchart`: `createConnection` from `src/node.ts`. */
export type ClientKind = 'ws' | 'socketchart';
export const CLIENT_KINDS: readonly ClientKind[] = ['ws', 'socketchart'];

/**
 * Heap-only kinds, used to split socketchart's per-connection heap into its parts:
 * `socketchart-nosocket` is a whole `Connection` over a transport whose sockets are plain objects (no `ws`),
 * `actor` is a bare `createActor(connectionMachine)` started and driven to `open` with a stub host.
 */
export type HeapKind = ClientKind | 'socketchart-nosocket' | 'actor';

/** 64 bytes of ASCII: one text frame with a 64-byte payload. */
export const PAYLOAD = 'socketchart-bench-payload-0123456789abcdefghijklmnopqrstuvwxyz!?'.slice(0, 64);
if (PAYLOAD.length !== 64) throw new Error('payload must be 64 bytes');

/** parent -> CPU child */
export type CpuCommand = { type: 'run'; messages: number; window: number } | { type: 'stop' };

/** CPU child -> parent */
export type CpuReply =
  | { type: 'ready' }
  | { type: 'result'; messages: number; window: number; userUs: number; systemUs: number; wallMs: number }
  | { type: 'stopped' }
  | { type: 'error'; message: string };

/** heap child -> parent */
export type HeapReply =
  | {
      type: 'result';
      kind: HeapKind;
      connections: number;
      heapBefore: number;
      heapAfter: number;
      externalBefore: number;
      externalAfter: number;
      openMs: number;
    }
  | { type: 'error'; message: string };

export function send(message: CpuReply | HeapReply): void {
  process.send?.(message);
}

/** Resolves after `ms`, without keeping the process alive on its own. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
