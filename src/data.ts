import { SocketchartError, describe } from './errors.js';

/** What `send()` accepts, as `WebSocket.send` does. */
export type SendData = string | ArrayBufferLike | ArrayBufferView | Blob;

const hasBlob = typeof Blob !== 'undefined';

export function isSendData(data: unknown): data is SendData {
  return (
    typeof data === 'string' ||
    data instanceof ArrayBuffer ||
    ArrayBuffer.isView(data) ||
    (typeof SharedArrayBuffer !== 'undefined' && data instanceof SharedArrayBuffer) ||
    (hasBlob && data instanceof Blob)
  );
}

export function assertSendData(data: unknown): asserts data is SendData {
  if (!isSendData(data)) {
    throw new SocketchartError(
      'ERR_INVALID_DATA',
      `send() takes a string, ArrayBuffer, ArrayBufferView or Blob; got ${describe(data)}. ` +
        'Serialize objects first, e.g. send(JSON.stringify(value)).',
    );
  }
}

/** Bytes the data occupies on the wire (UTF-8 for strings), as `bufferedAmount` counts them. */
export function byteLengthOf(data: SendData): number {
  if (typeof data === 'string') return utf8Length(data);
  if (ArrayBuffer.isView(data)) return data.byteLength;
  if (hasBlob && data instanceof Blob) return data.size;
  return (data as ArrayBufferLike).byteLength;
}

/** UTF-8 length without allocating an encoded copy. Lone surrogates count as U+FFFD (3 bytes), as encoders write them. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}
