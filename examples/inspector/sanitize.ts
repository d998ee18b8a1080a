import type { MachineContext } from 'xstate';

/**
 * The chart's context carries `host`: the connection's runtime (sockets, queue, listeners, the actor itself). It says
 * nothing an inspector can show and is large to serialize, so leave it out of what is sent:
 * `createBrowserInspector({ sanitizeContext: withoutHost })`. Child actors (the invoked socket) have no context.
 */
export function withoutHost(context: MachineContext | undefined): MachineContext {
  if (typeof context !== 'object' || context === null || !('host' in context)) return context as MachineContext;
  const { host: _host, ...rest } = context;
  return rest;
}
