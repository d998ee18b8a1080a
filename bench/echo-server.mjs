/* global setTimeout */
// Loopback echo server for the benchmark. Runs in its own process so its CPU is never counted against a client.
// Plain .mjs (no TypeScript loader) to keep the process lean. Reports its port to the parent over IPC and exits when
// the parent disconnects or sends { type: 'stop' }.
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, backlog: 2048 });

wss.on('connection', (socket) => {
  socket.on('error', () => {});
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
});

wss.on('listening', () => {
  const address = wss.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.send?.({ type: 'listening', port });
});

function stop() {
  for (const socket of wss.clients) socket.terminate();
  wss.close(() => process.exit(0));
  // Never linger: the parent waits for this process to exit.
  setTimeout(() => process.exit(0), 1000).unref();
}

process.on('message', (message) => {
  if (message && message.type === 'stop') stop();
});
process.on('disconnect', stop);
