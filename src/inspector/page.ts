/**
 * The inspector page: static HTML, and the script that renders the chart with Mermaid and follows the Server-Sent
 * Events stream. The script is plain browser JavaScript kept as text (not a function turned into a string), so
 * what the browser runs doesn't depend on how this module was compiled.
 */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>socketchart inspector</title>
<style>
  :root { --hl: #bbf7d0; --hl-stroke: #15803d; --hl-soft: #f0fdf4; }
  body[data-tone="wait"] { --hl: #fde68a; --hl-stroke: #b45309; --hl-soft: #fffbeb; }
  body[data-tone="bad"] { --hl: #fecaca; --hl-stroke: #b91c1c; --hl-soft: #fef2f2; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1e293b; background: #f8fafc; }
  header { display: flex; flex-wrap: wrap; gap: 8px 28px; align-items: center; padding: 10px 20px; background: #0f172a; color: #e2e8f0; }
  header h1 { font-size: 16px; margin: 0; color: #fff; }
  header .field { display: flex; gap: 8px; align-items: center; }
  header .label { color: #94a3b8; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
  code, #state, #log { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
  #state { font-size: 20px; font-weight: 700; padding: 1px 12px; border-radius: 6px; background: #475569; color: #fff; }
  body[data-tone="ok"] #state { background: #15803d; }
  body[data-tone="wait"] #state { background: #b45309; }
  body[data-tone="bad"] #state { background: #b91c1c; }
  #link[data-live="false"] { color: #fca5a5; }
  main { display: grid; grid-template-columns: minmax(0, 1fr) 440px; height: calc(100vh - 52px); min-height: 420px; }
  #chart-panel { display: flex; flex-direction: column; min-width: 0; min-height: 0; background: #fff; }
  .toolbar { display: flex; gap: 12px; align-items: center; padding: 6px 12px; border-bottom: 1px solid #e2e8f0; color: #475569; font-size: 13px; }
  .toolbar button { font: inherit; padding: 2px 10px; border: 1px solid #cbd5e1; border-radius: 4px; background: #fff; cursor: pointer; }
  #diagram { flex: 1; overflow: auto; padding: 8px; }
  #diagram.fit svg { width: 100%; height: 100%; max-width: 100% !important; }
  #diagram.actual svg { max-width: none !important; }
  #diagram .error { color: #b91c1c; white-space: pre-wrap; }
  aside { display: flex; flex-direction: column; min-height: 0; border-left: 1px solid #e2e8f0; }
  aside h2 { margin: 0; padding: 8px 12px; font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: #475569; border-bottom: 1px solid #e2e8f0; background: #f1f5f9; }
  #log { list-style: none; margin: 0; padding: 0; overflow: auto; font-size: 12.5px; flex: 1; }
  #log li { display: grid; grid-template-columns: 92px 92px minmax(0, 1fr); gap: 6px; padding: 4px 12px; border-bottom: 1px solid #f1f5f9; }
  #log time { color: #64748b; }
  #log .kind { font-weight: 600; }
  #log .text { overflow-wrap: anywhere; }
  #log li[data-kind="open"] .kind { color: #15803d; }
  #log li[data-kind="reconnecting"] .kind, #log li[data-kind="statechange"] .kind { color: #b45309; }
  #log li[data-kind="close"] .kind, #log li[data-kind="error"] .kind, #log li[data-kind="giveup"] .kind, #log li[data-kind="drop"] .kind { color: #b91c1c; }
  #log li[data-kind="inspector"] .kind { color: #475569; }
  /* The active state (the deepest one in each region) and the composite states around it. */
  #diagram g.sc-current > rect, #diagram g.sc-current > path, #diagram g.sc-current .label-container,
  #diagram g.sc-current .label-container path {
    fill: var(--hl) !important; stroke: var(--hl-stroke) !important; stroke-width: 3px !important;
  }
  #diagram g.sc-current { filter: drop-shadow(0 0 6px var(--hl-stroke)) drop-shadow(0 0 12px var(--hl-stroke)); }
  #diagram g.statediagram-cluster.sc-active rect.outer { stroke: var(--hl-stroke) !important; stroke-width: 3px !important; }
  #diagram g.statediagram-cluster.sc-active rect.inner { fill: var(--hl-soft) !important; }
</style>
</head>
<body data-tone="none">
<header>
  <h1>socketchart inspector</h1>
  <div class="field"><span class="label">state</span><span id="state">…</span></div>
  <div class="field"><span class="label">readyState</span><code id="ready">-</code></div>
  <div class="field"><span class="label">reconnects</span><code id="reconnects">0</code></div>
  <div class="field"><span class="label">url</span><code id="url">-</code></div>
  <div class="field"><span class="label">page</span><span id="link" data-live="false">connecting…</span></div>
</header>
<main>
  <section id="chart-panel">
    <div class="toolbar">
      <button id="zoom" type="button">Actual size</button>
      <label><input id="follow" type="checkbox" checked> follow the active state</label>
      <span id="active-path"></span>
    </div>
    <div id="diagram" class="fit">rendering the chart…</div>
  </section>
  <aside>
    <h2>Event log <span id="count"></span></h2>
    <ol id="log" reversed></ol>
  </aside>
</main>
<script src="mermaid.min.js"></script>
<script src="inspector.js"></script>
</body>
</html>
`;

export const PAGE_SCRIPT = String.raw`(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const READY = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'];
  const MAX_LOG = 1000;
  /** What tests and curious people can read from the console: window.__inspector. */
  const status = { ready: false, error: null, missing: [], state: null, current: [], shown: [], entries: 0, live: false };
  window.__inspector = status;

  let ids = {};
  let nodes = new Map();
  let latest = null;
  let diagramText = null;

  const pad = (n, w) => String(n).padStart(w, '0');
  const clock = (ms) => {
    const d = new Date(ms);
    return pad(d.getHours(), 2) + ':' + pad(d.getMinutes(), 2) + ':' + pad(d.getSeconds(), 2) + '.' + pad(d.getMilliseconds(), 3);
  };
  const toneOf = (state) =>
    state === 'open' ? 'ok' : state === 'closed' || state === 'closing' ? 'bad' : 'wait';

  function findNode(svg, id) {
    for (const cluster of svg.querySelectorAll('g.statediagram-cluster')) {
      if (cluster.getAttribute('data-id') === id) return cluster;
    }
    const suffix = new RegExp('-state-' + id.replace(/[^A-Za-z0-9_]/g, '\\$&') + '-\\d+$');
    for (const node of svg.querySelectorAll('g.node')) if (suffix.test(node.id)) return node;
    return null;
  }

  async function renderDiagram(text) {
    const box = $('diagram');
    window.mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: 'default' });
    const { svg } = await window.mermaid.render('socketchart-diagram', text);
    box.innerHTML = svg;
    const root = box.querySelector('svg');
    applyZoom();
    nodes = new Map();
    status.missing = [];
    for (const [path, id] of Object.entries(ids)) {
      const node = findNode(root, id);
      if (node) {
        node.setAttribute('data-state-path', path);
        nodes.set(path, node);
      } else {
        status.missing.push(path);
      }
    }
  }

  function applyState(s) {
    latest = s;
    $('state').textContent = s.state;
    $('ready').textContent = s.readyState + ' ' + READY[s.readyState];
    $('reconnects').textContent = String(s.reconnects);
    $('active-path').textContent = 'active: ' + s.leaves.join(', ');
    document.body.dataset.tone = toneOf(s.state);
    document.body.dataset.state = s.state;
    if (!status.ready) return;
    for (const node of nodes.values()) node.classList.remove('sc-active', 'sc-current');
    for (const path of s.active) nodes.get(path)?.classList.add('sc-active');
    const current = [];
    for (const path of s.leaves) {
      const node = nodes.get(path);
      if (!node) continue;
      node.classList.add('sc-current');
      current.push(ids[path]);
    }
    status.current = current;
    status.state = s.state;
    // Every state the page has shown, in order (bounded): what a test or a bug report can replay.
    status.shown.push({ state: s.state, current });
    if (status.shown.length > 500) status.shown.shift();
    if ($('follow').checked && $('diagram').classList.contains('actual')) {
      nodes.get(s.leaves[0])?.scrollIntoView({ block: 'center', inline: 'center' });
    }
  }

  function addLog(entry) {
    const li = document.createElement('li');
    li.dataset.kind = entry.kind;
    if (entry.state) li.dataset.state = entry.state;
    const time = document.createElement('time');
    time.dateTime = new Date(entry.at).toISOString();
    time.textContent = clock(entry.at);
    const kind = document.createElement('span');
    kind.className = 'kind';
    kind.textContent = entry.kind;
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = entry.text;
    li.append(time, kind, text);
    const log = $('log');
    log.prepend(li);
    while (log.children.length > MAX_LOG) log.lastElementChild.remove();
    status.entries++;
    $('count').textContent = '(' + status.entries + ')';
  }

  /** Fit: the whole chart in the panel. Actual size: the chart's own size, scrolled to the active state. */
  function applyZoom() {
    const box = $('diagram');
    const actual = box.classList.contains('actual');
    $('zoom').textContent = actual ? 'Fit to window' : 'Actual size';
    const svg = box.querySelector('svg');
    if (!svg) return;
    const view = svg.viewBox && svg.viewBox.baseVal;
    svg.style.width = actual && view ? view.width + 'px' : '';
    svg.style.height = actual && view ? view.height + 'px' : '';
  }

  $('zoom').addEventListener('click', () => {
    const box = $('diagram');
    const actual = box.classList.toggle('actual');
    box.classList.toggle('fit', !actual);
    applyZoom();
    if (latest) applyState(latest);
  });

  const source = new EventSource('events');
  source.addEventListener('open', () => {
    status.live = true;
    $('link').dataset.live = 'true';
    $('link').textContent = 'live';
  });
  source.addEventListener('error', () => {
    status.live = false;
    $('link').dataset.live = 'false';
    $('link').textContent = 'inspector unreachable, retrying…';
  });
  source.addEventListener('init', async (message) => {
    const init = JSON.parse(message.data);
    ids = init.ids;
    $('url').textContent = init.url || '-';
    $('log').replaceChildren();
    status.entries = 0;
    init.log.forEach(addLog);
    latest = init.state;
    applyState(latest);
    if (init.mermaid !== diagramText) {
      diagramText = init.mermaid;
      status.ready = false;
      try {
        await renderDiagram(init.mermaid);
        status.ready = true;
      } catch (error) {
        status.error = String(error && error.message ? error.message : error);
        const box = $('diagram');
        box.textContent = '';
        const pre = document.createElement('pre');
        pre.className = 'error';
        pre.textContent = 'Mermaid could not render the chart: ' + status.error + '\n\n' + init.mermaid;
        box.append(pre);
      }
    }
    applyState(latest);
  });
  source.addEventListener('state', (message) => applyState(JSON.parse(message.data)));
  source.addEventListener('log', (message) => addLog(JSON.parse(message.data)));
})();
`;
