/**
 * socketchart/delivery: acknowledged delivery for `createConnection(url, { delivery: atLeastOnce() })`.
 * The wire protocol is in PROTOCOL.md; `socketchart/server` speaks it for `ws` servers. Browser-safe.
 */
export { atLeastOnce, AT_LEAST_ONCE_DEFAULTS, type AtLeastOnceOptions } from './atLeastOnce.js';
export { ACK_CLOSE_CODES, ACK_PROTOCOL } from './protocol.js';
export { NO_MESSAGE, type DeliveryFactory, type DeliveryHost, type DeliveryLayer } from './types.js';
