/**
 * A shared connection's session resumed by a new leader (src/shared/session.ts + the atLeastOnce layer's `adopt`),
 * without a browser: the tabs' copies are SharedSession objects whose posts the test carries by hand (so it decides
 * which post a crashed leader never got out), the layers are real, and so is the server (`attachAckServer` on
 * 127.0.0.1). The browser tests cover the tabs and the lock; this covers what the server sees when the old leader
 * wrote more than any tab heard of.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { ACK_PROTOCOL, atLeastOnce } from '../../src/delivery/index.js';
import { atLeastOnce as atLeastOnceLayer } from '../../src/delivery/atLeastOnce.js';
import { welcomeFrame } from '../../src/delivery/protocol.js';
import { type DeliveryLayer, watchLayers } from '../../src/delivery/types.js';
import { type Connection, createConnection } from '../../src/node.js';
import { type AckServer, attachAckServer } from '../../src/server/index.js';
import { type LeaderPost, SharedSession } from '../../src/shared/session.js';
import type { TabInside } from '../../src/shared/inside.js';
import type { WireMessage } from '../../src/shared/protocol.js';
import { receive } from '../../src/shared/receive.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

async function until(check: () => boolean, what: string): Promise<void> {
  await expect.poll(check, { timeout: 5_000, interval: 5, message: what }).toBe(true);
}

async function ackServer(options: { ackEvery?: number; ackDelay?: number } = {}) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const received: string[] = [];
  const server: AckServer = attachAckServer(wss, { onMessage: (_s, payload) => received.push(String(payload)), ...options });
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        server.close();
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  );
  return { server, received, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/` };
}

/** A tab's session copy: what it publishes as leader is kept in `posts`; `logged` records its backlog's acks. */
function tab(id: string, relaying: () => { from: string; seq: number } | null = () => null) {
  const posts: LeaderPost[] = [];
  const logged: number[] = [];
  const session = new SharedSession({ tab: id, publish: (msg) => posts.push(structuredClone(msg)), relaying, logged: (n) => logged.push(n) });
  return { id, session, posts, logged };
}

type Tab = ReturnType<typeof tab>;

/** Hands `leader`'s posts from `from` on to `follower`, as the channel would; returns where it stopped. */
function carry(leader: Tab, follower: Tab, from: number, epoch = 1): number {
  for (const post of leader.posts.slice(from)) follower.session.apply({ ...post, from: leader.id, epoch } as Extract<WireMessage, { t: 'log' | 'acked' | 'session' }>);
  return leader.posts.length;
}

/**
 * A leader: the real layer on a bare `ws` socket (its connection's part: write, and feed every frame back), so that a
 * crash is the socket's TCP connection going, nothing said and nothing posted after. `first`: sent as it takes the
 * session, before its socket opens (as a new leader's own backlog is).
 */
async function leaderOnSocket(url: string, session: SharedSession, first: string[] = []) {
  const socket = new WebSocket(url, [ACK_PROTOCOL]);
  socket.on('error', () => {});
  const dropped: unknown[] = [];
  const layer = atLeastOnceLayer()({
    write: (frame) => (socket.readyState === WebSocket.OPEN ? (socket.send(frame), true) : false),
    mayWrite: () => true,
    waitToWrite: () => {},
    drop: (_data, _reason, message) => dropped.push(message),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
  });
  socket.on('message', (data, isBinary) => layer.inbound(isBinary ? data : data.toString()));
  layer.share?.(session);
  session.lead(layer);
  for (const text of first) layer.send(text, text);
  await once(socket, 'open');
  const welcomed = once(socket, 'message');
  layer.opened();
  // The server's first frame is its welcome: sends from here on are numbered and written as in a running session.
  await welcomed;
  cleanup.push(() => socket.terminate());
  return { layer, socket, dropped };
}

/** The next leader: a real connection (Node), whose layer resumes `session`, as createSharedConnection does it. */
function nextLeader(url: string, session: SharedSession) {
  let layer: DeliveryLayer | null = null;
  const conn: Connection = watchLayers(
    () => createConnection(url, { delivery: atLeastOnce(), startClosed: true, retryWait: () => Promise.resolve() }),
    (made) => (layer = made),
  );
  cleanup.push(() => conn.close());
  const drops: unknown[] = [];
  conn.addEventListener('drop', (e) => drops.push(e.message));
  if (layer === null) throw new Error('the connection made no shareable layer');
  const resumed = layer as DeliveryLayer;
  resumed.share?.(session);
  session.lead(resumed);
  return { conn, layer: resumed, drops };
}

describe('a new leader resumes the session the old leader wrote more of than any tab heard', () => {
  it("numbers its messages after the server's mark: none is taken for a duplicate of the crashed leader's last ones", async () => {
    const srv = await ackServer();
    const a = tab('A');
    const b = tab('B');
    const c = tab('C');
    const old = await leaderOnSocket(srv.url, a.session);
    for (const follower of [b, c]) follower.session.announced(a.session.wire()!, 'A');

    // Posted (write-ahead), carried to the tabs, written, processed.
    for (const text of ['a-1', 'a-2', 'a-3']) old.layer.send(text, text);
    await tick();
    carry(a, b, 0);
    carry(a, c, 0);
    await until(() => srv.received.includes('a-3'), 'a-1..a-3 processed');
    // Posted as well, but the post never leaves the crashing tab; the frames did, and the server processed them.
    for (const text of ['a-4', 'a-5']) old.layer.send(text, text);
    await until(() => srv.received.includes('a-5'), 'a-4, a-5 processed');
    expect(a.posts.at(-1)).toMatchObject({ t: 'log', entries: [{ seq: 4 }, { seq: 5 }] });
    old.socket.terminate();
    await until(() => [...srv.server.sessions.values()].every((s) => !s.connected), 'the old socket is gone');

    // B takes the lead knowing seqs up to 3. Two sends of its own, numbered 4 and 5 before the welcome.
    expect(b.session.next).toBe(4);
    const next = nextLeader(srv.url, b.session);
    next.conn.send('b-1');
    next.conn.send('b-2');
    await tick();
    next.conn.open();
    await until(() => next.layer.pending.count === 0, 'the server acknowledges everything the new leader holds');
    expect(next.drops).toEqual([]);
    // Each processed once: b-1 and b-2 are not skipped as the replays of a-4 and a-5 they were numbered as.
    expect(srv.received).toEqual(['a-1', 'a-2', 'a-3', 'a-4', 'a-5', 'b-1', 'b-2']);
    expect(srv.server.stats.created).toBe(1);

    // The tabs learn the new numbers before anything is written under them: a third leader would resume b-1 and
    // b-2 as 6 and 7 (under 4 and 5 the server would skip them too).
    const renumbered = b.posts.findIndex((p) => p.t === 'renumbered');
    expect(b.posts[renumbered]).toMatchObject({ t: 'renumbered', first: 4, by: 2 });
    carry(b, c, 0, 2);
    expect(c.session.next).toBe(8);
    expect([...c.session.messages]).toEqual([]);
    // Sends after it go on from there.
    next.conn.send('b-3');
    await until(() => srv.received.includes('b-3'), 'b-3 processed');
    expect(srv.received.at(-1)).toBe('b-3');
  });

  it("the copies the tabs keep follow the new numbers: a third leader resumes the second one's messages under them", async () => {
    // Only hello and welcome acknowledge: no ack frame trims a copy while the test looks at it.
    const srv = await ackServer({ ackEvery: 1_000_000, ackDelay: 600_000 });
    const a = tab('A');
    const b = tab('B');
    const c = tab('C');
    const old = await leaderOnSocket(srv.url, a.session);
    for (const follower of [b, c]) follower.session.announced(a.session.wire()!, 'A');
    old.layer.send('a-1', 'a-1');
    await tick();
    carry(a, b, 0);
    carry(a, c, 0);
    old.layer.send('a-2', 'a-2');
    await until(() => srv.received.includes('a-2'), 'a-2 processed');
    old.socket.terminate();
    await until(() => [...srv.server.sessions.values()].every((s) => !s.connected), 'the old socket is gone');

    // B leads on a bare socket too, b-1 numbered 2 before the welcome moves it to 3; B crashes before the server
    // acknowledges it.
    const second = await leaderOnSocket(srv.url, b.session, ['b-1']);
    expect(b.posts.find((p) => p.t === 'renumbered')).toMatchObject({ first: 2, by: 1 });
    await until(() => srv.received.includes('b-1'), 'b-1 processed');
    second.socket.terminate();
    await until(() => [...srv.server.sessions.values()].every((s) => !s.connected), "B's socket is gone");
    // C had every post of B's: b-1 under its new number, 3.
    carry(b, c, 0, 2);
    expect([...c.session.messages].map((m) => [m.seq, m.data])).toEqual([[3, 'b-1']]);
    const third = nextLeader(srv.url, c.session);
    third.conn.send('c-1');
    await tick();
    third.conn.open();
    await until(() => srv.received.includes('c-1'), 'c-1 processed');
    // b-1 went again under 3 (the server skipped it), c-1 under 4 after the welcome.
    expect(srv.received).toEqual(['a-1', 'a-2', 'b-1', 'c-1']);
    expect(third.drops).toEqual([]);
  });
});

describe('a single tab keeps its defence against a server acknowledging what it never wrote', () => {
  it("a welcome.ack beyond the highest seq written is ignored: nothing is forgotten, nothing renumbered", () => {
    const frames: string[] = [];
    const layer = atLeastOnceLayer()({
      write: (frame) => (frames.push(String(frame)), true),
      mayWrite: () => true,
      waitToWrite: () => {},
      drop: () => {},
      setTimeout: () => 0,
      clearTimeout: () => {},
    });
    layer.opened();
    const sid = (JSON.parse(frames[0]!) as { sid: string }).sid;
    layer.send('x', 'x');
    layer.inbound(welcomeFrame(sid, true, 5, 1));
    expect(layer.pending.count).toBe(1);
    layer.send('y', 'y');
    expect(frames.slice(1)).toEqual(['1:x', '2:y']);
  });
});

describe("a follower's copy after a new leader announced its session", () => {
  it("takes no late log of the leader before it: its seqs may be the new leader's now", () => {
    const c = tab('C');
    const sid = 'tXcnr7-wRhNlIsv1XY5iZg';
    // C follows B (epoch 2), whose session moved b-1 to seq 3 above the old leader A's lost 1 and 2.
    c.session.announced({ sid, next: 4, lastIn: 0, held: [{ seq: 3, data: 'b-1', from: 'B', tabSeq: 0 }], tabs: [] }, 'B');
    // receive() reads only these of the tab for a log; everything else it would touch is absent on purpose.
    const inside = { ended: false, leading: false, leader: 'B', epoch: 2, session: c.session } as unknown as TabInside;
    // A's log of its lost seq 3 reaches C only now.
    receive(inside, { t: 'log', from: 'A', epoch: 1, sid, entries: [{ seq: 3, data: 'a-3', from: 'A', tabSeq: 0 }, { seq: 4, data: 'a-4', from: 'A', tabSeq: 0 }] });
    expect([...c.session.messages].map((m) => [m.seq, m.data])).toEqual([[3, 'b-1']]);
    expect(c.session.next).toBe(4);
    // The leader it follows is heard.
    receive(inside, { t: 'log', from: 'B', epoch: 2, sid, entries: [{ seq: 4, data: 'b-2', from: 'B', tabSeq: 0 }] });
    expect([...c.session.messages].map((m) => [m.seq, m.data])).toEqual([[3, 'b-1'], [4, 'b-2']]);
  });
});
