// warroom console: shows incidents from the JSON API, sends chat commands as the chosen
// person, and refreshes when the server announces a change over server-sent events.
// Server data only ever reaches the page through textContent and attributes.
'use strict';

(() => {
  const API = '/api/v1';
  const KEY = { person: 'warroom.person', token: 'warroom.token', history: 'warroom.history' };
  // Requests that still need people: shown in the approvals panel.
  const OPEN = new Set(['pending', 'approved', 'executing']);
  const HISTORY_MAX = 50;

  const state = {
    drill: false,
    sessionLoaded: false,
    incident: null, // selected incident id
    shownMessages: new Set(),
    shownSeqs: new Set(),
    cardKeys: new WeakMap(), // request card -> JSON it was drawn from
    listTicket: 0,
    incidentTicket: 0,
    refresh: { timer: null, list: false, incident: false },
    events: null,
    retry: null,
    history: [],
    historyPos: 0,
    draft: '',
    evidence: new Map(), // evidence id -> record, for the checked download
    ticks: 0,
    noGameDay: false,
  };

  const $ = (sel) => document.querySelector(sel);

  // ---- small helpers ------------------------------------------------------------------

  const store = {
    get(key) {
      try { return sessionStorage.getItem(key) || ''; } catch { return ''; }
    },
    set(key, value) {
      try { sessionStorage.setItem(key, value); } catch { /* storage disabled: keep in memory only */ }
    },
  };

  // Builds an element; strings become text nodes, so nothing is parsed as HTML.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === 'class') node.className = value;
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function pad(n) { return String(n).padStart(2, '0'); }

  // Times read in the plan's zone (the team's, not this browser's), always with the zone's
  // name; the exact UTC instant on hover.
  function zoned(d) {
    const zone = state.zone || 'UTC';
    let parts;
    try {
      parts = new Intl.DateTimeFormat('en-GB', {
        timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit',
        minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'short',
      }).formatToParts(d);
    } catch {
      return null;
    }
    const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
    return p;
  }

  function clock(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso || '';
    const p = zoned(d);
    if (!p) return d.toISOString().slice(11, 19) + ' UTC';
    return `${p.hour}:${p.minute}:${p.second} ${p.timeZoneName}`;
  }

  function stamp(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso || '';
    const p = zoned(d);
    if (!p) return d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute} ${p.timeZoneName}`;
  }

  function utc(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? (iso || '') : `${d.toISOString().replace('.000Z', 'Z')} (UTC)`;
  }

  function timeEl(iso, text) {
    return el('time', { datetime: iso, title: utc(iso) }, text || clock(iso));
  }

  function size(bytes) {
    if (typeof bytes !== 'number') return '';
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  }

  function short(hex) { return typeof hex === 'string' ? hex.slice(0, 12) : ''; }

  function duration(ms) {
    const s = Math.round(Math.abs(ms) / 1000);
    if (s >= 3600) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
    return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  }

  function personName(p) {
    return typeof p === 'string' ? p : (p && (p.person || p.id || p.by)) || JSON.stringify(p);
  }

  function showReply(message, ok) {
    const reply = $('#reply');
    reply.className = ok ? 'ok' : 'error';
    reply.textContent = message;
  }

  // ---- the API ----------------------------------------------------------------------

  function token() { return state.drill ? '' : store.get(KEY.token); }

  // Outside drill mode, reading without a token would only be refused.
  function canRead() { return state.drill || token() !== ''; }

  // Never throws: network failures come back as status 0 with a message to show.
  // The token goes in a header, never in a URL: URLs are kept in history and pasted in chat.
  function authHeaders() { return token() ? { Authorization: `Bearer ${token()}` } : {}; }

  async function api(path, options = {}) {
    const headers = { Accept: 'application/json', ...(options.headers || {}), ...authHeaders() };
    let res;
    try {
      res = await fetch(API + path, { ...options, headers, cache: 'no-store' });
    } catch (e) {
      return { status: 0, body: { ok: false, message: `Cannot reach warroom: ${e.message}` } };
    }
    let body;
    try {
      body = await res.json();
    } catch {
      body = { ok: false, message: `HTTP ${res.status} ${res.statusText}` };
    }
    if (!body || typeof body !== 'object') body = { ok: false, message: `HTTP ${res.status}` };
    if (res.status === 401 || res.status === 403) {
      showReply(body.message || `HTTP ${res.status}`, false);
      if (res.status === 401) showIdentity(true);
    }
    return { status: res.status, body };
  }

  // ---- session and identity ----------------------------------------------------------

  async function loadSession() {
    const { status, body } = await api('/session');
    if (status !== 200) {
      if (status === 401 || status === 403) showIdentity(true);
      else showReply(body.message || `HTTP ${status}`, false);
      return false;
    }
    state.drill = body.drill === true;
    state.zone = typeof body.timezone === 'string' ? body.timezone : 'UTC';
    state.you = typeof body.you === 'string' ? body.you : '';
    state.sessionLoaded = true;
    $('#plan-name').textContent = body.plan || '';
    document.title = body.plan ? `warroom — ${body.plan}` : 'warroom';
    $('#drill-banner').hidden = !state.drill;
    renderPeople(Array.isArray(body.people) ? body.people : []);
    showIdentity(!state.drill);
    return true;
  }

  function renderPeople(people) {
    const select = $('#person');
    const stored = store.get(KEY.person);
    const options = people.map((p) => el('option', { value: p.id },
      `${p.name} (${p.id}) — ${(p.roles || []).join(', ')}`));
    select.replaceChildren(el('option', { value: '' }, 'Choose who you are…'), ...options);
    select.value = people.some((p) => p.id === stored) ? stored : '';
  }

  // Drill mode: pick a person. Otherwise the token says who is acting.
  function showIdentity(needToken) {
    $('#person-box').hidden = needToken;
    $('#person').hidden = needToken;
    $('#token-box').hidden = !needToken;
    if (needToken && !$('#token').value) $('#token').value = store.get(KEY.token);
  }

  async function saveToken(event) {
    event.preventDefault();
    store.set(KEY.token, $('#token').value.trim());
    if (!state.sessionLoaded && !(await loadSession())) return;
    showReply(token() ? 'Token saved for this browser tab.' : 'Token cleared.', true);
    connectEvents();
    refreshNow();
  }

  // ---- refreshing ---------------------------------------------------------------------

  // Coalesces bursts of change events into one fetch of each kind.
  function scheduleRefresh(incident) {
    const r = state.refresh;
    r.list = true;
    if (!incident || incident === state.incident) r.incident = true;
    if (!r.timer) r.timer = setTimeout(flushRefresh, 60);
  }

  function refreshNow() {
    state.refresh.list = true;
    state.refresh.incident = true;
    flushRefresh();
  }

  function flushRefresh() {
    const r = state.refresh;
    clearTimeout(r.timer);
    r.timer = null;
    $('#need-token').hidden = canRead();
    if (r.list && canRead()) refreshList();
    if (r.incident && canRead()) refreshIncident();
    if (canRead()) refreshGameDay();
    r.list = false;
    r.incident = false;
  }

  async function refreshList() {
    const ticket = ++state.listTicket;
    const { status, body } = await api('/incidents');
    // A later fetch was started: its answer is newer than this one.
    if (ticket !== state.listTicket || status !== 200) return;
    renderIncidents(Array.isArray(body.incidents) ? body.incidents : []);
  }

  async function refreshIncident() {
    const id = state.incident;
    if (!id) return;
    const ticket = ++state.incidentTicket;
    const { status, body } = await api(`/incidents/${encodeURIComponent(id)}`);
    if (ticket !== state.incidentTicket || id !== state.incident) return;
    if (status !== 200 || !body.incident) {
      $('#incident-title').textContent = `${id}: ${body.message || `HTTP ${status}`}`;
      return;
    }
    renderIncident(body);
  }

  // ---- game day -----------------------------------------------------------------------

  // "45s", "4m 05s", "1h 02m 03s": as the exported scorecard writes times.
  function clockTime(seconds) {
    if (typeof seconds !== 'number') return 'not reached';
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    if (h > 0) return `${h}h ${pad(m)}m ${pad(s)}s`;
    if (m > 0) return `${m}m ${pad(s)}s`;
    return `${s}s`;
  }

  const FLAG_WORDS = {
    lateral: 'attacker moved',
    evidence_lost: 'evidence lost',
    destructive_before_capture: 'destroyed before captured',
    exec: 'container login',
    mass_delete: 'mass delete',
    target_missed: 'target missed',
  };

  // A drill's game day: polled, since its scorecard changes with the clock as well as with
  // what the team does. No game day (404) hides the panel and stops asking.
  async function refreshGameDay() {
    if (!state.drill || state.noGameDay) return;
    const { status, body } = await api('/drill/scorecard');
    if (status === 404) {
      state.noGameDay = true;
      $('#gameday').hidden = true;
      return;
    }
    if (status !== 200) return;
    renderGameDay(body);
  }

  function renderGameDay(card) {
    $('#gameday').hidden = false;
    $('#gameday').dataset.state = card.state;
    $('#gameday-title').textContent = `${card.title || card.scenario} (${card.scenario})`;
    const pace = card.speed === 0 ? 'manual clock' : `×${card.speed}`;
    $('#gameday-state').textContent = card.state === 'ended'
      ? `ended · ${pace}${card.files ? ` · files in ${card.files}` : ''}`
      : `running · ${pace}`;
    const rows = (card.measures || []).map((m) => {
      const verdict = m.met === true ? 'met' : m.met === false ? 'missed' : '—';
      return el('tr', { 'data-measure': m.name },
        el('td', null, m.name),
        el('td', { class: 'time' }, clockTime(m.seconds)),
        el('td', null, typeof m.target_seconds === 'number' ? clockTime(m.target_seconds) : '—'),
        el('td', { class: verdict === '—' ? 'verdict' : `verdict ${verdict}` }, verdict),
        el('td', null, typeof m.previous_seconds === 'number' ? clockTime(m.previous_seconds) : '—'));
    });
    $('#gameday-measures tbody').replaceChildren(...rows);
    $('#gameday-evidence').textContent = card.evidence_first
      ? 'Evidence captured before anything destructive.'
      : 'Something was destroyed before it was captured.';
    const flags = (card.flags || []).map((f) => el('li', { 'data-kind': f.kind },
      `${clockTime(f.at_seconds)} — ${FLAG_WORDS[f.kind] || f.kind}: ${f.text}`));
    $('#gameday-flags').replaceChildren(...flags);
  }

  // ---- server-sent events -------------------------------------------------------------

  function setLive(text, up) {
    const live = $('#live');
    live.textContent = text;
    live.className = up ? 'up' : 'down';
  }

  // The stream is read with fetch, not EventSource: EventSource cannot send a header, and
  // the token must never be in a URL (browser history, proxy logs).
  function connectEvents() {
    if (state.events) state.events.abort();
    state.events = null;
    clearTimeout(state.retry);
    if (!canRead()) {
      setLive('offline', false);
      return;
    }
    const stream = new AbortController();
    state.events = stream;
    const retry = () => {
      if (state.events !== stream) return; // replaced by a newer connection
      // Also when the server ends the stream on shutdown: say so at once, keep trying gently.
      setLive('disconnected — reconnecting…', false);
      state.retry = setTimeout(connectEvents, 3000);
    };
    readEvents(stream.signal, (name, data) => {
      if (name !== 'changed') return;
      let parsed = {};
      try { parsed = JSON.parse(data) || {}; } catch { /* a malformed event still means "refetch" */ }
      scheduleRefresh(parsed.incident || null);
    }).then(retry, (e) => {
      // A refused token is not retried: it would be refused again. Ask for another.
      if (e && e.refused && state.events === stream) {
        setLive('offline — the token was refused', false);
        showIdentity(true);
        return;
      }
      retry();
    });
  }

  // Reads `text/event-stream` until it ends; resolves then, rejects on an error answer.
  async function readEvents(signal, onEvent) {
    const res = await fetch(`${API}/events`, {
      cache: 'no-store',
      signal,
      headers: { Accept: 'text/event-stream', ...authHeaders() },
    });
    if (!res.ok || !res.body) {
      const e = new Error(`event stream: HTTP ${res.status}`);
      e.refused = res.status === 401 || res.status === 403;
      throw e;
    }
    setLive('live', true);
    scheduleRefresh(null); // catch up on whatever changed while disconnected
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue; // keep-alive comment
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const v = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') name = v;
          else if (field === 'data') data.push(v);
        }
        if (data.length) onEvent(name, data.join('\n'));
      }
    }
  }

  // ---- selection ----------------------------------------------------------------------

  function idFromHash() {
    // A malformed link (`#/%E0`) names no incident; it must not stop the console starting.
    try {
      const id = decodeURIComponent(location.hash.replace(/^#\/?/, ''));
      return id || null;
    } catch (e) {
      return null;
    }
  }

  function select(id) {
    if (!id || id === state.incident) return;
    state.incident = id;
    if (idFromHash() !== id) location.hash = `#/${encodeURIComponent(id)}`;
    clearIncident(`Loading ${id}…`);
    markSelected();
    refreshNow();
  }

  function markSelected() {
    for (const li of document.querySelectorAll('#incidents [data-incident]')) {
      if (li.dataset.incident === state.incident) li.setAttribute('aria-current', 'true');
      else li.removeAttribute('aria-current');
    }
  }

  function clearIncident(title) {
    state.shownMessages.clear();
    state.shownSeqs.clear();
    state.incidentTicket++;
    $('#incident-title').textContent = title;
    $('#incident-meta').textContent = '';
    for (const id of ['#messages', '#approvals', '#timeline', '#evidence']) $(id).replaceChildren();
    $('#chain-head').textContent = '—';
    $('#chain-count').textContent = '';
  }

  // ---- rendering ----------------------------------------------------------------------

  function renderIncidents(incidents) {
    state.incidentList = incidents;
    const words = ($('#incident-search').value || '').trim().toLowerCase();
    const wanted = $('#incident-state').value;
    const shown = incidents.filter((inc) =>
      (!wanted || (wanted === 'resolved' ? inc.status === 'resolved' : inc.status !== 'resolved'))
      && (!words || `${inc.id} ${inc.title}`.toLowerCase().includes(words)));
    $('#incidents').replaceChildren(...shown.map((inc) => {
      const pending = Number(inc.pending) || 0;
      return el('li', { 'data-incident': inc.id, 'aria-current': inc.id === state.incident ? 'true' : null },
        el('a', { href: `#/${encodeURIComponent(inc.id)}` },
          el('span', { class: 'inc-top' },
            el('span', { class: `sev sev-${inc.severity}` }, inc.severity),
            el('code', {}, inc.id),
            pending ? el('span', { class: 'badge', title: `${pending} request(s) waiting for approval` },
              `${pending} pending`) : null),
          el('span', { class: 'inc-title' }, inc.title),
          el('span', { class: 'status' }, `${inc.status} · opened ${stamp(inc.opened_at)}`)));
    }));
    $('#no-incidents').hidden = incidents.length > 0;
  }

  // A small button that copies an id, a hash or a command.
  function copyButton(text, what) {
    return el('button', { type: 'button', class: 'copy', 'data-copy': text, title: `Copy ${what}` }, 'copy');
  }

  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Outside a secure context the clipboard API is absent: select and copy instead.
      const area = el('textarea', {}, text);
      document.body.append(area);
      area.select();
      document.execCommand('copy');
      area.remove();
    }
    showReply(`Copied: ${text}`, true);
  }

  function renderIncident({ incident, messages, timeline, evidence, deciders, board }) {
    state.deciders = deciders || {};
    renderBoard(board || []);
    $('#incident-title').textContent = `${incident.id} · ${incident.title}`;
    const meta = [`${incident.severity}`, incident.status,
      `opened ${stamp(incident.opened_at)}${incident.opened_by ? ` by ${incident.opened_by}` : ''}`];
    for (const [role, person] of Object.entries(incident.roles || {})) meta.push(`${role}: ${person}`);
    if ((incident.unacknowledged || []).length) meta.push(`not acknowledged: ${incident.unacknowledged.join(', ')}`);
    $('#incident-meta').textContent = meta.join(' · ');
    renderMessages(messages || []);
    renderApprovals(incident.requests || []);
    renderTimeline(timeline || []);
    $('#chain-head').textContent = incident.head || '—';
    $('#chain-copy').dataset.copy = incident.head || '';
    $('#chain-count').textContent = `${incident.entries} ${incident.entries === 1 ? 'entry' : 'entries'}`;
    renderEvidence(evidence || []);
  }

  function nearBottom(box) { return box.scrollHeight - box.scrollTop - box.clientHeight < 40; }

  // Appends only what is new, so reading further up is not disturbed.
  function appendNew(box, items, shown, keyOf, draw) {
    const follow = shown.size === 0 || nearBottom(box);
    for (const item of items) {
      const key = keyOf(item);
      if (shown.has(key)) continue;
      shown.add(key);
      box.append(draw(item));
    }
    if (follow) box.scrollTop = box.scrollHeight;
  }

  function renderMessages(messages) {
    appendNew($('#messages'), messages, state.shownMessages, (m) => m.id, (m) =>
      el('li', { 'data-message-id': m.id },
        el('div', { class: 'msg-head' },
          el('span', { class: 'author' }, m.author),
          timeEl(m.at),
          m.request ? el('span', { class: 'tag' }, m.request) : null),
        el('div', { class: 'msg-text' }, m.text)));
    // Approval cards are edited in place (approved, executed, …): refresh changed text.
    for (const m of messages) {
      const li = $('#messages').querySelector(`li[data-message-id="${CSS.escape(String(m.id))}"] .msg-text`);
      if (li && li.textContent !== m.text) li.textContent = m.text;
    }
  }

  function renderTimeline(entries) {
    appendNew($('#timeline'), entries, state.shownSeqs, (e) => e.seq, (e) =>
      el('li', { 'data-seq': e.seq, title: e.kind },
        el('div', { class: 'tl-head' },
          el('span', {}, `#${e.seq}`),
          timeEl(e.at),
          el('span', {}, e.actor),
          el('code', { class: 'hash', title: e.hash }, short(e.hash))),
        el('div', { class: 'tl-text' }, e.describe),
        e.changes ? el('ul', { class: 'tl-changes' }, ...e.changes.map((c) => el('li', {}, c))) : null));
  }

  // Each artifact can be opened (text, JSON) or downloaded; the server re-checks its SHA-256
  // before sending it and refuses one that changed. The links carry no token: with one, the
  // page fetches them itself with the token in a header (see openEvidence).
  function evidenceUrl(r, view) {
    const path = `${API}/incidents/${encodeURIComponent(state.incident)}/evidence/${encodeURIComponent(r.id)}`;
    return view ? `${path}?view=true` : path;
  }

  function renderEvidence(records) {
    $('#evidence').replaceChildren(...records.map((r) =>
      el('li', { 'data-evidence': r.id, title: r.location },
        el('strong', {}, `${r.id} ${r.name}`), ' ',
        el('code', { title: r.sha256 }, short(r.sha256)), copyButton(r.sha256, 'SHA-256'),
        ` · ${size(r.size)} · ${r.collected_by} · `,
        timeEl(r.collected_at, stamp(r.collected_at)), ' · ',
        el('a', { href: evidenceUrl(r, true), target: '_blank', rel: 'noopener', 'data-view': r.id }, 'view'), ' · ',
        el('a', { href: evidenceUrl(r, false), download: '', 'data-download': r.id }, 'download'))));
    if (!records.length) $('#evidence').append(el('li', { class: 'muted' }, 'No evidence recorded.'));
    state.evidence = new Map(records.map((r) => [r.id, r]));
  }

  // Larger artifacts (a checkpoint) go straight to the browser's own download: the server has
  // re-checked their hash, and holding them in memory to hash again would not be kind.
  const CHECK_IN_PAGE = 64 * 1024 * 1024;
  // Larger artifacts are not shown as text in a tab (with a token, "view" reads them whole).
  const VIEW_IN_PAGE = 8 * 1024 * 1024;

  function hex(buffer) {
    return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
  }

  // Fetch an artifact for the page; a refusal (a changed artifact, a token not allowed) is
  // shown in the reply and answers null.
  async function fetchEvidence(r, href, what) {
    let res;
    try {
      res = await fetch(href, { cache: 'no-store', headers: authHeaders() });
    } catch (err) {
      showReply(`${r.id} not ${what}: cannot reach warroom: ${err.message}`, false);
      return null;
    }
    if (!res.ok) {
      let message = `HTTP ${res.status}`;
      try { message = (await res.json()).message || message; } catch { /* keep the status */ }
      showReply(`${r.id} not ${what}: ${message}`, false);
      return null;
    }
    return res;
  }

  // With a token, "view" fetches the artifact and shows it as text in a new tab. The tab is
  // opened before the fetch (a tab opened after an await is blocked as a popup) and is given
  // text only, never markup, so an artifact cannot run script in the console's origin.
  async function viewEvidence(link, r) {
    // Shown as text from memory: a large artifact (a checkpoint) would hold the tab.
    if (r.size > VIEW_IN_PAGE) {
      showReply(`${r.id} is ${size(r.size)}, too large to show here: use download`, false);
      return;
    }
    const tab = window.open('', '_blank');
    if (!tab) {
      showReply(`${r.id} not shown: the browser blocked the new tab; use download`, false);
      return;
    }
    tab.opener = null;
    tab.document.title = `${r.id} ${r.name}`;
    tab.document.body.textContent = `Loading ${r.id}…`;
    const res = await fetchEvidence(r, link.href, 'shown');
    if (!res) {
      tab.close();
      return;
    }
    let text;
    try {
      text = await res.text();
    } catch (err) {
      tab.close();
      showReply(`${r.id} not shown: the transfer broke off: ${err.message}`, false);
      return;
    }
    const pre = tab.document.createElement('pre');
    pre.style.whiteSpace = 'pre-wrap';
    pre.textContent = text;
    tab.document.body.replaceChildren(pre);
  }

  // A download the page fetches itself: the server's refusal (a changed artifact) is shown
  // here, and, up to CHECK_IN_PAGE where the browser can hash, the bytes received are hashed
  // again and compared with the ledger's record before they are saved. Without a token a
  // larger artifact is left to the browser's own download, which streams it; with one the
  // page must fetch it to send the header, so it is held in memory once.
  async function openEvidence(e) {
    const link = e.target.closest && e.target.closest('a[data-download], a[data-view]');
    const r = link && state.evidence && state.evidence.get(link.dataset.download || link.dataset.view);
    if (!r) return;
    if (link.dataset.view) {
      if (token()) {
        e.preventDefault();
        viewEvidence(link, r);
      }
      return;
    }
    const check = r.size <= CHECK_IN_PAGE && !!(window.crypto && crypto.subtle);
    if (!check && !token()) return;
    e.preventDefault();
    const res = await fetchEvidence(r, link.href, 'downloaded');
    if (!res) return;
    let bytes;
    try {
      bytes = await res.arrayBuffer();
    } catch (err) {
      showReply(`${r.id} not downloaded: the transfer broke off: ${err.message}`, false);
      return;
    }
    let checked = 'the server checked its SHA-256 before sending it';
    if (check) {
      const sum = hex(await crypto.subtle.digest('SHA-256', bytes));
      if (sum !== r.sha256) {
        showReply(`${r.id} not saved: the bytes received hash to ${sum}, the ledger records ${r.sha256}`, false);
        return;
      }
      checked = `SHA-256 ${sum} matches the ledger`;
    }
    const url = URL.createObjectURL(new Blob([bytes], { type: res.headers.get('Content-Type') || 'application/octet-stream' }));
    const save = el('a', { href: url, download: `${r.id}-${r.name.split('/').pop()}`, hidden: true });
    document.body.append(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    showReply(`Downloaded ${r.id} ${r.name} (${size(r.size)}): ${checked}`, true);
  }

  // What warroom changed and has not changed back, each with its undo command.
  function renderBoard(board) {
    const target = (t) => `${(t.kind || '').toLowerCase()} ${t.namespace ? `${t.namespace}/` : ''}${t.name || ''}`;
    $('#board').replaceChildren(...(board.length ? board.map((c) => el('li', { 'data-contained': c.request },
      el('strong', {}, target(c.target || {})), ` ${c.state} `,
      el('span', { class: 'muted' }, `(${c.request}, ${c.cluster})`),
      el('div', {}, 'undo: ', el('code', {}, c.undo), copyButton(c.undo, 'the undo command')))) : [el('li', { class: 'muted' }, 'Nothing contained.')]));
  }

  // Unchanged cards keep their elements, so a button is not swapped out under the pointer.
  function renderApprovals(requests) {
    const box = $('#approvals');
    const old = new Map();
    for (const card of box.querySelectorAll('[data-request]')) old.set(card.dataset.request, card);
    const cards = requests.filter((r) => r.spec && OPEN.has(r.status)).map((r) => {
      const key = JSON.stringify(r);
      const existing = old.get(r.spec.request);
      if (existing && state.cardKeys.get(existing) === key) return existing;
      const card = requestCard(r);
      state.cardKeys.set(card, key);
      return card;
    });
    box.replaceChildren(...(cards.length ? cards : [el('p', { class: 'muted' }, 'Nothing waiting for approval.')]));
    tick();
  }

  function requestCard(r) {
    const s = r.spec;
    const t = s.target || {};
    const target = `${t.kind || ''} ${t.namespace ? `${t.namespace}/` : ''}${t.name || ''}`.trim();
    const params = Object.entries(s.params || {})
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ');
    const approvers = (r.approvers || []).map(personName);
    const pending = r.status === 'pending';
    const deadline = pending ? s.expires_at : r.execute_by;
    // Only the people who may decide get live buttons; everyone sees who they are.
    const who = state.drill ? $('#person').value : state.you;
    const may = (state.deciders || {})[s.request] || { people: [], roles: '', missing: 0 };
    const eligible = (may.people || []).includes(who);
    const needs = `needs ${may.missing} of: ${(may.people || []).map(personName).join(', ') || 'nobody'} (roles: ${may.roles})`;
    const why = who === r.requested_by ? `your request — ${needs}` : (eligible ? '' : needs);
    const rows = [
      ['target', target], ['cluster', s.cluster], ['uid', s.uid], ['params', params || '—'],
      ['reason', s.reason || '—'], ['requested by', r.requested_by],
      ['approvals', `${approvers.length} / ${s.approvals_needed}${approvers.length ? ` (${approvers.join(', ')})` : ''}`],
    ];
    if (s.plan_of_change) rows.splice(1, 0, ['plan of change', s.plan_of_change]);
    for (const note of s.notes || []) rows.push(['note', note]);
    if (r.break_glass) rows.push(['break-glass', typeof r.break_glass === 'string' ? r.break_glass : JSON.stringify(r.break_glass)]);
    const list = el('dl', {});
    for (const [name, value] of rows) list.append(el('dt', {}, name), el('dd', {}, value ?? ''));
    if (deadline) {
      list.append(el('dt', {}, pending ? 'expires' : 'run by'),
        el('dd', {}, el('span', { class: 'countdown', 'data-deadline': deadline, title: utc(deadline) }), ` (${clock(deadline)})`));
    }
    return el('div', { class: 'request', 'data-request': s.request, 'data-status': r.status },
      el('div', { class: 'req-top' },
        el('strong', {}, s.request),
        el('span', {}, `${s.action} (${s.risk})`),
        el('span', { class: 'req-status' }, pending ? 'waiting for approval' : `${r.status} — in progress`)),
      list,
      pending ? el('div', { class: 'req-actions' },
        el('button', { type: 'button', 'data-approve': s.request, disabled: eligible ? null : 'disabled',
          title: eligible ? null : needs }, 'Approve'),
        el('button', { type: 'button', 'data-deny': s.request, disabled: eligible ? null : 'disabled',
          title: eligible ? null : needs }, 'Deny'),
        why ? el('span', { class: 'req-needs' }, why) : null) : null);
  }

  function tick() {
    const now = Date.now();
    if (state.drill && ++state.ticks % 2 === 0) refreshGameDay();
    for (const span of document.querySelectorAll('[data-deadline]')) {
      const left = new Date(span.dataset.deadline).getTime() - now;
      if (Number.isNaN(left)) continue;
      span.textContent = left >= 0 ? `in ${duration(left)}` : `${duration(left)} ago`;
      span.classList.toggle('late', left < 60000);
    }
  }

  // ---- commands -----------------------------------------------------------------------

  async function send(text) {
    const person = $('#person').value;
    if (state.drill && !person) {
      showReply('Choose who you are in the "Acting as" list first.', false);
      $('#person').focus();
      return false;
    }
    const payload = { person: state.drill ? person : '', text };
    if (state.incident) payload.incident = state.incident;
    $('#send').disabled = true;
    try {
      const { status, body } = await api('/command', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(payload),
      });
      const ok = body.ok === true && status >= 200 && status < 300;
      showReply(body.message || `HTTP ${status}`, ok);
      // A command that opened (or answered for) another incident takes the view there.
      if (body.incident && (!state.incident || (ok && body.incident !== state.incident))) select(body.incident);
      scheduleRefresh(null);
      return ok;
    } finally {
      $('#send').disabled = false;
    }
  }

  async function submitCommand(event) {
    event.preventDefault();
    const input = $('#command');
    const text = input.value.trim();
    if (!text) return;
    remember(text);
    // A refused command stays in the box to be fixed.
    if (await send(text)) input.value = '';
    input.focus();
  }

  function remember(text) {
    if (state.history[state.history.length - 1] !== text) state.history.push(text);
    state.history = state.history.slice(-HISTORY_MAX);
    state.historyPos = state.history.length;
    state.draft = '';
    store.set(KEY.history, JSON.stringify(state.history));
  }

  function browseHistory(event) {
    if (event.isComposing || (event.key !== 'ArrowUp' && event.key !== 'ArrowDown')) return;
    const input = event.target;
    const h = state.history;
    if (event.key === 'ArrowUp' && state.historyPos > 0) {
      if (state.historyPos === h.length) state.draft = input.value;
      state.historyPos--;
    } else if (event.key === 'ArrowDown' && state.historyPos < h.length) {
      state.historyPos++;
    } else {
      return;
    }
    event.preventDefault();
    input.value = state.historyPos === h.length ? state.draft : h[state.historyPos];
    input.setSelectionRange(input.value.length, input.value.length);
  }

  function onApprovalClick(event) {
    const button = event.target.closest('button');
    if (!button) return;
    if (button.dataset.approve) {
      send(`approve ${button.dataset.approve}`);
    } else if (button.dataset.deny) {
      const reason = window.prompt(`Deny ${button.dataset.deny}? Reason (optional):`, '');
      if (reason === null) return;
      const oneLine = reason.replace(/\s+/g, ' ').trim();
      send(`deny ${button.dataset.deny}${oneLine ? ` ${oneLine}` : ''}`);
    }
  }

  // ---- start --------------------------------------------------------------------------

  async function start() {
    try { state.history = JSON.parse(store.get(KEY.history) || '[]'); } catch { state.history = []; }
    if (!Array.isArray(state.history)) state.history = [];
    state.historyPos = state.history.length;

    $('#command-form').addEventListener('submit', submitCommand);
    $('#command').addEventListener('keydown', browseHistory);
    $('#token-box').addEventListener('submit', saveToken);
    $('#incident-search').addEventListener('input', () => renderIncidents(state.incidentList || []));
    $('#incident-state').addEventListener('change', () => renderIncidents(state.incidentList || []));
    document.addEventListener('click', (e) => {
      const button = e.target.closest && e.target.closest('button[data-copy]');
      if (button) copy(button.dataset.copy);
    });
    $('#person').addEventListener('change', (e) => {
      store.set(KEY.person, e.target.value);
      // Another person: their own buttons and messages, not the last person's reply.
      state.cardKeys = new WeakMap();
      showReply('', true);
      refreshNow();
    });
    $('#approvals').addEventListener('click', onApprovalClick);
    $('#evidence').addEventListener('click', openEvidence);
    window.addEventListener('hashchange', () => select(idFromHash()));
    setInterval(tick, 1000);

    const fromHash = idFromHash();
    if (fromHash) {
      state.incident = fromHash;
      clearIncident(`Loading ${fromHash}…`);
    }
    if (!(await loadSession())) return;
    connectEvents();
    refreshNow();
    $(canRead() ? '#command' : '#token').focus();
  }

  start();
})();
