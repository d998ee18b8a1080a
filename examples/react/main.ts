/**
 * Entry of the React example: `?url=ws://...` picks the server (default ws://localhost:8080).
 * Run it with any bundler; examples/react/README.md shows how with esbuild (what the test does).
 */
import { StrictMode, createElement as h } from 'react';
import { createRoot } from 'react-dom/client';
import { createConnection } from '../../src/index.js'; // in your app: from 'socketchart'
import { ConnectionStatus } from './ConnectionStatus.js';

const url = new URLSearchParams(location.search).get('url') ?? 'ws://localhost:8080';
// One connection for the page's lifetime: create it outside components (or in a context provider), not in render.
const conn = createConnection(url);

const root = document.getElementById('root');
if (!root) throw new Error('index.html needs <div id="root">');
createRoot(root).render(h(StrictMode, null, h('h1', null, 'socketchart + React'), h(ConnectionStatus, { conn })));
