/**
 * socketchart/delivery: acknowledged delivery for `createConnection(url, { delivery: atLeastOnce() })`.
 * The wire protocol is in PROTOCOL.md; `socketchart/server` speaks it for `ws` servers. Browser-safe.
 */
import { deliveryLayer } from '../outbound/layered.js';
import type { DeliveryPlugin } from '../outbound/types.js';
import { type AtLeastOnceOptions, atLeastOnce as atLeastOnceFactory } from './atLeastOnce.js';

export { AT_LEAST_ONCE_DEFAULTS, type AtLeastOnceOptions } from './atLeastOnce.js';
export { ACK_CLOSE_CODES, ACK_PROTOCOL } from './protocol.js';
export { NO_MESSAGE, type DeliveryFactory, type DeliveryHost, type DeliveryLayer } from './types.js';
export { deliveryLayer, type DeliveryPlugin };

/**
 * Acknowledged delivery (PROTOCOL.md, `socketchart.ack.v1`): every message gets a sequence number and is kept
 * until the server acknowledges it; after a reconnect the layer resumes the session and replays, in order,
 * everything not acknowledged. Inbound messages are deduplicated by sequence and acknowledged in batches. With
 * the `socketchart/server` helper on the other end, each message is processed once in each direction. Checks
 * `options` now.
 *
 * ```ts
 * createConnection(url, { delivery: atLeastOnce() })
 * ```
 */
export function atLeastOnce(options?: AtLeastOnceOptions): DeliveryPlugin {
  // The layer's adapter comes with it from this entry: apps without `delivery` never bundle it.
  return deliveryLayer(atLeastOnceFactory(options));
}
