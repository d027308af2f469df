// safetytwin's pages: Timeline, State at T, Diff, Process, Twin, Integrity. One file, no
// dependencies. Served by `twin-replay ui` (data from /api/...) and inlined by `twin-replay
// report` (data from the embedded <script type="application/json" id="twin-report"> block).
//
// Everything that comes from the host is hostile. It reaches the page only as text: through
// text nodes (txt(), which also shows control, invisible and bidi characters as visible escapes)
// and attributes this file names itself. No innerHTML, no string-built markup, no eval, no
// href from data (links are "#/..." fragments built here with encodeURIComponent).
'use strict';
(function () {
  const REPORT_EL = document.getElementById('twin-report');
  const REPORT = REPORT_EL ? JSON.parse(REPORT_EL.textContent) : null;
  const NS_PER_MS = 1000000n;

  // ---- DOM helpers ------------------------------------------------------------------------
  // Characters shown as escapes: C0/C1 controls, DEL, zero-width and bidi controls (U+200B-U+200F,
  // U+202A-U+202E, U+2066-U+2069), word joiners, BOM, line/paragraph separators, and the log's
  // byte escapes U+10FF00 + byte (format/json_writer.h) shown as \xNN.
  const ESCAPED = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\ufff9-\ufffb\u{e0000}-\u{e007f}\u{10ff00}-\u{10ffff}]/u;
  const ESCAPED_G = new RegExp(ESCAPED.source, 'gu');
  function escName(ch) {
    const cp = ch.codePointAt(0);
    if (cp >= 0x10ff00) return '\\x' + (cp - 0x10ff00).toString(16).padStart(2, '0');
    if (cp === 10) return '\\n';
    if (cp === 9) return '\\t';
    if (cp === 13) return '\\r';
    return '\\u{' + cp.toString(16).toUpperCase().padStart(4, '0') + '}';
  }
  // A fragment showing s as text; escaped characters in <span class="esc"> so they stand out.
  function txt(s) {
    const f = document.createDocumentFragment();
    s = s === undefined || s === null ? '' : String(s);
    if (!ESCAPED.test(s)) {
      f.appendChild(document.createTextNode(s));
      return f;
    }
    let last = 0;
    for (const m of s.matchAll(ESCAPED_G)) {
      if (m.index > last) f.appendChild(document.createTextNode(s.slice(last, m.index)));
      const e = document.createElement('span');
      e.className = 'esc';
      e.textContent = escName(m[0]);
      f.appendChild(e);
      last = m.index + m[0].length;
    }
    if (last < s.length) f.appendChild(document.createTextNode(s.slice(last)));
    return f;
  }
  // el('div', {className: 'x', onclick: fn}, child...): strings and numbers become text.
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'className') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'href') e.setAttribute('href', safeHref(v));
      else if (k === 'title') e.title = String(v);
      else if (k === 'value') e.value = v;
      else e.setAttribute(k, String(v));
    }
    for (const c of kids) add(e, c);
    return e;
  }
  function add(parent, c) {
    if (c === undefined || c === null || c === false) return;
    if (Array.isArray(c)) { for (const x of c) add(parent, x); return; }
    if (c instanceof Node) parent.appendChild(c);
    else parent.appendChild(txt(c));
  }
  // Only our own fragment links: anything else becomes "#".
  function safeHref(h) { return /^#\/[a-z]*(\?[A-Za-z0-9_.~%=&+-]*)?$/.test(h) ? h : '#'; }
  const SVGNS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, String(v));
    }
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
  function link(page, params, ...kids) { return el('a', {href: '#/' + page + qs(params)}, ...kids); }
  function qs(params) {
    const parts = [];
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== undefined && v !== null && v !== '') parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(v));
    }
    return parts.length ? '?' + parts.join('&') : '';
  }

  // ---- time ---------------------------------------------------------------------------------
  // ns values are exact in JSON but not as JS numbers: kept as BigInt where they are compared.
  function big(v) {
    if (typeof v === 'bigint') return v;
    if (typeof v === 'string' && /^-?[0-9]+$/.test(v)) return BigInt(v);
    return BigInt(Math.trunc(Number(v)));
  }
  function iso(ns) {
    const b = big(ns);
    const d = new Date(Number(b / NS_PER_MS));
    const frac = (b % 1000000000n).toString().padStart(9, '0');
    return d.toISOString().slice(0, 19) + '.' + frac + 'Z';
  }
  function isoShort(ns) { return new Date(Number(big(ns) / NS_PER_MS)).toISOString().replace('T', ' ').slice(0, 23); }
  function dur(ns) {
    const s = Number(ns) / 1e9;
    if (s < 1) return (s * 1000).toFixed(1) + ' ms';
    if (s < 120) return s.toFixed(1) + ' s';
    if (s < 7200) return (s / 60).toFixed(1) + ' min';
    if (s < 172800) return (s / 3600).toFixed(1) + ' h';
    return (s / 86400).toFixed(1) + ' d';
  }
  // JSON.parse loses precision above 2^53: ns fields are re-read from the text where it matters.
  function parseJsonExact(text) {
    return JSON.parse(text, function (k, v, ctx) {
      if (typeof v === 'number' && !Number.isSafeInteger(v) && Number.isInteger(v) && ctx && ctx.source) return BigInt(ctx.source);
      return v;
    });
  }

  // ---- data -----------------------------------------------------------------------------------
  class ApiError extends Error {}
  async function api(name, params) {
    if (REPORT) return reportApi(name, params || {});
    const r = await fetch('/api/' + name + qs(params), {credentials: 'same-origin', cache: 'no-store'});
    const text = await r.text();
    if (!r.ok) {
      let msg = 'HTTP ' + r.status;
      try { msg = JSON.parse(text).error || msg; } catch (e) { /* not JSON: keep the status */ }
      throw new ApiError(msg);
    }
    if (name === 'events') return {events: lines(text), more: r.headers.get('X-Twin-More') === '1'};
    return parseJsonExact(text);
  }
  function lines(text) { return text.split('\n').filter((l) => l.length).map(parseJsonExact); }

  // The report holds the documents of one window; the pages ask it the same questions.
  function reportDoc(key) {
    const d = REPORT.docs[key];
    if (d === undefined) throw new ApiError('not in this report (' + key + ')');
    if (d && d.status && d.body) throw new ApiError(d.body.error || ('HTTP ' + d.status));
    return d;
  }
  function reportStop(at) {
    let best = REPORT.stops[0];
    for (const s of REPORT.stops) if (big(s) <= big(at)) best = s;
    return best;
  }
  let reportEvents = null;
  function reportApi(name, p) {
    switch (name) {
      case 'info': case 'verify': case 'twin': case 'seals': case 'timeline': return reportDoc(name);
      case 'diff': return reportDoc('diff');
      case 'state': return reportDoc('state@' + reportStop(p.at || REPORT.until_ns));
      case 'tree': return reportDoc('tree@' + reportStop(p.at || REPORT.until_ns));
      case 'snapshot-before': return {at_ns: p.at, snapshot_ts_ns: null};
      case 'events': {
        if (p.kind === 'audit') { const a = reportDoc('audit'); return {events: lines(a.lines), more: a.more}; }
        if (!reportEvents) { const e = reportDoc('events'); reportEvents = {all: lines(e.lines), more: e.more}; }
        const since = p.since !== undefined ? big(p.since) : -1n, until = p.until !== undefined ? big(p.until) : big(REPORT.until_ns);
        const kinds = p.kind ? p.kind.split(',') : null;
        const out = reportEvents.all.filter((e) => big(e.ts_ns) >= since && big(e.ts_ns) <= until &&
          (!kinds || kinds.includes(e.kind)) && (p.pid === undefined || String(e.pid) === String(p.pid)));
        const limit = p.limit ? Number(p.limit) : 1000;
        return {events: out.slice(0, limit), more: out.length > limit || reportEvents.more};
      }
      case 'lineage': {
        // Not embedded: the process's own events of the window stand in for it.
        const e = reportDoc('events');
        const evs = lines(e.lines).filter((x) => x.process_id === p.id || x.parent_process_id === p.id);
        if (!evs.length) throw new ApiError('process ' + p.id + ' has no events in this report');
        const first = evs[0];
        return {id: p.id, pid: first.pid, start_time: first.time, start_kind: first.kind, uncertain: false,
          process: first, ancestors: [], ancestry_complete: false, descendants: [], events: evs,
          exit: evs.find((x) => x.kind === 'exit' && x.process_id === p.id) || null, report_only: true};
      }
    }
    throw new ApiError('not in this report: ' + name);
  }

  // ---- shared rendering -----------------------------------------------------------------------
  const KIND_COLORS = {
    exec: '#2f6fdf', exit: '#8a8f98', fork: '#70a0ff', bind: '#d98b1f', listen: '#e0a030', close: '#b06a10',
    unit_start: '#2a9d5b', unit_stop: '#1c6e3f', unit_file: '#6bbf8a', host: '#7b5ea7', gap: '#d33',
    resync: '#a06cd5', daemon_start: '#444', daemon_stop: '#000', twin: '#c2185b', audit: '#00838f',
    retention: '#795548', fleet: '#607d8b',
  };
  function kindColor(k) { return KIND_COLORS[k] || '#999'; }
  function swatch(k) {
    const s = svg('svg', {width: 10, height: 10, class: 'swatch'});
    s.appendChild(svg('rect', {width: 10, height: 10, fill: kindColor(k)}));
    return s;
  }

  function cmdline(p) {
    const argv = p.argv && p.argv.length ? p.argv : [p.comm || ''];
    return argv.map((a) => (a === '' || /[\s'"\\]/.test(a) ? JSON.stringify(a) : a)).join(' ') + (p.argv_truncated ? ' …(truncated)' : '');
  }
  function procLink(id, label) { return id ? link('process', {id: id}, label === undefined ? id : label) : label || ''; }
  function eventDetail(e) {
    switch (e.kind) {
      case 'exec': return [cmdline(e), e.exe ? ['  exe ', el('code', null, e.exe)] : null];
      case 'exit': return 'exit ' + e.exit_code + (e.signal ? ' signal ' + e.signal : '') + ' after ' + dur(e.duration_ns || 0) + ' ' + (e.comm || '');
      case 'fork': return 'parent ' + e.ppid;
      case 'bind': case 'listen': case 'close':
        return (e.proto || '') + ' ' + (e.family === 'ipv6' ? '[' + e.addr + ']' : e.addr) + ':' + e.port + ' ' + (e.comm || '') + (e.kind === 'bind' && e.result ? ' result ' + e.result : '');
      case 'unit_start': case 'unit_stop': case 'unit_file': return (e.unit || '') + (e.unit_file_path ? ' ' + e.unit_file_path : '');
      case 'gap': return 'lost ' + e.lost + ' from ' + iso(e.gap_start_ns) + (e.gap_end_ns ? ' to ' + iso(e.gap_end_ns) : ' (open)') + ' ' + (e.reason || '');
      case 'resync': return (e.op || '') + ' ' + (e.entity || '') + ' ' + (e.comm || e.unit || '');
      case 'host': return e.host ? e.host.hostname + ' ' + e.host.kernel : '';
      default:
        if (e.attrs) return Object.entries(e.attrs).map(([k, v]) => k + '=' + v).join(' ') + (e.message ? ' — ' + e.message : '');
        return e.message || '';
    }
  }
  function eventsTable(events, more) {
    const t = el('table', {className: 'events'},
      el('thead', null, el('tr', null, el('th', null, 'time'), el('th', null, 'kind'), el('th', null, 'pid'), el('th', null, 'process'), el('th', null, 'detail'))));
    const tb = el('tbody');
    for (const e of events) {
      tb.appendChild(el('tr', {'data-kind': e.kind},
        el('td', {className: 'time'}, isoShort(e.ts_ns)),
        el('td', null, el('span', {className: 'kind k-' + e.kind}, e.kind)),
        el('td', null, e.pid ? String(e.pid) : ''),
        el('td', {className: 'pid'}, e.process_id ? procLink(e.process_id, 'open') : ''),
        el('td', {className: 'detail'}, eventDetail(e))));
    }
    t.appendChild(tb);
    return el('div', null, t, el('p', {className: 'note'}, events.length + ' events' + (more ? ' shown; there are more (narrow the range)' : '')));
  }
  function errorBox(err) { return el('p', {className: 'error', role: 'alert'}, 'Error: ' + (err && err.message ? err.message : String(err))); }
  function section(title, ...kids) { return el('section', null, el('h2', null, title), ...kids); }
  function table(headers, rows, cls) {
    return el('table', {className: cls || ''}, el('thead', null, el('tr', null, headers.map((h) => el('th', null, h)))),
      el('tbody', null, rows));
  }
  function input(id, value, placeholder) { return el('input', {id: id, value: value || '', placeholder: placeholder || '', size: 30, spellcheck: 'false'}); }

  // ---- pages --------------------------------------------------------------------------------
  const PAGES = {timeline: pageTimeline, state: pageState, diff: pageDiff, process: pageProcess, twin: pageTwin, integrity: pageIntegrity};
  const TITLES = [['timeline', 'Timeline'], ['state', 'State at T'], ['diff', 'Diff'], ['twin', 'Twin'], ['integrity', 'Integrity']];
  let renderSeq = 0;

  function route() {
    const h = location.hash.replace(/^#\/?/, '');
    const [page, query] = h.split('?');
    return {page: PAGES[page] ? page : 'timeline', params: Object.fromEntries(new URLSearchParams(query || ''))};
  }
  function go(page, params) { location.hash = '#/' + page + qs(params); }

  async function render() {
    const seq = ++renderSeq;
    const {page, params} = route();
    const top = clear(document.getElementById('top'));
    top.appendChild(el('span', {className: 'brand'}, 'safetytwin'));
    if (REPORT) top.appendChild(el('span', {className: 'badge'}, 'report ' + iso(REPORT.since_ns) + ' .. ' + iso(REPORT.until_ns)));
    const nav = el('nav');
    for (const [p, t] of TITLES) nav.appendChild(el('a', {href: '#/' + p, className: p === page ? 'active' : ''}, t));
    top.appendChild(nav);
    const main = clear(document.getElementById('main'));
    main.setAttribute('data-page', page);
    main.setAttribute('aria-busy', 'true');
    try {
      await PAGES[page](main, params, () => seq === renderSeq);
    } catch (e) {
      if (seq === renderSeq) main.appendChild(errorBox(e));
    }
    if (seq === renderSeq) {
      main.setAttribute('aria-busy', 'false');
      main.setAttribute('data-ready-ms', String(Math.round(performance.now())));  // since navigation
    }
  }

  // Timeline: counts per bucket by kind, aggregated by the server (/api/timeline).
  async function pageTimeline(main, p, current) {
    const controls = el('form', {className: 'controls', onsubmit: (ev) => { ev.preventDefault(); go('timeline', {since: document.getElementById('since').value, until: document.getElementById('until').value}); }},
      el('label', null, 'since ', input('since', p.since, 'first event; -1h, RFC 3339, epoch')),
      el('label', null, ' until ', input('until', p.until, 'last event; now')),
      el('button', {type: 'submit'}, 'Show'));
    main.appendChild(controls);
    const presets = el('div', {className: 'presets'});
    for (const [label, since] of [['1 min', '-1m'], ['1 h', '-1h'], ['1 day', '-1d'], ['7 days', '-7d'], ['30 days', '-30d'], ['whole log', '']]) {
      if (!REPORT) presets.appendChild(el('button', {type: 'button', onclick: () => go('timeline', {since: since, until: since ? 'now' : ''})}, label));
    }
    main.appendChild(presets);
    const params = {};
    if (REPORT) { params.since = REPORT.since_ns; params.until = REPORT.until_ns; }
    if (p.since) params.since = p.since;
    if (p.until) params.until = p.until;
    const t0 = performance.now();
    const tl = await api('timeline', params);
    if (!current()) return;
    const ms = performance.now() - t0;
    main.appendChild(el('p', {className: 'summary', id: 'tl-summary', 'data-total': String(tl.total), 'data-bucket': tl.bucket},
      String(tl.total) + ' events from ' + iso(tl.since_ns) + ' to ' + iso(tl.until_ns) + ', ' + tl.bucket + ' buckets (' + Math.round(ms) + ' ms)'));
    const zoom = el('div', {className: 'presets'},
      el('button', {type: 'button', id: 'zoom-out', disabled: REPORT ? 'disabled' : null, onclick: () => {
        const a = big(tl.since_ns), b = big(tl.until_ns), span = b - a;
        go('timeline', {since: String(a - span / 2n), until: String(b + span / 2n)});
      }}, 'zoom out'),
      el('span', {className: 'note'}, REPORT ? ' click a bar to list its events' : ' click a bar to list its events; double-click to zoom into it'));
    main.appendChild(zoom);
    main.appendChild(drawTimeline(tl, main));
    // Totals by kind (what the bars add up to).
    const rows = tl.kinds.map((k, i) => el('tr', {'data-kind': k}, el('td', null, swatch(k), ' ', k), el('td', {className: 'num'}, String(tl.kind_totals[i]))));
    main.appendChild(section('Events by kind', table(['kind', 'events'], rows, 'totals')));
    const marks = [];
    for (const g of tl.gaps) marks.push(el('li', {className: 'gapnote'}, 'gap ' + iso(g.start_ns) + ' .. ' + (g.open ? 'open' : iso(g.end_ns)) + ' (events were lost: states inside are uncertain)'));
    for (const d of tl.daemon_down) marks.push(el('li', {className: 'gapnote'}, 'daemon down ' + iso(d.start_ns) + ' .. ' + iso(d.end_ns)));
    for (const s of tl.twin_snapshots) marks.push(el('li', null, 'twin snapshot ', el('code', null, s.id), ' taken ' + iso(s.created_ns) + ' of the host at ' + iso(s.state_ts_ns)));
    for (const a of tl.twin_actions) marks.push(el('li', null, 'twin ' + isoShort(a.ts_ns) + ' ', eventDetail(a)));
    main.appendChild(section('Gaps and markers', el('p', {className: 'note'}, tl.snapshots_total + ' state snapshots, ' + tl.twin_snapshots_total + ' twin snapshots, ' + tl.twin_actions_total + ' twin actions in the range'),
      marks.length ? el('ul', null, marks) : el('p', {className: 'note'}, 'no gaps, no twin activity')));
    main.appendChild(el('div', {id: 'bucket-events'}));
  }

  function drawTimeline(tl, main) {
    const W = 1000, H = 260, top = 24, bottom = 40, left = 50;
    const n = Number(tl.buckets);
    const bw = (W - left) / Math.max(n, 1);
    const totals = tl.counts.map((row) => row.reduce((a, b) => a + b, 0));
    const max = Math.max(1, ...totals);
    const s = svg('svg', {viewBox: '0 0 ' + W + ' ' + H, class: 'timeline', role: 'img', 'aria-label': 'events per ' + tl.bucket,
      'data-bucket-ns': String(tl.bucket_ns), 'data-since-ns': String(tl.since_ns), 'data-until-ns': String(tl.until_ns)});
    const origin = big(tl.origin_ns), width = big(tl.bucket_ns);
    const x = (ns) => left + Number(big(ns) - origin) / Number(width) * bw;
    // axis
    s.appendChild(svg('line', {x1: left, y1: H - bottom, x2: W, y2: H - bottom, class: 'axis'}));
    const yl = svg('text', {x: 4, y: top + 10, class: 'label'});
    yl.textContent = String(max);
    s.appendChild(yl);
    // gaps first (behind the bars): a hatched band over their span
    for (const g of tl.gaps.concat(tl.daemon_down)) {
      const a = Math.max(left, x(g.start_ns)), b = Math.min(W, x(g.end_ns));
      s.appendChild(svg('rect', {x: a, y: top, width: Math.max(2, b - a), height: H - top - bottom, class: 'gap'}));
    }
    for (let i = 0; i < n; i++) {
      const row = tl.counts[i];
      let y = H - bottom;
      const t0 = origin + BigInt(i) * width;
      const g = svg('g', {class: 'bucket', 'data-i': i, 'data-t': String(t0), 'data-count': totals[i],
        onclick: () => listBucket(t0, width), ondblclick: () => { if (!REPORT) go('timeline', {since: String(t0), until: String(t0 + width)}); }});
      const hit = svg('rect', {x: left + i * bw, y: top, width: bw, height: H - top - bottom, class: 'hit'});
      const title = svg('title');
      title.textContent = isoShort(t0) + ': ' + totals[i] + ' events' + tl.kinds.map((k, j) => (row[j] ? '\n' + k + ' ' + row[j] : '')).join('');
      g.appendChild(title);
      g.appendChild(hit);
      for (let j = 0; j < row.length; j++) {
        if (!row[j]) continue;
        const h = row[j] / max * (H - top - bottom);
        y -= h;
        g.appendChild(svg('rect', {x: left + i * bw + (bw > 3 ? 0.5 : 0), y: y, width: Math.max(0.5, bw - (bw > 3 ? 1 : 0)), height: Math.max(h, 0.5), fill: kindColor(tl.kinds[j]), 'data-kind': tl.kinds[j], 'data-count': row[j]}));
      }
      s.appendChild(g);
    }
    // markers: state snapshots (ticks below the axis), twin snapshots (triangles), twin actions (diamonds)
    for (const t of tl.snapshots) s.appendChild(svg('line', {x1: x(t), x2: x(t), y1: H - bottom + 2, y2: H - bottom + 8, class: 'snap'}));
    for (const r of tl.twin_snapshots) s.appendChild(svg('path', {d: 'M' + x(r.created_ns) + ' ' + (top - 2) + ' l-5 -9 h10 z', class: 'twinsnap'}));
    for (const a of tl.twin_actions) s.appendChild(svg('path', {d: 'M' + x(a.ts_ns) + ' ' + (top - 16) + ' l5 5 l-5 5 l-5 -5 z', class: 'twinact'}));
    const l1 = svg('text', {x: left, y: H - 8, class: 'label'});
    l1.textContent = isoShort(tl.since_ns);
    const l2 = svg('text', {x: W, y: H - 8, class: 'label', 'text-anchor': 'end'});
    l2.textContent = isoShort(tl.until_ns);
    s.appendChild(l1);
    s.appendChild(l2);
    return el('div', {className: 'chart'}, s);
  }

  async function listBucket(t0, width) {
    const box = clear(document.getElementById('bucket-events'));
    box.appendChild(el('h2', null, 'Events ' + iso(t0) + ' .. ' + iso(t0 + width)));
    try {
      const r = await api('events', {since: String(t0), until: String(t0 + width - 1n), limit: 2000});
      box.appendChild(eventsTable(r.events, r.more));
    } catch (e) {
      box.appendChild(errorBox(e));
    }
    box.scrollIntoView({block: 'nearest'});
  }

  // State at T with a slider over the log's span.
  async function pageState(main, p, current) {
    const range = REPORT ? null : await api('range', {});
    if (!current()) return;
    const lo = REPORT ? big(REPORT.since_ns) : big(range.first_ns);
    const hi = REPORT ? big(REPORT.until_ns) : big(range.last_ns);
    let at = p.at ? null : hi;
    const label = el('span', {id: 'state-at'});
    const slider = el('input', {type: 'range', id: 'slider', min: 0, max: 1000, step: 1, 'aria-label': 'time', 'data-lo': String(lo), 'data-hi': String(hi)});
    const text = input('at', p.at || '', 'RFC 3339, epoch, -5m');
    const body = el('div', {id: 'state-body'});
    main.appendChild(el('form', {className: 'controls', onsubmit: (ev) => { ev.preventDefault(); go('state', {at: text.value}); }},
      el('label', null, 'at ', text), el('button', {type: 'submit'}, 'Show')));
    main.appendChild(el('div', {className: 'slider'}, el('span', {className: 'note'}, isoShort(lo)), slider, el('span', {className: 'note'}, isoShort(hi))));
    main.appendChild(el('p', null, label));
    main.appendChild(body);
    const span = hi > lo ? hi - lo : 1n;
    const toNs = (v) => lo + span * BigInt(v) / 1000n;
    let timer = null, seq = 0;
    async function show(t, fromSlider) {
      const my = ++seq;
      const r = await stateView(t);
      if (my !== seq || !current()) return;
      clear(label).appendChild(txt('State at ' + iso(r.at_ns)));
      clear(body).appendChild(r.node);
      main.setAttribute('data-state-at', String(r.at_ns));
      if (!fromSlider) slider.value = String(Number((big(r.at_ns) - lo) * 1000n / span));
    }
    slider.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => show(toNs(slider.value), true).catch((e) => clear(body).appendChild(errorBox(e))), 120);
    });
    await show(p.at || String(at), false);
  }

  async function stateView(at) {
    const [st, tree, prev] = await Promise.all([api('state', {at: String(at)}), api('tree', {at: String(at)}), api('snapshot-before', {at: String(at)})]);
    let diff = null;
    if (prev.snapshot_ts_ns !== null && prev.snapshot_ts_ns !== undefined) {
      diff = await api('diff', {t1: String(prev.snapshot_ts_ns), t2: String(st.at_ns)});
    }
    const added = new Set(), changed = new Set();
    if (diff) {
      for (const x of diff.processes.added) added.add(x.id);
      for (const c of diff.processes.changed) changed.add(c.after.id);
    }
    const node = el('div');
    if (st.uncertain) node.appendChild(el('p', {className: 'uncertain', id: 'uncertain'}, 'UNCERTAIN: events were lost since ' + st.uncertain_since + ' (a gap): what is shown may be incomplete'));
    if (diff) node.appendChild(el('p', {className: 'note'}, 'Highlighted: what changed since the snapshot at ' + iso(prev.snapshot_ts_ns) + ' (' + diff.processes.added.length + ' processes started, ' + diff.processes.removed.length + ' ended, ' + diff.listeners.added.length + ' listeners opened, ' + diff.units.added.length + ' units started)'));
    else if (REPORT) node.appendChild(el('p', {className: 'note'}, 'Report: the slider stops at the states embedded in it (' + REPORT.stops.length + ').'));
    const h = st.host || {};
    node.appendChild(el('p', {className: 'host'}, 'host ', el('b', null, h.hostname || '?'), ' kernel ' + (h.kernel || '?') + ', ' + (h.cpus || '?') + ' CPUs, boot ' + (h.boot_id || '?')));
    // process tree
    const ul = el('ul', {className: 'tree', id: 'proc-tree'});
    const walk = (nodes, parent) => {
      for (const n of nodes) {
        const p = n.process;
        const cls = added.has(p.id) ? 'added' : changed.has(p.id) ? 'changed' : '';
        const li = el('li', {className: cls, 'data-pid': p.pid, 'data-id': p.id},
          el('span', {className: 'pidn'}, String(p.pid)), ' ', el('span', {className: 'argv'}, cmdline(p)), ' ',
          procLink(p.id, 'details'), p.unit ? el('span', {className: 'unit'}, ' ' + p.unit) : null);
        if (n.children.length) { const sub = el('ul'); walk(n.children, sub); li.appendChild(sub); }
        parent.appendChild(li);
      }
    };
    walk(tree.roots, ul);
    node.appendChild(section('Processes (' + st.processes.length + ')', ul));
    const removed = diff ? diff.processes.removed : [];
    if (removed.length) node.appendChild(section('Ended since the snapshot (' + removed.length + ')', el('ul', {className: 'removed'}, removed.slice(0, 200).map((p) => el('li', null, String(p.pid) + ' ', cmdline(p))))));
    const addedL = new Set(diff ? diff.listeners.added.map((l) => l.proto + l.addr + ':' + l.port) : []);
    node.appendChild(section('Listeners (' + st.listeners.length + ')', table(['proto', 'address', 'port', 'pid', 'process', 'unit'],
      st.listeners.map((l) => el('tr', {className: addedL.has(l.proto + l.addr + ':' + l.port) ? 'added' : ''}, el('td', null, l.proto + (l.family === 'ipv6' ? '6' : '')), el('td', null, l.addr), el('td', {className: 'num'}, String(l.port)),
        el('td', null, String(l.pid)), el('td', null, procLink(l.process_id, l.comm)), el('td', null, l.unit))))));
    const addedU = new Set(diff ? diff.units.added.map((u) => u.name) : []);
    node.appendChild(section('Units (' + st.units.length + ')', table(['unit', 'file', 'sha256', 'since'],
      st.units.map((u) => el('tr', {className: addedU.has(u.name) ? 'added' : ''}, el('td', null, u.name), el('td', null, u.file_path), el('td', null, el('code', null, (u.file_sha256 || '').slice(0, 16))), el('td', null, u.since_ns ? isoShort(u.since_ns) : ''))))));
    // Host configuration (captured when [host_config] is on): packages, config files, users.
    const keyOf = (x) => x.name + ':' + x.arch;
    const addedP = new Set(diff && diff.packages ? diff.packages.added.map(keyOf).concat(diff.packages.changed.map((c) => keyOf(c.after))) : []);
    const pk = st.packages || [];
    if (pk.length) node.appendChild(section('Packages (' + pk.length + ')', table(['package', 'arch', 'version', 'status'],
      pk.slice(0, 2000).map((p) => el('tr', {className: addedP.has(keyOf(p)) ? 'added' : ''}, el('td', null, p.name), el('td', null, p.arch), el('td', null, p.version), el('td', null, p.status))))));
    const addedF = new Set(diff && diff.config_files ? diff.config_files.added.map((f) => f.path).concat(diff.config_files.changed.map((c) => c.after.path)) : []);
    const cf = st.config_files || [];
    if (cf.length) node.appendChild(section('Config files (' + cf.length + ')', table(['path', 'type', 'mode', 'uid/gid', 'size', 'content', 'package', 'sha256'],
      cf.slice(0, 2000).map((f) => el('tr', {className: addedF.has(f.path) ? 'added' : ''}, el('td', null, f.path, f.target ? ' → ' + f.target : ''), el('td', null, f.type),
        el('td', null, (f.mode || 0).toString(8).padStart(4, '0')), el('td', null, f.uid + '/' + f.gid), el('td', {className: 'num'}, String(f.size)),
        el('td', null, f.content), el('td', null, (f.package || '') + (f.differs === 'yes' ? ' (differs)' : '')), el('td', null, el('code', null, (f.sha256 || '').slice(0, 16))))))));
    const us = st.users || [];
    if (us.length) node.appendChild(section('Users (' + us.length + ')', table(['user', 'uid', 'gid', 'home', 'shell'],
      us.map((u) => el('tr', null, el('td', null, u.name), el('td', {className: 'num'}, String(u.uid)), el('td', {className: 'num'}, String(u.gid)), el('td', null, u.home), el('td', null, u.shell))))));
    return {at_ns: st.at_ns, node: node};
  }

  async function pageDiff(main, p, current) {
    const t1 = input('t1', p.t1 || (REPORT ? String(REPORT.since_ns) : '-1h'), 'T1'), t2 = input('t2', p.t2 || (REPORT ? String(REPORT.until_ns) : 'now'), 'T2');
    main.appendChild(el('form', {className: 'controls', onsubmit: (ev) => { ev.preventDefault(); go('diff', {t1: t1.value, t2: t2.value}); }},
      el('label', null, 'from ', t1), el('label', null, ' to ', t2), el('button', {type: 'submit'}, 'Diff')));
    if (REPORT) main.appendChild(el('p', {className: 'note'}, 'Report: the diff between the start and the end of its window.'));
    const d = await api('diff', {t1: t1.value, t2: t2.value});
    if (!current()) return;
    main.appendChild(el('p', null, 'From ' + d.from + ' to ' + d.to));
    const procRow = (p, cls) => el('tr', {className: cls}, el('td', null, cls), el('td', null, String(p.pid)), el('td', null, procLink(p.id, cmdline(p))));
    main.appendChild(section('Processes', table(['', 'pid', 'command'], [].concat(
      d.processes.added.map((x) => procRow(x, 'added')), d.processes.removed.map((x) => procRow(x, 'removed')), d.processes.changed.map((c) => procRow(c.after, 'changed'))))));
    const lRow = (l, cls) => el('tr', {className: cls}, el('td', null, cls), el('td', null, l.proto + ' ' + l.addr + ':' + l.port), el('td', null, l.comm), el('td', null, l.unit));
    main.appendChild(section('Listeners', table(['', 'socket', 'process', 'unit'], [].concat(
      d.listeners.added.map((x) => lRow(x, 'added')), d.listeners.removed.map((x) => lRow(x, 'removed')), d.listeners.changed.map((c) => lRow(c.after, 'changed'))))));
    const uRow = (u, cls) => el('tr', {className: cls}, el('td', null, cls), el('td', null, u.name), el('td', null, u.file_path), el('td', null, el('code', null, (u.file_sha256 || '').slice(0, 16))));
    main.appendChild(section('Units', table(['', 'unit', 'file', 'sha256'], [].concat(
      d.units.added.map((x) => uRow(x, 'added')), d.units.removed.map((x) => uRow(x, 'removed')), d.units.changed.map((c) => uRow(c.after, 'changed'))))));
    const simple = (title, md, label) => {
      if (!md || !(md.added.length || md.removed.length || md.changed.length)) return;
      const row = (x, cls) => el('tr', {className: cls}, el('td', null, cls), el('td', null, label(x)));
      main.appendChild(section(title, table(['', ''], [].concat(md.added.map((x) => row(x, 'added')), md.removed.map((x) => row(x, 'removed')), md.changed.map((c) => row(c.after, 'changed'))))));
    };
    simple('Packages', d.packages, (p) => p.name + ':' + p.arch + ' ' + p.version);
    simple('Config files', d.config_files, (f) => f.path + ' ' + (f.sha256 || '').slice(0, 16));
    simple('Users', d.users, (u) => u.name + ' uid ' + u.uid);
    simple('Groups', d.groups, (g) => g.name + ' gid ' + g.gid);
    if (d.host_changed) main.appendChild(section('Host', el('p', null, 'host facts changed: ' + (d.host_before.hostname || '') + ' ' + (d.host_before.kernel || '') + ' → ' + (d.host_after.hostname || '') + ' ' + (d.host_after.kernel || ''))));
  }

  async function pageProcess(main, p, current) {
    const idIn = input('pid-id', p.id || '', 'process id (<boot>-<start_ns>-<pid>)');
    main.appendChild(el('form', {className: 'controls', onsubmit: (ev) => { ev.preventDefault(); go('process', {id: idIn.value}); }}, el('label', null, 'process ', idIn), el('button', {type: 'submit'}, 'Show')));
    if (!p.id) { main.appendChild(el('p', {className: 'note'}, 'Open a process from the State, Diff or Timeline pages, or paste its id.')); return; }
    const l = await api('lineage', {id: p.id});
    if (!current()) return;
    // The process as its last exec left it (lineage's process is its image at its start: for a
    // fork, the parent's).
    const execs = (l.events || []).filter((e) => e.kind === 'exec' && e.process_id === l.id);
    const me = execs.length ? execs[execs.length - 1] : (l.process || {});
    main.appendChild(el('h2', {id: 'proc-title'}, 'Process ' + l.pid + ' ', el('span', {className: 'argv'}, cmdline(me))));
    if (l.report_only) main.appendChild(el('p', {className: 'note'}, 'Report: the events of this window that name the process (lineage needs the whole log: twin-replay lineage).'));
    main.appendChild(table(['', ''], [
      el('tr', null, el('td', null, 'id'), el('td', null, el('code', null, l.id))),
      el('tr', null, el('td', null, 'first seen'), el('td', null, (l.start_time || '') + ' (' + (l.start_kind || '') + ')')),
      el('tr', null, el('td', null, 'exe'), el('td', null, me.exe || '')),
      el('tr', null, el('td', null, 'cwd'), el('td', null, me.cwd || '')),
      el('tr', null, el('td', null, 'uid/gid'), el('td', null, (me.uid === undefined ? '' : me.uid + '/' + me.gid))),
      el('tr', null, el('td', null, 'unit'), el('td', null, me.unit || '')),
      el('tr', null, el('td', null, 'exit'), el('td', null, l.exit ? isoShort(l.exit.ts_ns) + ' ' + eventDetail(l.exit) : 'none in the log (still running, or the exit was lost)')),
    ], 'kv'));
    if (l.uncertain) main.appendChild(el('p', {className: 'uncertain'}, 'UNCERTAIN: events were lost around its start'));
    main.appendChild(section('Ancestors at its start' + (l.ancestry_complete ? '' : ' (incomplete)'), el('ol', null, l.ancestors.map((a) => el('li', null, String(a.pid) + ' ', procLink(a.id, cmdline(a)))))));
    main.appendChild(section('Descendants (' + l.descendants.length + ')', el('ul', null, l.descendants.slice(0, 500).map((d) => el('li', null, procLink(d))))));
    main.appendChild(section('Events', eventsTable(l.events, false)));
  }

  async function pageTwin(main, p, current) {
    const [cat, acts] = await Promise.all([api('twin', {}), api('events', {kind: 'twin', limit: 500})]);
    if (!current()) return;
    main.appendChild(section('Snapshot catalogue (' + cat.length + ')', cat.length ? table(['snapshot', 'host state at', 'taken', 'depth', 'flags', 'image'],
      cat.map((r) => el('tr', null, el('td', null, el('code', null, r.id)), el('td', null, r.state_ts_ns ? isoShort(r.state_ts_ns) : ''), el('td', null, r.created_ns ? isoShort(r.created_ns) : ''),
        el('td', {className: 'num'}, String(r.chain_depth)), el('td', null, r.pruned ? 'pruned' : r.consistent ? 'ok' : 'partial'), el('td', null, r.image)))) : el('p', {className: 'note'}, 'no twin snapshots (twind runs with the twin: twin-replay vm --list)')));
    main.appendChild(section('Runs and actions (' + acts.events.length + (acts.more ? '+' : '') + ')', acts.events.length ? table(['time', 'action', 'status', 'details'],
      acts.events.map((e) => {
        const a = e.attrs || {};
        const rest = Object.entries(a).filter(([k]) => k !== 'action' && k !== 'status');
        return el('tr', {className: a.status === 'failed' ? 'removed' : ''}, el('td', {className: 'time'}, isoShort(e.ts_ns)), el('td', null, a.action || ''), el('td', null, a.status || ''),
          el('td', null, e.message ? el('div', null, e.message) : null, el('ul', {className: 'attrs'}, rest.map(([k, v]) => el('li', null, el('b', null, k), ' ', v)))));
      })) : el('p', {className: 'note'}, 'no twin actions recorded')));
  }

  async function pageIntegrity(main, p, current) {
    const [info, ver, seals, audit] = await Promise.all([api('info', {}), api('verify', {quick: 1}), api('seals', {}), api('events', {kind: 'audit', limit: 100})]);
    if (!current()) return;
    main.appendChild(el('p', {className: ver.ok ? 'ok' : 'error', id: 'verify-status'}, ver.ok ? 'OK (quick): every table block checksum, the chain head and ' + ver.seals_checked + ' seals checked' : 'FAILED: ' + (ver.problems[0] ? ver.problems[0].key + ': ' + ver.problems[0].what : 'see twin-replay verify')));
    if (REPORT) main.appendChild(el('p', {className: 'note'}, 'As checked when the report was made (' + REPORT.made + '). Check the case bundle with twin-replay verify-bundle.'));
    main.appendChild(table(['', ''], [
      el('tr', null, el('td', null, 'events'), el('td', null, String(info.events))),
      el('tr', null, el('td', null, 'first / last'), el('td', null, info.first + ' / ' + info.last)),
      el('tr', null, el('td', null, 'snapshots'), el('td', null, String(info.snapshots))),
      el('tr', null, el('td', null, 'chain head'), el('td', null, el('code', null, info.head))),
      el('tr', null, el('td', null, 'schema'), el('td', null, info.schema_version)),
    ], 'kv'));
    if (ver.problems.length) main.appendChild(section('Problems', table(['key', 'what'], ver.problems.slice(0, 100).map((x) => el('tr', null, el('td', null, x.key), el('td', null, x.what))))));
    main.appendChild(section('Seals (' + seals.length + ')', table(['sealed', 'records', 'head', 'keyed'], seals.slice(-50).reverse().map((s) => el('tr', null, el('td', null, s.sealed), el('td', {className: 'num'}, String(s.count)), el('td', null, el('code', null, s.head.slice(0, 16))), el('td', null, s.keyed ? 'MAC (epoch ' + s.mac_epoch + ')' : 'chain only'))))));
    main.appendChild(section('Audit events (' + audit.events.length + ')', eventsTable(audit.events, audit.more)));
  }

  window.addEventListener('hashchange', render);
  render();
})();
