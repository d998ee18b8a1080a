/**
 * One server node for the failover test: a ws server on a free port with attachAckServer on the shared Redis store.
 * Every onMessage call is logged to Redis (`<prefix>calls`, "key|pid", outside the transaction), and the message
 * itself is committed with its mark (`<prefix>processed`), so the parent can tell processing from recording.
 * With ASYNC=1 onMessage is async (it awaits that log write, then commits). The parent kills it with SIGKILL.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createClient } from 'redis';
import { WebSocketServer } from 'ws';
import { attachAckServer } from '../../src/server/index.js';
import { redisSessionStore } from '../../src/server/redis.js';

const url = process.env.REDIS_URL!;
const prefix = process.env.PREFIX!;
const client = createClient({ url, disableOfflineQueue: true });
client.on('error', () => {});
await client.connect();
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
await once(wss, 'listening');
const server = attachAckServer(wss, {
  store: redisSessionStore({ client, prefix }),
  // ASYNC=1: onMessage awaits Redis before it commits, so a kill -9 can land while a handler runs (the mark is
  // sent only once its promise settles) and the session's next message waits for it.
  onMessage:
    process.env.ASYNC === '1'
      ? async (_session, payload, message) => {
          await client.rPush(`${prefix}calls`, `${message.key}|${process.pid}`);
          message.commit(['RPUSH', `${prefix}processed`, String(payload)]);
        }
      : (_session, payload, message) => {
          void client.rPush(`${prefix}calls`, `${message.key}|${process.pid}`).catch(() => {});
          message.commit(['RPUSH', `${prefix}processed`, String(payload)]);
        },
  onError: () => {},
});
await server.ready();
process.send!({ port: (wss.address() as AddressInfo).port });
