/**
 * The chart in the Stately inspector, from a browser app: `createBrowserInspector` opens the inspector
 * (https://stately.ai/inspect) in a new window and posts every inspection event to it; `inspect: inspector.inspect`
 * hands those events over from the connection's actor.
 *
 * `@statelyai/inspect` is the maintained successor of `@xstate/inspect` (0.8, which supports XState v4 only);
 * socketchart runs on XState v5, so use `@statelyai/inspect`.
 *
 * Bundle it with your app (Vite, esbuild, ...). The inspector window is a pop-up: browsers may block one that is not
 * opened from a click, so start it from a button (`autoStart: false`, then `inspector.start()` in the handler) or
 * allow pop-ups for your dev server.
 */
import { createBrowserInspector } from '@statelyai/inspect';
import { createConnection } from '../../src/index.js'; // in your app: from 'socketchart'

/**
 * A connection whose inspection events go to the Stately inspector window, which opens only when the button given to
 * `openInspectorOn` is clicked:
 *
 *   const { conn, openInspectorOn } = connectWithInspector('wss://example.com/socket');
 *   openInspectorOn(document.querySelector<HTMLButtonElement>('#inspect')!);
 */
export function connectWithInspector(url: string) {
  const inspector = createBrowserInspector({ autoStart: false });

  const conn = createConnection(url, {
    inspect: inspector.inspect,
  });

  /** Wire a button to open the inspector; events from before the click are replayed to it (up to 200). */
  function openInspectorOn(button: HTMLElement): void {
    button.addEventListener('click', () => inspector.start(), { once: true });
  }

  return { inspector, conn, openInspectorOn };
}
