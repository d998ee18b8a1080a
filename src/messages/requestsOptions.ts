/**
 * The `requests` option group (`request()`): type, defaults and resolver, apart from the request code so that
 * resolving options does not pull it into every bundle.
 */
import { type Assert, type ListsAllKeys, delay, group, oneOf, text } from '../validate.js';

export interface RequestsOptions {
  /**
   * The correlation id field, set on each request (if absent) and matched on replies.
   * @default 'id'
   */
  idField?: string;
  /**
   * Ms to wait for a reply before rejecting with `ERR_REQUEST_TIMEOUT`.
   * @default 10000
   */
  timeout?: number;
  /**
   * Requests in flight when the socket is lost: sent again on the next open, or rejected with
   * `ERR_CONNECTION_LOST`. When the session ends (`closed`) they are always rejected.
   * @default 'resend'
   */
  onReconnect?: 'resend' | 'fail';
}

export type ResolvedRequests = Required<RequestsOptions>;

export const REQUESTS_DEFAULTS = Object.freeze({
  idField: 'id',
  timeout: 10_000,
  onReconnect: 'resend' as 'resend' | 'fail',
}) satisfies ResolvedRequests;

const KEYS = ['idField', 'timeout', 'onReconnect'] as const;
type _Keys = Assert<ListsAllKeys<RequestsOptions, typeof KEYS>>;

export function resolveRequests(requests: RequestsOptions | undefined): ResolvedRequests {
  const r = group('requests', requests, KEYS);
  const d = REQUESTS_DEFAULTS;
  if (r === undefined) return d;
  return {
    idField: text('requests.idField', r.idField, d.idField),
    timeout: delay('requests.timeout', r.timeout, d.timeout, true),
    onReconnect: oneOf('requests.onReconnect', r.onReconnect, d.onReconnect, ['resend', 'fail']),
  };
}
