import { invalidOption } from '../errors.js';

/**
 * Where the connection learns that the network went away or the page came back. Injected, so tests drive it and
 * Node (which has neither signal) gets a source that never fires.
 */
export interface EnvironmentListener {
  online(): void;
  offline(): void;
  /** The page became visible again: a good moment to retry now instead of waiting out a long backoff. */
  visible(): void;
}

export interface EnvironmentSource {
  isOnline(): boolean;
  /** Start reporting; returns the function that stops it. */
  subscribe(listener: EnvironmentListener): () => void;
}

/** Node and other hosts without online/visibility signals: always online, never reports. */
export const staticEnvironment: EnvironmentSource = Object.freeze({
  isOnline: () => true,
  subscribe: () => noop,
});

function noop(): void {}

interface BrowserGlobals {
  navigator?: { onLine?: boolean };
  addEventListener?: (type: string, listener: () => void) => void;
  removeEventListener?: (type: string, listener: () => void) => void;
  document?: {
    visibilityState?: string;
    addEventListener(type: string, listener: () => void): void;
    removeEventListener(type: string, listener: () => void): void;
  };
}

const isObject = (value: unknown): value is object => typeof value === 'object' && value !== null;
const isFunction = (value: unknown): boolean => typeof value === 'function';

/** The host's globals, or a stand-in with the same shape: checked before any listener is added. */
function checkGlobals(globals: unknown): void {
  if (!isObject(globals) && !isFunction(globals)) {
    throw invalidOption('browserEnvironment(globals)', 'the global object (globalThis) or a stand-in { navigator?, addEventListener?, removeEventListener?, document? }', globals);
  }
  const g = globals as Record<string, unknown>;
  if (g.navigator != null && !isObject(g.navigator)) throw invalidOption('globals.navigator', 'an object with `onLine`', g.navigator);
  for (const name of ['addEventListener', 'removeEventListener'] as const) {
    if (g[name] != null && !isFunction(g[name])) throw invalidOption(`globals.${name}`, 'a function', g[name]);
  }
  const doc = g.document as Record<string, unknown> | null | undefined;
  if (doc != null && !(isObject(doc) && isFunction(doc.addEventListener) && isFunction(doc.removeEventListener))) {
    throw invalidOption('globals.document', 'a document with addEventListener and removeEventListener', doc);
  }
}

/** `navigator.onLine` with `online`/`offline` window events, and `visibilitychange` on the document. */
export function browserEnvironment(globals: BrowserGlobals = globalThis as BrowserGlobals): EnvironmentSource {
  checkGlobals(globals);
  return {
    isOnline: () => globals.navigator?.onLine !== false,
    subscribe(listener) {
      const online = () => listener.online();
      const offline = () => listener.offline();
      const visibility = () => {
        if (globals.document?.visibilityState === 'visible') listener.visible();
      };
      globals.addEventListener?.('online', online);
      globals.addEventListener?.('offline', offline);
      globals.document?.addEventListener('visibilitychange', visibility);
      return () => {
        globals.removeEventListener?.('online', online);
        globals.removeEventListener?.('offline', offline);
        globals.document?.removeEventListener('visibilitychange', visibility);
      };
    },
  };
}

/** The browser source where the host has `window` events, the static one elsewhere. */
export function defaultEnvironment(): EnvironmentSource {
  const globals = globalThis as BrowserGlobals;
  return typeof globals.addEventListener === 'function' && globals.navigator !== undefined
    ? browserEnvironment(globals)
    : staticEnvironment;
}

/** A source you flip by hand, for tests and for apps with their own reachability signal. */
export function createManualEnvironment(initiallyOnline = true) {
  if (typeof initiallyOnline !== 'boolean') throw invalidOption('createManualEnvironment(initiallyOnline)', 'true or false', initiallyOnline);
  let online = initiallyOnline;
  const listeners = new Set<EnvironmentListener>();
  const source: EnvironmentSource = {
    isOnline: () => online,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return {
    source,
    setOnline(next: boolean) {
      if (typeof next !== 'boolean') throw invalidOption('setOnline(online)', 'true or false', next);
      if (next === online) return;
      online = next;
      for (const listener of [...listeners]) {
        if (next) listener.online();
        else listener.offline();
      }
    },
    becameVisible() {
      for (const listener of [...listeners]) listener.visible();
    },
  };
}
