/**
 * What `atLeastOnce()` says of each frame it skips because the server broke the protocol (PROTOCOL.md, "Errors and
 * close codes"): one sentence per kind, naming the frame, why it was skipped and where the protocol says so. The
 * layer reports each as the connection's `invalid-message` (ERR_INVALID_DATA).
 */
import { counted } from '../errors.js';
import { ACK_PROTOCOL, BINARY_HEADER_BYTES } from './protocol.js';

const NOT_CONFORMING = 'The server does not follow the protocol.';

export const skipped = {
  malformedText: () =>
    `A malformed ${ACK_PROTOCOL} text data frame from the server was skipped: after the welcome, text starting with a digit, '+', '-' or '.' is a data frame, and its prefix must be a sequence number 1..2^53-1 without sign or leading zeros, then ':' (PROTOCOL.md, "Messages"). ${NOT_CONFORMING}`,
  serverHello: () => `A ${ACK_PROTOCOL} hello frame from the server was skipped: only a client sends hello; a server answers it with welcome (PROTOCOL.md, "Handshake").`,
  malformedControl: (type: string) =>
    `A malformed ${ACK_PROTOCOL} ${type} frame from the server was skipped: ${type === 'ack' ? '"ack" must be a whole number >= 0' : '"sid" must be a session id, "resumed" a boolean, "ack" a whole number >= 0 and "next" a whole number >= 1'} (PROTOCOL.md). ${NOT_CONFORMING}`,
  notBinary: (isBlob: boolean) =>
    isBlob
      ? `A ${ACK_PROTOCOL} binary data frame from the server arrived as a Blob, which the layer cannot read synchronously; it was skipped. The transport must honour the binaryType the connection asks for ('arraybuffer' or 'nodebuffer').`
      : `A frame from the server that is neither text nor binary was skipped: ${ACK_PROTOCOL} frames are strings, ArrayBuffers or typed arrays. Check the transport.`,
  malformedBinary: (bytes: number) =>
    `A malformed ${ACK_PROTOCOL} binary data frame from the server was skipped: ${bytes < BINARY_HEADER_BYTES ? `it has ${counted(bytes, 'byte')}, fewer than` : 'its sequence number is 0 or above 2^53-1 in'} the 8-byte big-endian header every binary data frame starts with (PROTOCOL.md, "Messages"). ${NOT_CONFORMING}`,
  gap: (text: boolean, seq: number, next: number) =>
    `A ${ACK_PROTOCOL} ${text ? 'text' : 'binary'} data frame from the server was skipped: it is numbered ${seq}, and ${next} is the next expected (a sequence gap, which a conforming server never sends; PROTOCOL.md, "Receiving data"). Nothing is delivered out of order: the server replays from ${next} when the session resumes.`,
  otherSession: () =>
    `A ${ACK_PROTOCOL} welcome frame from the server was skipped: its sid is not this session's (a welcome echoes the sid of the client's hello; PROTOCOL.md, "Handshake"). Frames after it stay unsequenced until a welcome for this session.`,
  secondWelcome: () => `A second ${ACK_PROTOCOL} welcome frame on one socket from the server was skipped: a server answers a hello once, and the first welcome stands (PROTOCOL.md, "Handshake").`,
  ackBeyond: (kind: 'ack' | 'welcome', ack: number, highest: number) =>
    `A ${ACK_PROTOCOL} ${kind} frame from the server acknowledged up to seq ${ack}, beyond the last message written in this session (${highest}); its ack was skipped${kind === 'welcome' ? ' (the rest of the welcome stands)' : ''}, so every message not acknowledged stays held and is sent again (PROTOCOL.md, "Acknowledgements").`,
};
