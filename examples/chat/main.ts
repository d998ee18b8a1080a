/**
 * Chat: the API reference's `ChatWebSocket`, on socketchart.
 *
 * What the hand-rolled class does by hand (and partly misses) is configuration here:
 * - the join goes out on *every* open (`onEveryOpen`), so a reconnect rejoins the room by itself;
 * - `on(type, handler)` is the message switch, typed: `m.text` exists on a `chat` message only;
 * - a message sent while the connection is down is queued and delivered after the rejoin, not dropped.
 *
 * Run: npx tsx examples/chat/main.ts
 */
import { fileURLToPath } from 'node:url';
import { type Connection, type MessageOf, createConnection, jsonCodec } from '../../src/node.js'; // in an app: 'socketchart/node'
import { router } from '../../src/plugins/router.js'; // in an app: 'socketchart/router'
import { startChatServer } from './server.js';

export type ServerMessage =
  | { type: 'chat'; username: string; text: string; timestamp: number }
  | { type: 'typing'; username: string }
  | { type: 'user_joined'; username: string; timestamp: number }
  | { type: 'user_left'; username: string; timestamp: number };

export type ClientMessage =
  | { type: 'join'; username: string; timestamp: number }
  | { type: 'chat'; username: string; text: string; timestamp: number }
  | { type: 'typing'; username: string };

type ChatConnection = Connection<ServerMessage, ClientMessage>;

/** The whole client: a connection that joins on every open, and two senders. */
export function createChat(url: string, username: string) {
  const conn: ChatConnection = createConnection(url, { codec: jsonCodec(), router: router(), backoff: { initialDelay: 100 } });
  conn.onEveryOpen(() => conn.send({ type: 'join', username, timestamp: Date.now() }));
  return {
    conn,
    sendChat: (text: string) => conn.send({ type: 'chat', username, text, timestamp: Date.now() }),
    sendTyping: () => conn.send({ type: 'typing', username }),
  };
}

/** The scripted scenario: two users chat, the server drops one, who comes back on their own. */
export async function run(log: (line: string) => void = console.log) {
  const server = await startChatServer();
  const seen: Record<string, string[]> = { alice: [], bob: [] };
  const join = (username: string) => {
    const chat = createChat(server.url, username);
    const show = (line: string) => {
      seen[username]?.push(line);
      log(`  ${username.padEnd(5)} | ${line}`);
    };
    chat.conn
      .on('chat', (m) => show(`${m.username}: ${m.text}`))
      .on('typing', (m) => show(`${m.username} is typing...`))
      .on('user_joined', (m) => show(`-> ${m.username} joined`))
      .on('user_left', (m) => show(`<- ${m.username} left`));
    return chat;
  };

  log('alice and bob join the room');
  const alice = join('alice');
  await next(alice.conn, 'user_joined', (m) => m.username === 'alice');
  const bob = join('bob');
  await next(alice.conn, 'user_joined', (m) => m.username === 'bob');

  const typing = next(alice.conn, 'typing');
  bob.sendTyping();
  await typing;
  const hi = next(alice.conn, 'chat');
  bob.sendChat('hi alice');
  await hi;
  const hey = next(bob.conn, 'chat', (m) => m.username === 'alice');
  alice.sendChat('hey bob');
  await hey;

  log("the server drops alice's connection (no close frame)");
  const back = Promise.all(
    [bob, alice].map((user) => next(user.conn, 'chat', (m) => m.text === 'back! did you get this?')),
  );
  const lost = new Promise((resolve) => alice.conn.addEventListener('close', resolve, { once: true }));
  server.drop('alice');
  await lost;
  log(`alice's connection is ${alice.conn.state}; she types anyway (queued until the rejoin)`);
  alice.sendChat('back! did you get this?');
  await back;

  log('bob leaves');
  const left = next(alice.conn, 'user_left', (m) => m.username === 'bob');
  bob.conn.close(1000, 'bye');
  await left;

  alice.conn.close(1000, 'done');
  await server.close();
  log(`joins the server saw: ${server.joins.join(', ')}`);
  return { seen, joins: server.joins, reconnects: alice.conn.metrics.reconnects };
}

/** The next `type` message on `conn` that passes `test`. */
function next<T extends ServerMessage['type']>(
  conn: ChatConnection,
  type: T,
  test: (m: MessageOf<ServerMessage, T>) => boolean = () => true,
): Promise<MessageOf<ServerMessage, T>> {
  return new Promise((resolve) => {
    const handler = (m: MessageOf<ServerMessage, T>) => {
      if (!test(m)) return;
      conn.off(type, handler);
      resolve(m);
    };
    conn.on(type, handler);
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
