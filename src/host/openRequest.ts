import { SocketchartError } from '../errors.js';
import type { ConnectionOptions, PerAttempt, ResolvedAuth } from '../options.js';
import type { BinaryType, OpenRequest } from '../transports/types.js';
import { parseProtocols, parseSocketUrl } from '../url.js';

/** What the request needs of the connection at the moment it is made. */
export interface OpenRequestHost {
  /** Subprotocols the delivery layer needs offered. */
  readonly deliveryProtocols: readonly string[];
  /** The binaryType sockets are opened with. */
  wireBinaryType(): BinaryType;
  /** Authentication, when configured (it says where the token goes). */
  readonly authOptions: ResolvedAuth | null;
  /** Keeps this attempt's token for the auth message (mode `message`); never put in the chart. */
  holdToken(token: string): void;
}

/**
 * What each attempt opens: the URL, subprotocols and headers (each a value or a provider called per attempt) and
 * where the auth token goes (query, header, or the auth message). `url` is what `conn.url` shows: never a token.
 */
export class OpenRequestSource {
  readonly #url: PerAttempt<string | URL>;
  readonly #protocols: PerAttempt<string | string[]>;
  readonly #headers: PerAttempt<Record<string, string>> | undefined;
  /** The URL as the app sees it (`conn.url`). */
  url = '';

  constructor(url: PerAttempt<string | URL>, options: ConnectionOptions) {
    this.#url = typeof url === 'function' ? url : parseSocketUrl(url);
    if (typeof url !== 'function') this.url = this.#url as string;
    this.#protocols = typeof options.protocols === 'function' ? options.protocols : parseProtocols(options.protocols ?? []);
    this.#headers = options.headers;
  }

  request(host: OpenRequestHost): OpenRequest | Promise<OpenRequest> {
    const url = this.#url;
    const protocols = this.#protocols;
    const headers = this.#headers;
    const auth = host.authOptions;
    if (typeof url !== 'function' && typeof protocols !== 'function' && typeof headers !== 'function' && auth === null) {
      return this.#request(host, url as string, protocols, headers, null);
    }
    // Providers run from a microtask, never inside createConnection()/reconnect(): one that throws at once must
    // fail the attempt after the caller had the chance to attach listeners (as WHATWG fires nothing from the
    // constructor).
    return Promise.resolve().then(() => Promise.all([
      typeof url === 'function' ? url() : url,
      typeof protocols === 'function' ? protocols() : protocols,
      typeof headers === 'function' ? headers() : headers,
      auth ? auth.token() : null,
    ])).then(([u, p, h, token]) => this.#request(host, parseSocketUrl(u), parseProtocols(p), h, token));
  }

  #request(
    host: OpenRequestHost,
    url: string,
    protocols: string | string[],
    headers: Record<string, string> | undefined,
    token: string | null,
  ): OpenRequest {
    const auth = host.authOptions;
    this.url = url;
    if (auth && token !== null) {
      if (typeof token !== 'string') {
        throw new SocketchartError('ERR_INVALID_OPTION', 'auth.token() must give a string (or a promise of one).');
      }
      if (auth.mode === 'query') {
        const withToken = new URL(url);
        withToken.searchParams.set(auth.queryParam, token);
        url = withToken.href;
        withToken.searchParams.set(auth.queryParam, 'REDACTED');
        this.url = withToken.href; // what `conn.url` shows: never the token
      } else if (auth.mode === 'header') {
        headers = { ...headers, [auth.header]: `Bearer ${token}` };
      } else if (auth.mode === 'message') {
        host.holdToken(token);
      }
    }
    const offered = typeof protocols === 'string' ? [protocols] : protocols;
    const extra = host.deliveryProtocols;
    const request: OpenRequest = {
      url,
      protocols: extra.length > 0 ? [...offered, ...extra.filter((p) => !offered.includes(p))] : offered,
      binaryType: host.wireBinaryType(),
    };
    if (headers) request.headers = headers;
    return request;
  }
}
