/* report.js - draws leak-analyze's HTML report from the JSON in
 * #report-data.  Every string from a dump is untrusted: it only ever
 * reaches the page through textContent or an attribute, never as markup. */
'use strict';
(function () {
  var T0 = performance.now();
  var D = JSON.parse(document.getElementById('report-data').textContent);
  var KINDS = ['definite', 'indirect', 'possible', 'reachable', 'unfreed'];
  var LEAKY = { unfreed: 1, definite: 1, indirect: 1, possible: 1 };
  var pid = null;   // the picked process's key (pk), or null for all
  var phases = [];

  // ### helpers
  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function human(b) {
    var u = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    b = Number(b) || 0;
    if (b < 1024) return b + (b === 1 ? ' byte' : ' bytes');
    while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
    return (b < 10 ? b.toFixed(1) : Math.round(b)) + ' ' + u[i];
  }
  function blocks(n) { return n + (n === 1 ? ' block' : ' blocks'); }
  function exact(b) { return Number(b).toLocaleString('en-US') + ' bytes'; }
  function bytesEl(tag, b, cls) {
    var e = el(tag, cls, human(b));
    e.title = exact(b);
    return e;
  }
  // an overflowed count * size has no size: the dump saturates it
  var OVERFLOW = 'count \u00d7 size beyond 2^64 bytes';
  function requestEl(f) {
    return f.kind === 'mul_overflow' ? el('td', 'num', OVERFLOW) : bytesEl('td', f.request_bytes, 'num');
  }
  function str(i) { return i >= 0 ? D.strings[i] : null; }
  // A frame of the interned table as {fn, file, line, inlined, module, name},
  // one object per table entry.
  var frameCache = [];
  function frame(i) {
    if (frameCache[i]) return frameCache[i];
    var f = D.frames[i];
    f = { fn: str(f[0]), file: str(f[1]), line: f[2], inlined: !!f[3], module: str(f[4]), offset: f[5] };
    f.name = fnName(f);
    return (frameCache[i] = f);
  }
  function fnName(f) {
    if (f.fn) return f.fn;
    if (!f.module) return '??';
    return f.module.replace(/.*\//, '') + (f.offset ? '+0x' + f.offset.toString(16) : ' (no symbol)');
  }
  // A C++ name without its parameter list and template arguments, for
  // labels (the tooltip and the stack keep the whole name).
  function shortName(n) {
    if (n.length < 40 || n.indexOf('::') < 0 || n.charAt(0) === '(' || n.charAt(0) === '<') return n;
    var out = '', depth = 0;
    for (var i = 0; i < n.length; i++) {
      var c = n.charAt(i);
      if (c === '<' && n.slice(i, i + 10) !== '<lambda()>' && !/operator\s*$/.test(n.slice(0, i))) {
        if (depth++ === 0) out += '<…>';
      } else if (c === '>' && depth > 0) depth--;
      else if (depth === 0) out += c;
    }
    return out.replace(/\((?:[^()]|\([^()]*\))*\)( const)?$/, '');
  }
  // A process is one program image of a pid (a pid that execs is two), as
  // in the text report: "pid/image" keys every record of it.
  function pk(x) { return x.pid + '/' + (x.image || 0); }
  // The program name of process key 'k': as invoked (ps's name), else the
  // executable's.
  var procByKey = {}, lastImage = {};
  (D.processes || []).forEach(function (p) { p.k = pk(p); procByKey[p.k] = p; lastImage[p.pid] = p.k; });
  function progName(k) {
    var x = procByKey[k];
    return x && x.name ? x.name : x && x.exe ? x.exe.replace(/.*\//, '') : 'pid ' + String(k).replace(/\/.*/, '');
  }
  function where(f) {
    if (f.file) return f.file + (f.line > 0 ? ':' + f.line : '');
    return f.module ? f.module.replace(/.*\//, '') + (f.offset ? '+0x' + f.offset.toString(16) : '') : '';
  }
  function whereShort(f) { return f.file ? f.file.replace(/.*\//, '') + (f.line > 0 ? ':' + f.line : '') : ''; }
  // The JSON report's frame objects ({function, file, line, ...}) as ours.
  function jframe(f) {
    if (f.name !== undefined) return f;   // interned already (report_html.c)
    return { fn: f['function'], file: f.file, line: f.line, inlined: f.inlined, module: f.module };
  }
  function siteText(frames) {
    if (!frames || !frames.length) return '(no stack)';
    var f = frames[0];
    return shortName(fnName(f)) + (f.file ? ' (' + whereShort(f) + ')' : '');
  }
  // The caller of a site's first frame: "xmalloc" alone names no site.
  function callerText(frames) {
    // the first frame of another name: an inlined chain repeats the name
    for (var i = 1; frames && i < frames.length; i++)
      if (fnName(frames[i]) !== fnName(frames[0])) return ' ← ' + shortName(fnName(frames[i]));
    return '';
  }
  function picked(p) { return pid === null || p === pid; }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
  function row(cells) {
    var tr = el('tr');
    cells.forEach(function (c) { tr.appendChild(c instanceof Node ? c : el('td', null, c)); });
    return tr;
  }
  function head(names) {
    var tr = el('tr');
    names.forEach(function (n) { tr.appendChild(el('th', /^(bytes|blocks|size|headroom|live|retained|count|time)/.test(n) ? 'num' : null, n)); });
    return tr;
  }
  function stackEl(frames) {
    var pre = el('pre', 'stack');
    frames.forEach(function (f, i) {
      var line = el('div', f.inlined ? 'inl' : null,
        '#' + i + ' ' + fnName(f) + (where(f) ? '  ' + where(f) : '') + (f.inlined ? '  (inlined)' : ''));
      pre.appendChild(line);
    });
    return pre;
  }
  var tip = $('tooltip');
  function showTip(ev, lines) {
    clear(tip);
    lines.forEach(function (l) { tip.appendChild(el('div', null, l)); });
    tip.hidden = false;
    var x = Math.min(ev.clientX + 12, window.innerWidth - 540);
    tip.style.left = Math.max(0, x) + 'px';
    tip.style.top = (ev.clientY + 14) + 'px';
  }
  function hideTip() { tip.hidden = true; }

  // ### data
  var stacks = D.stacks.map(function (s) { return s.map(frame); });
  var leaks = D.leaks.map(function (l) {
    return { pid: l[0], k: l[0] + '/' + (l[7] || 0), kind: l[1], family: l[2], bytes: l[3], blocks: l[4], supp: l[5], frames: stacks[l[6]] };
  });
  var sites = D.sites.map(function (s) {
    return { pid: s[0], k: s[0] + '/' + (s[7] || 0), live: s[1], liveBlocks: s[2], allocs: s[3], allocBlocks: s[4], peak: s[5], frames: stacks[s[6]] };
  });
  var procs = D.processes || [];
  // held_by, structures, growth and failures name their stacks by index
  function expand(v) {
    if (Array.isArray(v)) { v.forEach(expand); return; }
    if (!v || typeof v !== 'object') return;
    Object.keys(v).forEach(function (k) {
      if (k === 'frames' && typeof v[k] === 'number') v[k] = stacks[v[k]] || [];
      else expand(v[k]);
    });
  }
  [D.held_by, D.structures, D.growth, D.failures].forEach(expand);
  [D.held_by, D.structures, D.growth, D.failures, (D.verdict || {}).processes].forEach(function (v) {
    (v || []).forEach(function (x) { x.k = pk(x); });
  });
  var multi = procs.length > 1;
  var OMIT = D.omitted || {};

  // ### process picker
  if (procs.length > 1) {
    var sel = $('proc');
    sel.appendChild(el('option', null, 'all ' + procs.length + ' processes')).value = '';
    // parents before their children, indented, as ps --forest draws them;
    // a program a pid exec'd is drawn under the one it replaced
    var kids = {}, roots = [];
    procs.forEach(function (p) {
      var up = p.image ? p.pid + '/' + (p.image - 1) : p.ppid !== p.pid ? lastImage[p.ppid] : null;
      if (up && procByKey[up]) (kids[up] = kids[up] || []).push(p);
      else roots.push(p);
    });
    var seen = {};
    (function walk(list, depth) {
      list.forEach(function (p) {
        if (seen[p.k]) return;
        seen[p.k] = 1;
        var o = el('option', null, '\u00a0\u00a0'.repeat(Math.min(depth, 12)) + (depth ? '└ ' : '') + progName(p.k) + ' ' +
          p.pid + (p.image ? ' (exec ' + p.image + ')' : '') + (p.leaked_bytes ? ' — ' + human(p.leaked_bytes) + ' leaked' : ''));
        o.value = p.k;
        sel.appendChild(o);
        walk(kids[p.k] || [], depth + 1);
      });
    })(roots, 0);
    $('procpick').hidden = false;
    sel.onchange = function () { pid = sel.value === '' ? null : sel.value; drawAll(); };
  }

  // ### verdict banner
  function holders(p, stack) {
    return (D.held_by || []).filter(function (h) { return h.k === p && h.stack === stack; });
  }
  function rootName(h) {
    if (h.root === 'global' && h.module === '[inherited]') {
      var inh = (D.inherited || {})[h.k];
      return 'a block inherited at fork' + (inh ? ' from pid ' + inh[0] : '');
    }
    if (h.root === 'global')
      return 'global ' + (h.symbol || h.offset) + (h.decl_file ? ' (' + h.decl_file.replace(/.*\//, '') + ':' + h.decl_line + ')' : '');
    if (h.root === 'stack') return 'the stack of thread ' + h.tid + (h.main_thread ? ' (main)' : '');
    if (h.root === 'tls') return 'thread-local storage of thread ' + h.tid;
    return h.root + ' of thread ' + h.tid;
  }
  function drawVerdict() {
    var b = clear($('verdict')), v = D.verdict || { processes: [] };
    var vp = (v.processes || []).filter(function (x) { return picked(x.k); });
    var kind = vp.length ? vp[0].kind : (v.kind || 'none'), text = vp.length ? vp[0].text : v.text;
    vp.forEach(function (x) { if (x.kind !== 'none' && kind === 'none') { kind = x.kind; text = x.text; } });
    var lost = leaks.filter(function (l) { return picked(l.k) && !l.supp && LEAKY[l.kind]; });
    var top = lost.filter(function (l) { return l.kind === 'definite'; })[0] || lost[0];
    var title, what;
    if (kind === 'leak_exhaustion') title = 'Leak-driven exhaustion: memory grew until an allocation failed';
    else if (kind === 'exhaustion') title = 'Out of memory: an allocation failed';
    else if (kind === 'overflow') title = 'Overflow: one absurd request, not a leak';
    else if (kind === 'leak_in_progress') title = 'Leak in progress: live memory grows steadily';
    else if (top && top.kind === 'possible')   // e.g. redis's sds strings, pointed to past a header
      { title = 'Possible leak: only pointers into the middle of the blocks remain'; kind = 'leak'; }
    else if (top) { title = 'Leak: memory was lost'; kind = 'leak'; }
    else { title = 'Clean: no leak found'; kind = 'clean'; }
    b.className = 'banner v-' + kind;
    b.setAttribute('data-verdict', kind);
    b.appendChild(el('b', null, title));
    var g = (D.growth || []).filter(function (s) { return picked(s.k) && s.steady; })[0];
    var site = null;
    var fail = (D.failures || []).filter(function (f) { return picked(f.k); })[0];
    if ((kind === 'overflow' || kind === 'exhaustion') && fail)
      site = { pid: fail.pid, k: fail.k, stack: fail.stack, frames: (fail.frames || []).map(jframe), bytes: fail.request_bytes, request: fail['function'] };
    else if (g && g.frames && g.frames.length) site = { pid: g.pid, k: g.k, stack: g.stack, frames: g.frames.map(jframe), bytes: g.final_bytes };
    else if (top) site = { pid: top.pid, k: top.k, stack: null, frames: top.frames, bytes: top.bytes, kind: top.kind };
    if (site) {
      what = el('div', 'site');
      what.appendChild(document.createTextNode(multi && pid === null ? 'In ' + progName(site.k) + ' (pid ' + site.pid + '), site: ' : 'Site: '));
      what.appendChild(el('code', null, siteText(site.frames) + callerText(site.frames)));
      what.appendChild(document.createTextNode(site.request ? ' — ' + site.request + '(' : ' — '));
      what.appendChild(bytesEl('span', site.bytes));
      if (site.request) what.appendChild(document.createTextNode(') failed'));
      var hs = site.stack !== null && !site.request ? holders(site.k, site.stack) : [];
      var held = hs.length ? 'held by ' + hs.map(rootName).join(', ')
        : site.kind === 'definite' || site.kind === 'indirect' ? 'nothing holds it (no pointer to it is left)'
        : site.kind === 'unfreed' ? 'holder unknown (no reachability scan)' : '';
      if (held) what.appendChild(document.createTextNode('; ' + held));
      b.appendChild(what);
    }
    if (text && kind !== 'clean' && kind !== 'leak') b.appendChild(el('div', 'muted', text));
  }

  // ### summary
  function drawSummary() {
    var k = clear($('kinds')), box = el('div', 'kinds');
    var sums = {}, supp = { bytes: 0, blocks: 0 };
    KINDS.forEach(function (n) { sums[n] = { bytes: 0, blocks: 0 }; });
    procs.filter(function (p) { return picked(p.k); }).forEach(function (p) {
      KINDS.forEach(function (n) {
        if (p.kinds && p.kinds[n]) { sums[n].bytes += p.kinds[n].bytes; sums[n].blocks += p.kinds[n].blocks; }
      });
      if (!p.kinds) { sums.unfreed.bytes += p.leaked_bytes; sums.unfreed.blocks += p.leaked_blocks; }
      supp.bytes += p.suppressed_bytes; supp.blocks += p.suppressed_blocks;
    });
    KINDS.concat(['suppressed']).forEach(function (n) {
      var s = n === 'suppressed' ? supp : sums[n];
      if (n === 'unfreed' && !s.bytes) return;
      var c = el('div', 'kind');
      c.setAttribute('data-kind', n);
      c.appendChild(el('div', 'muted', n));
      c.appendChild(bytesEl('div', s.bytes, 'n'));
      c.appendChild(el('div', 'muted', blocks(s.blocks)));
      box.appendChild(c);
    });
    k.appendChild(box);
    var t = clear($('procs'));
    t.appendChild(head(['process', 'program', 'dumps', 'leaked', 'blocks', 'sites', 'last dump']));
    // the processes that leak most first; a script's or a build's dozens
    // of clean ones wait behind a button
    var list = procs.filter(function (p) { return picked(p.k); })
      .sort(function (a, b) { return b.leaked_bytes - a.leaked_bytes || a.pid - b.pid || (a.image || 0) - (b.image || 0); });
    list.slice(0, allProcs ? list.length : PROC_ROWS).forEach(function (p) {
      var prog = el('td', null, p.exe || '?'), inh = (D.inherited || {})[p.k];
      if (p.name && p.exe && p.name !== p.exe.replace(/.*\//, '')) prog.textContent = p.name + ' (exe ' + p.exe + ')';
      if (p.image) prog.appendChild(el('span', 'muted', ' (exec ' + p.image + ' of pid ' + p.pid + ')'));
      if (inh) prog.appendChild(el('span', 'muted', ' (forked from ' + inh[0] + '; ' + human(inh[2]) + ' inherited, not counted)'));
      t.appendChild(row([String(p.pid), prog, String(p.dumps), bytesEl('td', p.leaked_bytes, 'num'),
        el('td', 'num', p.leaked_blocks), el('td', 'num', p.leak_sites), p.final_trigger + (p.complete ? '' : ' (incomplete)')]));
    });
    if (list.length > PROC_ROWS) {
      var b = el('button', null, allProcs ? 'show fewer' : 'show all ' + list.length + ' processes');
      b.id = 'procmore';
      b.onclick = function () { allProcs = !allProcs; drawSummary(); };
      var td = el('td');
      td.colSpan = 7;
      td.appendChild(b);
      t.appendChild(row([td]));
    }
  }
  var PROC_ROWS = 10, allProcs = false;

  // ### leak table
  // lost memory first (definite, indirect, possible), each kind by bytes
  var sortKey = 'kind', sortDir = -1, shown = 200;
  var KORDER = { definite: 0, indirect: 1, possible: 2, unfreed: 3, reachable: 4 };
  function sourceEl(frames) {
    for (var i = 0; i < frames.length && i < 4; i++) {
      var f = frames[i];
      if (!f.file || f.line <= 0) continue;
      var s = D.sources[f.file + ':' + f.line];
      if (!s) return null;
      var pre = el('pre', 'src');
      pre.appendChild(el('div', 'muted', where(f) + ':'));
      s[1].forEach(function (text, j) {
        var n = s[0] + j;
        pre.appendChild(el('div', n === f.line ? 'hit' : null, (n === f.line ? '> ' : '  ') + String(n).padStart(5) + ' | ' + text));
      });
      return pre;
    }
    return null;
  }
  function drawLeaks() {
    var q = $('leakfilter').value.toLowerCase();
    var list = leaks.filter(function (l) {
      if (!picked(l.k)) return false;
      if (!q) return true;
      return l.kind.indexOf(q) >= 0 || l.frames.some(function (f) {
        return (f.fn || '').toLowerCase().indexOf(q) >= 0 || (f.file || '').toLowerCase().indexOf(q) >= 0;
      });
    });
    list.sort(function (a, b) {
      var d = sortKey === 'kind' ? KORDER[a.kind] - KORDER[b.kind] : a[sortKey] - b[sortKey];
      // suppressed sites after the reported ones, whatever the column
      return (a.supp ? 1 : 0) - (b.supp ? 1 : 0) || d * (sortKey === 'kind' ? -sortDir : sortDir) || b.bytes - a.bytes;
    });
    var body = clear($('leaktable').tBodies[0]);
    list.slice(0, shown).forEach(function (l) {
      var site = el('td');
      var fn = el('code', 'fn', l.frames.length ? shortName(fnName(l.frames[0])) : '(no stack)');
      if (l.frames.length) fn.title = fnName(l.frames[0]);
      site.appendChild(fn);
      if (l.frames.length && (l.frames[0].file || l.frames[0].fn && l.frames[0].offset))
        site.appendChild(el('span', 'muted loc', ' ' + where(l.frames[0])));
      site.appendChild(el('span', 'muted', callerText(l.frames)));
      var tr = row([el('td', null, l.kind + (l.supp ? ' (suppressed)' : '')), bytesEl('td', l.bytes, 'num'),
        el('td', 'num', l.blocks), site, el('td', null, multi ? progName(l.k) + ' ' + l.pid : l.pid)]);
      tr.className = 'leak';
      tr.onclick = function () {
        if (tr.nextSibling && tr.nextSibling.className === 'detail') { body.removeChild(tr.nextSibling); return; }
        var d = el('tr', 'detail'), td = el('td');
        td.colSpan = 5;
        var src = sourceEl(l.frames);
        if (src) td.appendChild(src);
        td.appendChild(stackEl(l.frames));
        if (l.supp) td.appendChild(el('div', 'muted', 'suppressed by ' + l.supp));
        d.appendChild(td);
        body.insertBefore(d, tr.nextSibling);
      };
      body.appendChild(tr);
    });
    $('leakcount').textContent = list.length + (list.length === 1 ? ' site' : ' sites') +
      (list.length > shown ? ', showing ' + shown : '') +
      (OMIT.leaks ? '; ' + OMIT.leaks.rows + ' smaller reachable or suppressed sites (' + human(OMIT.leaks.bytes) +
        ') are only in the text report (leak-analyze --show=all)' : '');
    $('leakmore').hidden = list.length <= shown;
  }
  $('leakfilter').oninput = function () { drawLeaks(); };
  $('leakmore').onclick = function () { shown += 1000; drawLeaks(); };
  Array.prototype.forEach.call(document.querySelectorAll('#leaktable th[data-sort]'), function (th) {
    th.onclick = function () {
      var k = th.getAttribute('data-sort');
      sortDir = k === sortKey ? -sortDir : -1;
      sortKey = k;
      drawLeaks();
    };
  });

  // ### flamegraph (icicle: callers on top, the allocating function at the bottom)
  // The width is read once, before the tables are drawn: reading it later
  // forces a layout of the whole page (a third of a second for 10k sites).
  var flameRoot = null, focus = null, flameWidth = $('flamegraph').clientWidth;
  function buildFlame(mode) {
    var root = { name: 'all', frame: null, value: 0, blocks: 0, kids: {}, parent: null };
    var items = mode === 'leaked'
      ? leaks.filter(function (l) { return picked(l.k) && !l.supp && LEAKY[l.kind]; })
          .map(function (l) { return { pid: l.pid, k: l.k, frames: l.frames, v: l.bytes, n: l.blocks }; })
      : sites.filter(function (s) { return picked(s.k); }).map(function (s) {
          return mode === 'live' ? { pid: s.pid, k: s.k, frames: s.frames, v: s.live, n: s.liveBlocks }
            : mode === 'allocs' ? { pid: s.pid, k: s.k, frames: s.frames, v: s.allocs, n: s.allocBlocks }
            : { pid: s.pid, k: s.k, frames: s.frames, v: s.peak, n: s.liveBlocks };
        });
    // all processes of several programs: one frame per program on top
    var byProg = pid === null && multi;
    items.forEach(function (it) {
      if (!it.v) return;
      var node = root;
      root.value += it.v; root.blocks += it.n;
      if (byProg) {
        var pn = '[' + progName(it.k) + ']';
        node = node.kids[pn] || (node.kids[pn] = { name: pn, frame: null, value: 0, blocks: 0, kids: {}, parent: root });
        node.value += it.v; node.blocks += it.n;
      }
      for (var i = it.frames.length - 1; i >= 0; i--) {
        var f = it.frames[i], key = f.name;
        var k = node.kids[key];
        if (!k) k = node.kids[key] = { name: key, frame: f, value: 0, blocks: 0, kids: {}, parent: node };
        k.value += it.v; k.blocks += it.n;
        node = k;
      }
    });
    return root;
  }
  function colorFor(name) {
    var h = 0;
    for (var i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) | 0;
    return 'hsl(' + (20 + Math.abs(h) % 40) + ',' + (70 + Math.abs(h >> 8) % 20) + '%,' + (62 + Math.abs(h >> 4) % 14) + '%)';
  }
  function drawFlame() {
    var box = clear($('flamegraph')), W = flameWidth || box.clientWidth || 1100, H = 18;
    var q = $('flamesearch').value.toLowerCase(), matched = 0, depthMax = 0;
    if (!flameRoot || !flameRoot.value) {
      box.style.height = '40px';
      box.appendChild(el('div', 'muted', 'nothing to show in this view'));
      $('flameinfo').textContent = '';
      return;
    }
    var f = focus || flameRoot, anc = [], a = f;
    while (a) { anc.unshift(a); a = a.parent; }
    // 'inMatch': an ancestor matched the search already (its bytes hold ours)
    function put(n, depth, x, w, inMatch) {
      if (w < 0.5) return;
      depthMax = Math.max(depthMax, depth);
      var d = el('div', 'fr', shortName(n.name));
      d.style.left = x + 'px'; d.style.top = (depth * H) + 'px'; d.style.width = w + 'px';
      d.style.background = n === flameRoot ? '#ddd' : colorFor(n.name);
      d.setAttribute('data-fn', n.name);
      var hit = q && n.name.toLowerCase().indexOf(q) >= 0;
      if (hit) { d.className += ' match'; if (!inMatch) matched += n.value; }
      if (anc.indexOf(n) >= 0 && n !== f) d.className += ' dim';
      d.onclick = function () { focus = n === f ? n.parent : n; drawFlame(); };
      d.onmousemove = function (ev) {
        showTip(ev, [n.name, human(n.value) + ' (' + exact(n.value) + '), ' + blocks(n.blocks) + ', ' +
          (100 * n.value / flameRoot.value).toFixed(1) + '% of all', n.frame ? where(n.frame) : '']);
      };
      d.onmouseleave = hideTip;
      box.appendChild(d);
      var cx = x;
      Object.keys(n.kids).map(function (k) { return n.kids[k]; })
        .sort(function (p, r) { return r.value - p.value; })
        .forEach(function (k) { var kw = w * k.value / n.value; put(k, depth + 1, cx, kw, inMatch || hit); cx += kw; });
    }
    anc.forEach(function (n, i) { if (n !== f) put1(n, i); });
    function put1(n, i) {
      var d = el('div', 'fr dim', shortName(n.name));
      d.style.left = '0px'; d.style.top = (i * H) + 'px'; d.style.width = W + 'px';
      d.style.background = colorFor(n.name);
      d.setAttribute('data-fn', n.name);
      d.onclick = function () { focus = n.parent ? n : null; drawFlame(); };
      box.appendChild(d);
    }
    put(f, anc.length - 1, 0, W, false);
    box.style.height = ((depthMax + 1) * H + 2) + 'px';
    $('flameinfo').textContent = (q ? 'matched ' + human(matched) + ' (' + (100 * matched / flameRoot.value).toFixed(1) + '%) · ' : '') +
      'total ' + human(flameRoot.value) + ' · click a frame to zoom';
  }
  function rebuildFlame() { flameRoot = buildFlame($('flamemode').value); focus = null; drawFlame(); }
  // Open on the first view that has something: a program that leaks nothing
  // shows where its memory went at its peak.
  function firstFlame() {
    var modes = ['leaked', 'peak', 'live', 'allocs'];
    for (var i = 0; i < modes.length; i++) {
      flameRoot = buildFlame(modes[i]);
      if (flameRoot.value) { $('flamemode').value = modes[i]; break; }
    }
    focus = null;
    drawFlame();
  }
  $('flamemode').onchange = rebuildFlame;
  $('flamesearch').oninput = function () { drawFlame(); };
  $('flamereset').onclick = function () { focus = null; drawFlame(); };

  // ### growth chart: hover values and failure markers over svg.c's chart
  function drawGrowth() {
    var svg = document.querySelector('#chart svg'), out = $('charthover');
    if (!svg) return;
    var line = svg.querySelector('polyline');
    var vp = ((D.verdict || {}).processes || []).filter(function (x) { return x.total_series; });
    var longest = vp.sort(function (a, b) { return b.total_series.t_s.length - a.total_series.t_s.length; })[0];
    if (!line || !longest) { out.textContent = 'no growth series (one dump without a timeline)'; return; }
    var ts = longest.total_series.t_s, ys = longest.total_series.live_bytes;
    var pts = line.getAttribute('points').trim().split(/\s+/).map(function (p) { return p.split(',').map(Number); });
    if (pts.length !== ts.length) return;
    var NS = 'http://www.w3.org/2000/svg';
    function xAt(t) {   // the chart's x for time t, between the samples around it
      for (var i = 1; i < ts.length; i++)
        if (t <= ts[i]) return pts[i - 1][0] + (pts[i][0] - pts[i - 1][0]) * (t - ts[i - 1]) / ((ts[i] - ts[i - 1]) || 1);
      return pts[pts.length - 1][0];
    }
    (D.failures || []).filter(function (f) { return f.k === longest.k; }).forEach(function (f) {
      var t = f.first_uptime_ns / 1e9, x = xAt(t), g = document.createElementNS(NS, 'g');
      g.setAttribute('class', 'fail-marker');
      var m = document.createElementNS(NS, 'path');
      var y = pts[0][1], top = 40;
      pts.forEach(function (p) { top = Math.min(top, p[1]); });
      m.setAttribute('d', 'M' + x + ',' + (top - 2) + ' l-6,-10 h12 z');
      m.setAttribute('fill', '#c0392b');
      var l = document.createElementNS(NS, 'line');
      l.setAttribute('x1', x); l.setAttribute('x2', x); l.setAttribute('y1', top - 2); l.setAttribute('y2', Math.max(y, pts[pts.length - 1][1]));
      l.setAttribute('stroke', '#c0392b'); l.setAttribute('stroke-dasharray', '2 3');
      var tt = document.createElementNS(NS, 'title');
      tt.textContent = f['function'] + '(' + (f.kind === 'mul_overflow' ? OVERFLOW : human(f.request_bytes)) + ') failed at ' + t.toFixed(2) + ' s';
      g.appendChild(l); g.appendChild(m); g.appendChild(tt);
      svg.appendChild(g);
    });
    var cursor = document.createElementNS(NS, 'line');
    cursor.setAttribute('stroke', '#999'); cursor.setAttribute('visibility', 'hidden');
    svg.appendChild(cursor);
    svg.addEventListener('mousemove', function (ev) {
      var ctm = svg.getScreenCTM();
      if (!ctm) return;
      var x = (ev.clientX - ctm.e) / ctm.a, best = 0;
      pts.forEach(function (p, i) { if (Math.abs(p[0] - x) < Math.abs(pts[best][0] - x)) best = i; });
      cursor.setAttribute('x1', pts[best][0]); cursor.setAttribute('x2', pts[best][0]);
      cursor.setAttribute('y1', 30); cursor.setAttribute('y2', Math.max.apply(null, pts.map(function (p) { return p[1]; })));
      cursor.setAttribute('visibility', 'visible');
      out.textContent = 'process ' + longest.pid + ' at ' + ts[best].toFixed(2) + ' s: ' + human(ys[best]) + ' live (' + exact(ys[best]) + ')';
    });
    svg.addEventListener('mouseleave', function () { cursor.setAttribute('visibility', 'hidden'); });
  }

  // ### lost structures: head -> member sites, cycle edges back to the head
  function drawStructures() {
    var box = clear($('structlist'));
    var list = (D.structures || []).filter(function (s) { return picked(s.k) && !s.suppressed; });
    if (!list.length) { box.appendChild(el('p', 'muted', 'none (or no reachability scan)')); return; }
    var NS = 'http://www.w3.org/2000/svg';
    function text(svg, x, y, s, anchor) {
      var t = document.createElementNS(NS, 'text');
      t.setAttribute('x', x); t.setAttribute('y', y); t.setAttribute('font-size', '11');
      if (anchor) t.setAttribute('text-anchor', anchor);
      t.textContent = s.length > 34 ? s.slice(0, 33) + '…' : s;
      svg.appendChild(t);
    }
    function node(svg, x, y, label, sub, fill) {
      var r = document.createElementNS(NS, 'rect');
      r.setAttribute('x', x); r.setAttribute('y', y); r.setAttribute('width', 200); r.setAttribute('height', 34);
      r.setAttribute('rx', 5); r.setAttribute('fill', fill); r.setAttribute('stroke', '#888');
      svg.appendChild(r);
      text(svg, x + 6, y + 14, label);
      text(svg, x + 6, y + 28, sub);
    }
    list.slice(0, 20).forEach(function (s) {
      var wrap = el('div', 'graph'), mem = s.members || [], H = Math.max(1, mem.length) * 44 + 30;
      wrap.appendChild(el('div', 'cap', s.count + ' × ' + (s.cycle ? 'cycle' : 'structure') + ', ' + human(s.bytes) + ' in ' + blocks(s.blocks)));
      var svg = document.createElementNS(NS, 'svg');
      svg.setAttribute('width', 500); svg.setAttribute('height', H);
      var hf = (s.head.frames || []).map(jframe), hy = H / 2 - 17;
      node(svg, 4, hy, 'head: ' + siteText(hf), s.head.family, '#fdecea');
      mem.forEach(function (m, i) {
        var y = 8 + i * 44, mf = (m.frames || []).map(jframe);
        var e = document.createElementNS(NS, 'path');
        e.setAttribute('d', 'M204,' + (hy + 17) + ' C250,' + (hy + 17) + ' 250,' + (y + 17) + ' 292,' + (y + 17));
        e.setAttribute('fill', 'none'); e.setAttribute('stroke', '#555');
        svg.appendChild(e);
        node(svg, 292, y, m.frames ? siteText(mf) : 'other sites', human(m.bytes) + ', ' + blocks(m.blocks), '#fff4e5');
      });
      if (s.cycle) {
        var c = document.createElementNS(NS, 'path');
        c.setAttribute('d', 'M392,' + (8 + mem.length * 44 - 10) + ' C392,' + (H - 2) + ' 104,' + (H - 2) + ' 104,' + (hy + 34));
        c.setAttribute('fill', 'none'); c.setAttribute('stroke', '#c0392b'); c.setAttribute('stroke-dasharray', '4 3');
        c.setAttribute('class', 'cycle-edge');
        svg.appendChild(c);
        text(svg, 250, H - 4, 'cycle', 'middle');
      }
      wrap.appendChild(svg);
      box.appendChild(wrap);
    });
  }

  // ### held by
  function drawHeld() {
    var t = clear($('heldtable'));
    var list = (D.held_by || []).filter(function (h) { return picked(h.k) && !h.suppressed; });
    if (!list.length) { t.appendChild(row([el('td', 'muted', 'no root holds memory (or no reachability scan)')])); return; }
    t.appendChild(head(['root', 'keeps alive', 'kind', 'bytes', 'blocks', 'retained', 'process']));
    list.forEach(function (h) {
      var site = el('td');
      site.appendChild(el('code', null, siteText((h.frames || []).map(jframe))));
      if (h.growing) site.appendChild(el('span', 'muted', ' (growing)'));
      // "retained": what freeing this root would release, when the dump has it
      var ret = h.retained_bytes !== undefined ? bytesEl('td', h.retained_bytes, 'num retained') : el('td', 'num retained', '—');
      ret.setAttribute('data-slot', 'retained');
      t.appendChild(row([rootName(h), site, h.kind, bytesEl('td', h.bytes, 'num'), el('td', 'num', h.blocks), ret, String(h.pid)]));
    });
  }

  // ### failures
  function drawFailures() {
    var t = clear($('failtable'));
    var list = (D.failures || []).filter(function (f) { return picked(f.k); });
    if (!list.length) { t.appendChild(row([el('td', 'muted', 'no request failed')])); return; }
    t.appendChild(head(['request', 'size', 'what', 'time', 'live then', 'headroom', 'count', 'process']));
    list.forEach(function (f) {
      var r = row([f['function'] + '()', requestEl(f),
        f.oversized ? 'absurd size' : f.kind, el('td', 'num', (f.first_uptime_ns / 1e9).toFixed(2) + ' s'),
        bytesEl('td', f.live_bytes_at_first, 'num'),
        f.headroom_bytes !== undefined && f.headroom_bytes !== null ? bytesEl('td', f.headroom_bytes, 'num') : el('td', 'num', '—'),
        el('td', 'num', f.count), String(f.pid)]);
      t.appendChild(r);
      var d = el('tr'), td = el('td');
      td.colSpan = 8;
      td.appendChild(stackEl((f.frames || []).map(jframe)));
      d.appendChild(td);
      t.appendChild(d);
    });
  }

  // Milliseconds each part took ('phases'), kept on the page for measuring
  // (analyzer/README.md).
  function timed(name, fn) {
    var t = performance.now();
    fn();
    phases.push(name + ' ' + Math.round(performance.now() - t));
  }
  function drawAll() {
    phases = [];
    [drawVerdict, drawSummary, drawLeaks, firstFlame, drawStructures, drawHeld, drawFailures]
      .forEach(function (f) { timed(f.name, f); });
  }
  if (OMIT.held_by)
    $('heldnote').textContent = OMIT.held_by.rows + ' smaller rows (' + human(OMIT.held_by.bytes) +
      ') are not on this page: leak-analyze --format=json has them all';
  phases.push('data ' + Math.round(performance.now() - T0));
  var setup = phases;
  drawAll();
  timed('drawGrowth', drawGrowth);
  document.documentElement.setAttribute('data-phase-ms', setup.concat(phases).join(', '));
  window.addEventListener('resize', function () { flameWidth = $('flamegraph').clientWidth; drawFlame(); });
  document.documentElement.setAttribute('data-ready', '1');
  document.documentElement.setAttribute('data-load-ms', String(Math.round(performance.now())));
  document.documentElement.setAttribute('data-script-ms', String(Math.round(performance.now() - T0)));
})();
