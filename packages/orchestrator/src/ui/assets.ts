// The dashboard's two static files, served as strings: no bundler, no build step. The script is plain ES2020 for
// the browser; it builds no markup from data (fragments come from the server, escaped) and sets only textContent.

/** The dashboard's script, served as `/ui/app.js` (the CSP allows no inline script). */
export const APP_JS = String.raw`'use strict';
(() => {
  const body = document.body;
  const base = body.dataset.base || '';
  const fragmentUrl = body.dataset.fragment || '';
  const eventsUrl = body.dataset.events || '';
  const live = document.getElementById('live');
  const status = document.getElementById('live-status');
  const flash = document.getElementById('flash');
  const MIN_REFRESH_MS = 200;

  function setState(state, text) {
    if (status === null) return;
    status.dataset.state = state;
    status.textContent = text;
  }

  function say(text, kind) {
    if (flash === null) return;
    flash.textContent = text;
    flash.dataset.kind = kind;
  }

  // One fetch of the live fragment at a time; changes arriving meanwhile ask for one more, at most every MIN_REFRESH_MS.
  let inFlight = false;
  let again = false;
  let refreshes = 0;
  async function refresh() {
    if (live === null || fragmentUrl === '') return;
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    try {
      const res = await fetch(fragmentUrl, { headers: { accept: 'text/html' }, cache: 'no-store', credentials: 'same-origin' });
      if (res.ok) {
        // Server-rendered and escaped: the fragment carries no script (and the CSP would refuse one).
        live.innerHTML = await res.text();
        refreshes += 1;
        body.dataset.refreshes = String(refreshes);
      }
    } catch (error) {
      setState('error', 'update failed');
    } finally {
      setTimeout(() => {
        inFlight = false;
        if (again) {
          again = false;
          void refresh();
        }
      }, MIN_REFRESH_MS);
    }
  }

  if (eventsUrl !== '' && typeof EventSource === 'function') {
    const events = new EventSource(eventsUrl);
    events.addEventListener('open', () => {
      setState('live', 'live');
      // The stream sees changes from now on: what changed since the page was rendered (or, after a reconnect, while
      // the stream was down) is read once, so no change falls in the gap.
      void refresh();
    });
    events.addEventListener('error', () => setState('reconnecting', 'reconnecting…'));
    events.addEventListener('change', () => void refresh());
    events.addEventListener('resync', () => void refresh());
    window.addEventListener('pagehide', () => events.close());
  }

  async function post(url, payload) {
    const res = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      // The custom header is the CSRF guard: a cross-site form cannot send it, and a cross-site fetch with it needs a
      // CORS preflight this server never grants.
      headers: { 'content-type': 'application/json', 'x-onex-ui': '1' },
      body: JSON.stringify(payload === undefined ? {} : payload),
    });
    let answer = null;
    try {
      answer = await res.json();
    } catch (error) {
      answer = null;
    }
    if (!res.ok) {
      const message = answer !== null && answer.error !== undefined ? answer.error.code + ': ' + answer.error.message : 'HTTP ' + res.status;
      throw new Error(message);
    }
    return answer;
  }

  // Actions ask for a second click instead of a dialog.
  document.addEventListener('click', (event) => {
    const target = event.target instanceof Element ? event.target.closest('button[data-action]') : null;
    if (target === null) return;
    event.preventDefault();
    const confirmText = target.dataset.confirm;
    if (confirmText !== undefined && target.dataset.armed !== 'true') {
      target.dataset.armed = 'true';
      target.dataset.label = target.textContent;
      target.textContent = confirmText;
      return;
    }
    target.disabled = true;
    post(target.dataset.url)
      .then((answer) => {
        say(target.dataset.action + ': ' + (answer !== null && answer.status !== undefined ? answer.status : 'requested'), 'ok');
        void refresh();
      })
      .catch((error) => {
        say(target.dataset.action + ' failed: ' + error.message, 'error');
        target.disabled = false;
        target.dataset.armed = 'false';
        if (target.dataset.label !== undefined) target.textContent = target.dataset.label;
      });
  });

  const signalForm = document.getElementById('signal-form');
  if (signalForm !== null) {
    signalForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const data = new FormData(signalForm);
      let payload;
      try {
        payload = JSON.parse(String(data.get('payload') || 'null'));
      } catch (error) {
        say('The payload is not JSON', 'error');
        return;
      }
      post(signalForm.dataset.url, { name: String(data.get('name') || ''), payload })
        .then(() => {
          say('signal sent', 'ok');
          void refresh();
        })
        .catch((error) => say('signal failed: ' + error.message, 'error'));
    });
  }
  void base;
})();
`;

/** The dashboard's stylesheet, served as `/ui/app.css`. */
export const APP_CSS = `
:root { color-scheme: light; --fg: #1d2330; --muted: #6b7385; --line: #dde1ea; --bg: #f6f7fa; --panel: #fff; --ok: #1f9d55; --run: #2f6fde; --warn: #d98a00; --bad: #d64545; --sleep: #8a63d2; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header.top { display: flex; gap: 16px; align-items: center; padding: 10px 24px; background: #151a24; color: #e8ebf2; }
header.top a.brand { color: #fff; font-weight: 600; text-decoration: none; }
header.top .node { color: #9aa3b5; }
.live-status { margin-left: auto; font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #2a3142; }
.live-status[data-state="live"] { background: #1f6f45; }
.live-status[data-state="reconnecting"], .live-status[data-state="error"] { background: #7a3b1d; }
.live-status[data-state="static"] { display: none; }
main { padding: 16px 24px 48px; max-width: 1200px; }
h1 { font-size: 20px; margin: 8px 0 12px; } h1.wf-id { font-family: ui-monospace, monospace; word-break: break-all; }
h2 { font-size: 15px; margin: 0 0 10px; } h2 small { color: var(--muted); font-weight: normal; margin-left: 6px; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin: 0 0 14px; overflow-x: auto; }
.filters { display: flex; gap: 14px; align-items: end; flex-wrap: wrap; margin: 0 0 14px; }
.filters label, .signal label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 3px; }
input, select, textarea, button { font: inherit; padding: 5px 8px; border: 1px solid var(--line); border-radius: 5px; background: #fff; color: var(--fg); }
button { cursor: pointer; background: #eef1f7; } button.danger { background: #fbeaea; border-color: #efc2c2; color: #8f1f1f; } button[data-armed="true"] { background: var(--bad); color: #fff; }
button:disabled { opacity: .6; cursor: default; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; } td a { font-family: ui-monospace, monospace; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; background: #e9ecf3; }
.s-running, .s-pending { background: #e3ecfc; color: #1f4fa8; } .s-completed, .s-compensated { background: #e1f4e9; color: #176b3c; }
.s-failed, .s-compensation_failed, .s-timed_out { background: #fbe5e5; color: #9b2222; } .s-compensating, .s-cancelled { background: #fdf1dc; color: #8a5a00; }
.s-skipped { background: #eef0f4; color: #6b7385; }
.b-closed { background: #e1f4e9; color: #176b3c; } .b-open { background: #fbe5e5; color: #9b2222; } .b-half_open { background: #fdf1dc; color: #8a5a00; }
.empty { color: var(--muted); margin: 0; } .error { color: #9b2222; } .flash:empty { display: none; }
.flash { padding: 8px 12px; border-radius: 6px; background: #e1f4e9; } .flash[data-kind="error"] { background: #fbe5e5; }
.summary dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0 0 10px; } .summary dt { color: var(--muted); }
.actions { display: flex; gap: 8px; } .errors { margin: 0; padding-left: 18px; color: #9b2222; font-size: 12px; }
.io { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; } pre { margin: 0; padding: 10px; background: #f3f5f9; border-radius: 6px; overflow: auto; max-height: 320px; white-space: pre-wrap; word-break: break-word; }
.crumbs { color: var(--muted); margin: 0; } .signal { display: flex; gap: 12px; align-items: end; flex-wrap: wrap; }
svg.gantt { max-width: 100%; height: auto; font-size: 12px; }
svg.gantt .tick { stroke: var(--line); } svg.gantt .axis { fill: var(--muted); font-size: 11px; } svg.gantt .label { fill: var(--fg); } svg.gantt .none { fill: var(--muted); font-style: italic; }
svg.gantt .err { fill: var(--bad); font-size: 11px; }
svg.gantt .bar { fill: var(--muted); } svg.gantt .bar.s-running { fill: var(--run); } svg.gantt .bar.s-completed { fill: var(--ok); }
svg.gantt .bar.s-failed, svg.gantt .bar.s-timed_out { fill: var(--bad); } svg.gantt .bar.s-cancelled { fill: var(--warn); } svg.gantt .bar.s-skipped { fill: #c3c8d3; }
svg.gantt .bar.s-compensating, svg.gantt .bar.s-compensated, svg.gantt .bar.s-compensation_failed { fill: var(--ok); }
svg.gantt .bar.s-sleep { fill: var(--sleep); } svg.gantt .bar.wake { fill: none; stroke: var(--sleep); stroke-dasharray: 4 3; }
svg.gantt .bar.comp { fill: var(--warn); } svg.gantt .bar.comp.s-compensated { fill: #7a5bd6; } svg.gantt .bar.comp.s-compensation_failed { fill: var(--bad); }
`;

/** The dashboard's icon, served as `/ui/favicon.svg` (so the browser asks for no `/favicon.ico`). */
export const FAVICON_SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#151a24"/><rect x="3" y="4" width="6" height="2" fill="#1f9d55"/><rect x="6" y="7" width="7" height="2" fill="#2f6fde"/><rect x="4" y="10" width="5" height="2" fill="#d98a00"/></svg>';
