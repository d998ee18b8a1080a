/**
 * `socketchart/router`: handlers per message type (`conn.on(type, handler)`, `once`, `off`), keyed by a
 * discriminant field. Handlers run before `message` listeners.
 *
 *   import { router } from 'socketchart/router';
 *   const conn = createConnection(url, { codec: jsonCodec(), router: router() });
 *   conn.on('chat', (message) => ...);
 */
import { MessageRouter } from '../messages/router.js';
import { group, text } from '../validate.js';
import type { RouterPlugin } from './types.js';

export type { RouterPlugin } from './types.js';

export interface RouterOptions {
  /**
   * The discriminant field `on(type, handler)` routes by.
   * @default 'type'
   */
  typeField?: string;
}

export const ROUTER_DEFAULTS = Object.freeze({ typeField: 'type' });

/** The router plug-in for `createConnection(url, { router: router(options) })`. Checks `options` now. */
export function router(options: RouterOptions = {}): RouterPlugin {
  const o = group('router', options, ['typeField']);
  const field = text('router.typeField', o?.typeField, ROUTER_DEFAULTS.typeField);
  return { kind: 'router', typeField: field, create: () => new MessageRouter(field) };
}
