import { SocketchartError, describe, invalidOption } from './errors.js';

/**
 * Parses a WebSocket URL as the WHATWG WebSocket constructor does: ws/wss (http/https are mapped onto them),
 * relative URLs resolved against the page, no fragment. Throws `ERR_INVALID_URL` with the fix in the message.
 */
export function parseSocketUrl(input: unknown): string {
  if (typeof input !== 'string' && !(input instanceof URL)) {
    throw new SocketchartError(
      'ERR_INVALID_URL',
      `The URL must be a string, a URL, or a function returning one; got ${describe(input)}.`,
    );
  }
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  let url: URL;
  try {
    url = new URL(String(input), base);
  } catch {
    throw new SocketchartError('ERR_INVALID_URL', `${describe(String(input))} is not a valid URL; use an absolute URL such as "wss://example.com/socket".`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new SocketchartError(
      'ERR_INVALID_URL',
      `The URL scheme must be "ws:" or "wss:" (or http/https); got "${url.protocol}" in ${describe(String(input))}.`,
    );
  }
  if (url.hash !== '') {
    throw new SocketchartError('ERR_INVALID_URL', `A WebSocket URL cannot have a fragment; remove "${url.hash}" from ${describe(String(input))}.`);
  }
  return url.href;
}

// RFC 7230 token: the characters a subprotocol name may use.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Normalizes and checks subprotocols as the WHATWG constructor does (tokens, no duplicates). */
export function parseProtocols(input: unknown): string[] {
  const list = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(list) || list.some((p) => typeof p !== 'string')) {
    throw invalidOption('protocols', 'a string or an array of strings', input);
  }
  const seen = new Set<string>();
  for (const protocol of list as string[]) {
    if (!TOKEN.test(protocol)) {
      throw invalidOption('protocols', 'subprotocol names made of token characters (letters, digits, !#$%&\'*+-.^_`|~)', protocol);
    }
    const key = protocol.toLowerCase();
    if (seen.has(key)) throw invalidOption('protocols', 'a list without duplicates', list);
    seen.add(key);
  }
  return list as string[];
}
