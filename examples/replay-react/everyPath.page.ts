/** In the browser: examples/react's ConnectionStatus on a real connection, replayed through every generated path. */
import { createElement as h } from 'react';
import { flushSync } from 'react-dom';
import { createRoot } from 'react-dom/client';
import { connectionPaths, replayPath } from '../../src/testing/browser.js'; // in your app: from 'socketchart/testing/browser'
import { ConnectionStatus } from '../react/ConnectionStatus.js';

/** The badge word for a state: its first part (`reconnecting.backoff` -> `reconnecting`), `offline` without network. */
const word = (state: string) => (state === 'reconnecting.waitingForNetwork' ? 'offline' : state.split('.')[0]);

export async function run(): Promise<{ paths: number; steps: number; failures: string[] }> {
  const paths = connectionPaths({ simple: true });
  const result = { paths: paths.length, steps: 0, failures: [] as string[] };
  for (const path of paths) {
    const root = createRoot(document.getElementById('root')!);
    await replayPath(path, {
      onStart: (conn) => flushSync(() => root.render(h(ConnectionStatus, { conn }))),
      onStep: (_conn, step) => {
        flushSync(() => {}); // whatever useSelector scheduled is on screen now, not a microtask later
        const shown = document.querySelector('[data-status]')?.getAttribute('data-status');
        if (shown !== word(step.state)) throw new Error(`the badge shows '${shown}' in ${step.state}`);
        const close = [...document.querySelectorAll('button')].find((b) => b.textContent === 'Close');
        if (close?.disabled !== (step.state === 'closed')) throw new Error(`Close is ${close?.disabled ? 'off' : 'on'} in ${step.state}`);
        result.steps++;
      },
    }).catch((error: unknown) => result.failures.push(String(error)));
    root.unmount();
  }
  return result;
}
