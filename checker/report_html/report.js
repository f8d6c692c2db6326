// raftref trace report, part 4 of 4: the page. The detailed view's window is the URL's
// #start=P&size=N (P a position in the run, as on the axis and for --start), plus
// &arrows=auto|each|bundled, so a view can be linked. After each drawing the body carries
// data-rendered="1", data-view (positions shown, "P0:P1"), data-window (embedded indexes),
// data-lanes, data-arrows (individual arrows drawn), data-bundles, data-bundled (messages in
// bundles), data-dropped, data-arrows-total, data-cuts, and data-ready-ms once; a script
// error lands in data-error.
(function () {
  "use strict";
  var body = document.body, esc = RR.esc;
  function fail(e) {
    body.setAttribute("data-error", String((e && (e.stack || e.message)) || e));
  }
  window.addEventListener("error", function (e) { fail(e.error || e.message); });

  var MAX_SIZE = 20000;  // events in the detailed view at most (the overview shows the rest)
  var MODES = ["auto", "bundled", "each"];
  var D, M, N, state = { start: 0, size: 150, selected: -1, arrows: "auto" };
  var violated = {};   // embedded event index -> [violation numbers]
  function el(id) { return document.getElementById(id); }

  function readHash() {
    var h = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
      var p = kv.split("=");
      if (p[0]) h[p[0]] = decodeURIComponent(p[1] || "");
    });
    if (h.size === "all") state.size = N;
    else if (+h.size > 0) state.size = Math.floor(+h.size);
    if (h.start !== undefined && +h.start >= 0) state.start = Math.floor(+h.start) - D.start;
    if (MODES.indexOf(h.arrows) >= 0) state.arrows = h.arrows;
  }
  function clamp() {
    state.size = Math.max(Math.min(10, N), Math.min(state.size, N, MAX_SIZE));
    state.start = Math.max(0, Math.min(state.start, N - state.size));
  }
  function setWindow(start, size) {
    state.start = Math.round(start); state.size = Math.round(size); clamp();
    history.replaceState(null, "", "#start=" + (D.start + state.start) + "&size=" +
                         state.size + (state.arrows !== "auto" ? "&arrows=" + state.arrows : ""));
    draw();
  }
  // A position in the run picked on the overview (or a range dragged over).
  function pick(p0, p1) {
    var outside = p0 < D.start || p0 >= D.start + N;
    el("notice").innerHTML = outside ? "Event " + p0.toLocaleString() + " is not embedded " +
      "in this page (it holds events " + D.start.toLocaleString() + "–" +
      (D.start + N - 1).toLocaleString() + "). To see it: <code>raftref report " +
      D.files.map(esc).join(" ") + " -o page.html --start " +
      Math.max(0, p0 - Math.floor(D.limit / 2)) + " --limit " + D.limit + "</code>" : "";
    if (outside) return;
    if (p1 === undefined) setWindow(p0 - D.start - state.size / 2, state.size);
    else setWindow(p0 - D.start, Math.max(p1 - p0, 10));
  }

  function summary() {
    var h = D.header, impl = h.implementation || {}, verdict = D.verdict || "unchecked";
    var files = D.fileLabels.map(esc).join(", ");
    var s = "<b>" + esc(impl.name || "?") + " " + esc(impl.version || "") + "</b> · " +
      D.nodes.length + " nodes · " + D.total.toLocaleString() + " events" +
      (h.seed !== undefined ? " · seed " + esc(h.seed) : "") + " · " +
      (D.files.length > 1 ? D.files.length + " files: " : "file: ") + files +
      ' · <span class="badge ' + verdict + '">' + (verdict === "violated" ? "violated: " +
      D.properties.filter(function (p) { return p.verdict === "violated"; })
        .map(function (p) { return p.name; }).join(", ") :
      verdict === "holds" ? "every property holds" : "not checked") + "</span>";
    if (D.start > 0 || N < D.total) {
      s += '<div class="window-note">This page embeds events ' + D.start.toLocaleString() +
        "–" + (D.start + N - 1).toLocaleString() + " of " + D.total.toLocaleString() +
        " (the overview covers them all); to embed another part: <code>raftref report " +
        "--start N --limit N</code>.</div>";
    }
    var r = D.reasons, notes = [];
    if (D.cuts.length || r.partition) {
      notes.push("Partitions are inferred: a period between two nodes runs from a drop with " +
                 "reason \"partition\" to the last such drop before a message between them " +
                 "gets through.");
    }
    if (r[""]) {
      notes.push(r[""].toLocaleString() + " drops give no reason: they are drawn as lost, " +
                 "and partitions cannot be inferred from them.");
    }
    if (notes.length) s += '<div class="window-note">' + notes.join(" ") + "</div>";
    el("summary").innerHTML = s;
  }

  // The legend names what this run has (no crash marks in a run without crashes).
  function legend() {
    var items = [], r = D.reasons, has = {};
    for (var i = 0; i < N; i++) has[D.kinds[M.kind[i]]] = true;
    ["follower", "candidate", "leader", "down (crashed)"].forEach(function (role, k) {
      if (k < 3 || has.crash) {
        items.push('<span><span class="sw" style="background:' + RR.ROLE_COLORS[k] +
                   '"></span>' + role + "</span>");
      }
    });
    D.msgtypes.forEach(function (t, k) {
      items.push('<span><svg width="22" height="10"><line x1="0" y1="5" x2="22" y2="5" ' +
                 'stroke="' + RR.MSG_COLORS[k] + '" stroke-width="2"/></svg>' + t + "</span>");
    });
    items.push('<span><svg width="26" height="12"><line x1="0" y1="6" x2="18" y2="6" ' +
               'class="bundle" stroke-width="5"/></svg>bundle: delivered ✕lost ⟂cut ' +
               "↓addressee down</span>");
    if (has.drop) {
      items.push('<span><svg width="22" height="12"><line x1="0" y1="6" x2="14" y2="6" ' +
                 'class="arrow dropped lost"/><path d="M12 2l8 8M20 2l-8 8" ' +
                 'class="drop-x"/></svg>lost</span>');
    }
    if (r.partition) {
      items.push('<span><svg width="22" height="14"><line x1="0" y1="7" x2="16" y2="7" ' +
                 'class="arrow dropped cut"/><path d="M17 0v14" class="cut-wall"/></svg>' +
                 "dropped by a partition</span>");
      items.push('<span><svg width="26" height="8"><rect width="26" height="6" ' +
                 'fill="url(#cut-stripes)" class="cut"/></svg>cut off (inferred)</span>');
    }
    if (has.crash) {
      items.push('<span><svg width="14" height="14"><path d="M2 2l10 10M12 2L2 12" ' +
                 'class="crash-x"/></svg>crash</span>');
      items.push('<span><svg width="14" height="14"><path d="M3 1l9 6-9 6z" ' +
                 'class="restart"/></svg>restart</span>');
    }
    items.push('<span><svg width="12" height="12"><path d="M6 0l5 5-5 5-5-5z" ' +
               'class="commit-mark"/></svg>commit index advances</span>');
    items.push('<span style="color:#0f6b2f">★ elected</span>');
    if (D.violations.length) {
      items.push('<span><span class="sw" style="background:#d62828;opacity:.35"></span>' +
                 "event cited by a violation</span>");
    }
    el("legend").innerHTML = items.join("");
  }

  function violationsPanel() {
    var box = el("violations");
    if (!D.violations.length) {
      box.innerHTML = "<h2>Violations</h2>" + (D.verdict ? "None: every checked property " +
        "holds." : "The trace was not checked.");
      return;
    }
    var out = ["<h2>Violations (" + D.violations.length + ")</h2>"];
    D.violations.forEach(function (v, k) {
      v.events.forEach(function (i) { (violated[i] = violated[i] || []).push(k); });
      out.push('<div class="violation" id="violation-' + k + '"><div><span class="prop">' +
               esc(v.property) + "</span> violated: " + esc(v.explanation) + "</div>" +
               '<div class="statement">' + esc(v.property) + ": " + esc(v.statement) + "</div>");
      v.lines.forEach(function (c) {
        out.push('<div class="cited" data-event="' + c.event + '" data-pos="' + c.pos +
                 '"><code>' + esc(c.file) + ":" + c.line + ": " + esc(c.text) + "</code></div>");
      });
      out.push("</div>");
    });
    box.innerHTML = out.join("");
    Array.prototype.forEach.call(box.querySelectorAll(".cited"), function (node) {
      node.addEventListener("click", function () {
        var i = +node.getAttribute("data-event"), p = +node.getAttribute("data-pos");
        if (i >= 0) { focus(i); el("diagram").scrollIntoView({ behavior: "smooth" }); }
        else if (p >= 0) pick(p);
      });
    });
  }

  function propertiesPanel() {
    if (!D.properties.length) { el("properties").style.display = "none"; return; }
    var rows = D.properties.map(function (p) {
      return "<tr><td>" + esc(p.name) + '</td><td class="v-' + p.verdict + '">' + p.verdict +
        "</td><td>" + p.evaluated.toLocaleString() + "</td><td>" + p.violations +
        '</td><td title="' + esc(p.reference) + '">' + esc(p.statement) + "</td></tr>";
    });
    el("properties").innerHTML = '<h2>Properties</h2><table class="props"><tr><th>property' +
      "</th><th>verdict</th><th>events</th><th>violations</th><th>statement</th></tr>" +
      rows.join("") + "</table>";
  }

  function focus(i) {
    state.selected = i;
    setWindow(i - Math.floor(state.size / 2), state.size);
    details(i);
  }

  function details(i) {
    var v = violated[i] || [];
    el("details").innerHTML = "<h2>Event " + (D.start + i).toLocaleString() + "</h2><code>" +
      esc(D.fileLabels[M.file[i]] || "") + ":" + M.line[i] + "  seq " + M.seq[i] + "  " +
      esc(D.nodes[M.node[i]]) + "  " + esc(RR.describe(M, i)) + "\nafter it: term " +
      M.term[i] + ", role " + D.roles[M.role[i]] + ", commit " + M.commit[i] + "</code>" +
      (v.length ? "<div>cited by: " + v.map(function (k) {
        return '<a href="#violation-' + k + '">' + esc(D.violations[k].property) + "</a>";
      }).join(", ") + "</div>" : "");
  }

  function draw() {
    if (!N) {
      el("diagram").textContent = "The trace has no events.";
      body.setAttribute("data-rendered", "1");
      return;
    }
    var s0 = state.start, s1 = Math.min(N, s0 + state.size);
    var stats = RR.drawDiagram(M, el("diagram"), { s0: s0, s1: s1, selected: state.selected,
                                                   arrowMode: state.arrows,
                                                   violated: violated });
    RR.drawOverview(M, el("overview"), [D.start + s0, D.start + s1], pick);
    el("diagram").querySelector("svg").addEventListener("click", function (e) {
      var t = e.target;
      if (t.getAttribute && t.getAttribute("data-i") !== null) {
        state.selected = +t.getAttribute("data-i");
        details(state.selected);
        draw();
      }
    });
    el("slider").max = String(Math.max(0, N - state.size));
    el("slider").value = String(state.start);
    el("size").value = String(state.size);
    el("arrows").value = state.arrows;
    el("range").textContent = N ? "events " + (D.start + s0).toLocaleString() + "–" +
      (D.start + s1 - 1).toLocaleString() + " of " + D.total.toLocaleString() + " · " +
      (stats.bundles ? stats.bundled + " messages in " + stats.bundles + " bundles"
        : stats.arrows + " messages") : "no events";
    var attrs = { lanes: D.nodes.length, arrows: stats.arrows, bundles: stats.bundles,
                  bundled: stats.bundled, dropped: stats.dropped, cuts: stats.cuts,
                  "arrows-total": M.arrows.count, window: s0 + ":" + s1,
                  view: (D.start + s0) + ":" + (D.start + s1), rendered: 1 };
    Object.keys(attrs).forEach(function (k) { body.setAttribute("data-" + k, String(attrs[k])); });
  }

  function controls() {
    el("first").onclick = function () { setWindow(0, state.size); };
    el("last").onclick = function () { setWindow(N, state.size); };
    el("prev").onclick = function () { setWindow(state.start - state.size, state.size); };
    el("next").onclick = function () { setWindow(state.start + state.size, state.size); };
    el("zoomin").onclick = function () {
      var mid = state.start + state.size / 2, size = Math.max(10, state.size / 2);
      setWindow(mid - size / 2, size);
    };
    el("zoomout").onclick = function () {
      var mid = state.start + state.size / 2, size = state.size * 2;
      setWindow(mid - size / 2, size);
    };
    el("slider").oninput = function () { setWindow(+el("slider").value, state.size); };
    el("size").onchange = function () { setWindow(state.start, +el("size").value || 150); };
    el("arrows").onchange = function () {
      state.arrows = el("arrows").value; setWindow(state.start, state.size);
    };
    el("goto").onchange = function () { pick(Math.floor(+el("goto").value)); };
    document.addEventListener("keydown", function (e) {
      if (e.target && (e.target.tagName === "INPUT" || e.target.tagName === "SELECT")) return;
      var map = { ArrowLeft: "prev", PageUp: "prev", ArrowRight: "next", PageDown: "next",
                  Home: "first", End: "last", "+": "zoomin", "=": "zoomin", "-": "zoomout" };
      if (map[e.key]) { el(map[e.key]).click(); e.preventDefault(); }
      if (e.key === "b") {
        state.arrows = MODES[(MODES.indexOf(state.arrows) + 1) % MODES.length];
        setWindow(state.start, state.size);
      }
    });
    var pending = 0;
    window.addEventListener("resize", function () {
      clearTimeout(pending); pending = setTimeout(draw, 100);
    });
  }

  try {
    D = JSON.parse(el("trace-data").textContent);
    M = RR.decode(D);
    N = D.shown;
    state.size = Math.min(N, 150);
    summary(); legend(); violationsPanel(); propertiesPanel(); controls();
    // The first view: around the first violation, narrowed until its arrows can be read.
    var centre = D.violations.length && D.violations[0].events.length ?
      D.violations[0].events[0] : Math.floor(state.size / 2);
    var dense = RR.bundleAbove(el("diagram").clientWidth);
    while (state.size > 40 && RR.arrowsIn(M.arrows, centre - state.size / 2,
                                          centre + state.size / 2).length > dense) {
      state.size = Math.round(state.size / 2);
    }
    state.start = Math.round(centre - state.size / 2);
    readHash();
    clamp();
    draw();
    // From the start of navigation to the first drawing (page read, data decoded, drawn):
    // for docs/report.md's figures.
    body.setAttribute("data-ready-ms", String(Math.round(performance.now())));
  } catch (e) {
    fail(e);
  }
})();
