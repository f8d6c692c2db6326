// raftref trace report: a space-time diagram drawn as SVG from the embedded JSON, one window
// of events at a time (the window is the URL's #start=...&size=..., so a view can be linked).
// After each drawing the body carries data-rendered="1", data-lanes, data-arrows (drawn in
// this window), data-dropped and data-arrows-total; any script error lands in data-error.
(function () {
  "use strict";
  var body = document.body;
  function fail(e) { body.setAttribute("data-error", String((e && e.message) || e)); }
  window.addEventListener("error", function (e) { fail(e.error || e.message); });

  var ROLE_COLORS = ["#d7dee8", "#f4bf5e", "#62b86a", "#3b3f46"];
  var MSG_COLORS = ["#7b3fb3", "#b58ad6", "#1f6fd1", "#3aa6a0"];
  var LANE_H = 92, TOP = 30, LEFT = 64, RIGHT = 16, BAND_H = 16;

  var D, ev, N, state = { start: 0, size: 150, selected: -1 };
  var violated = {};   // event index -> [violation numbers]

  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  }
  function el(id) { return document.getElementById(id); }

  function readHash() {
    var h = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
      var p = kv.split("=");
      if (p[0]) h[p[0]] = decodeURIComponent(p[1] || "");
    });
    if (h.size === "all") state.size = Math.max(N, 1);
    else if (+h.size > 0) state.size = Math.floor(+h.size);
    if (+h.start >= 0) state.start = Math.floor(+h.start);
  }
  function clamp() {
    state.size = Math.max(10, Math.min(state.size, Math.max(N, 10)));
    state.start = Math.max(0, Math.min(state.start, Math.max(0, N - state.size)));
  }
  function setWindow(start, size) {
    state.start = start; state.size = size; clamp();
    history.replaceState(null, "", "#start=" + state.start + "&size=" + state.size);
    draw();
  }

  function summary() {
    var h = D.header, impl = h.implementation || {};
    var verdict = D.verdict || "unchecked";
    var s = "<b>" + esc(impl.name || "?") + " " + esc(impl.version || "") + "</b> · " +
      D.nodes.length + " nodes · " + (D.more ? "more than " : "") +
      (D.more ? D.total - 1 : D.total).toLocaleString() + " events" +
      (h.seed !== undefined ? " · seed " + esc(h.seed) : "") +
      " · files: " + D.files.map(esc).join(", ") +
      ' · <span class="badge ' + verdict + '">' +
      (verdict === "violated" ? "violated: " + D.properties.filter(function (p) {
        return p.verdict === "violated"; }).map(function (p) { return p.name; }).join(", ")
        : verdict === "holds" ? "every property holds" : "not checked") + "</span>";
    if (D.start > 0 || D.more || D.start + D.shown < D.total) {
      s += " · this page holds events " + D.start + "–" + (D.start + D.shown - 1) +
        " of the trace (raftref report --start N --limit N for others)";
    }
    el("summary").innerHTML = s;
  }

  function legend() {
    var items = [];
    ["follower", "candidate", "leader", "down (crashed)"].forEach(function (r, i) {
      items.push('<span><span class="sw" style="background:' + ROLE_COLORS[i] + '"></span>' +
                 r + "</span>");
    });
    D.msgtypes.forEach(function (t, i) {
      items.push('<span><svg width="22" height="10"><line x1="0" y1="5" x2="22" y2="5" ' +
                 'stroke="' + MSG_COLORS[i] + '" stroke-width="2"/></svg>' + t + "</span>");
    });
    items.push('<span><svg width="22" height="12"><line x1="0" y1="6" x2="14" y2="6" ' +
               'class="arrow dropped"/><path d="M12 2l8 8M20 2l-8 8" class="drop-x"/></svg>' +
               "dropped</span>");
    items.push('<span><svg width="14" height="14"><path d="M2 2l10 10M12 2L2 12" ' +
               'class="crash-x"/></svg>crash</span>');
    items.push('<span><svg width="14" height="14"><path d="M3 1l9 6-9 6z" class="restart"/>' +
               "</svg>restart</span>");
    items.push('<span><svg width="12" height="12"><path d="M6 0l6 6-6 6-6-6z" ' +
               'class="commit-mark"/></svg>commit index advances</span>');
    items.push('<span style="color:#0f6b2f">★ elected leader</span>');
    items.push('<span><span class="sw" style="background:#d62828;opacity:.35"></span>' +
               "event cited by a violation</span>");
    el("legend").innerHTML = items.join("");
  }

  function violationsPanel() {
    var box = el("violations");
    if (!D.violations.length) {
      box.innerHTML = "<h2>Violations</h2>" + (D.verdict ? "None: every checked property holds." :
        "The trace was not checked.");
      return;
    }
    var out = ["<h2>Violations (" + D.violations.length + ")</h2>"];
    D.violations.forEach(function (v, k) {
      v.events.forEach(function (i) { (violated[i] = violated[i] || []).push(k); });
      out.push('<div class="violation" id="violation-' + k + '"><div><span class="prop">' +
               esc(v.property) + "</span> violated: " + esc(v.explanation) + "</div>" +
               '<div class="statement">' + esc(v.property) + ": " + esc(v.statement) + "</div>");
      v.lines.forEach(function (c) {
        out.push('<div class="cited" data-event="' + c.event + '"><code>' + esc(c.file) + ":" +
                 c.line + ": " + esc(c.text) + "</code></div>");
      });
      out.push("</div>");
    });
    box.innerHTML = out.join("");
    Array.prototype.forEach.call(box.querySelectorAll(".cited"), function (node) {
      node.addEventListener("click", function () {
        var i = +node.getAttribute("data-event");
        if (i >= 0) { focus(i); el("diagram").scrollIntoView({ behavior: "smooth" }); }
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
    el("details").innerHTML = "<h2>Event</h2><code>" + esc(D.files[ev.file[i]] || "") + ":" +
      ev.line[i] + "  seq " + ev.seq[i] + "  " + esc(D.nodes[ev.node[i]]) + "  " +
      esc(ev.info[i]) + "\nafter it: term " + ev.term[i] + ", role " + D.roles[ev.role[i]] +
      ", commit " + ev.commit[i] + "</code>" + (v.length ? "<div>cited by: " + v.map(function (k) {
        return '<a href="#violation-' + k + '">' + esc(D.violations[k].property) + "</a>";
      }).join(", ") + "</div>" : "");
  }

  function draw() {
    var box = el("diagram");
    var width = Math.max(720, box.clientWidth || 1200);
    var lanes = D.nodes.length, height = TOP + lanes * LANE_H + 8;
    var s0 = state.start, s1 = Math.min(N, s0 + state.size), step = (width - LEFT - RIGHT) /
      state.size;
    function x(i) { return LEFT + (i - s0 + 0.5) * step; }
    function y(n) { return TOP + n * LANE_H + LANE_H / 2; }
    var o = [], arrows = 0, dropped = 0, i, k;
    o.push('<svg xmlns="http://www.w3.org/2000/svg" id="spacetime" width="' + width +
           '" height="' + height + '" viewBox="0 0 ' + width + " " + height + '">');
    o.push("<defs>");
    MSG_COLORS.forEach(function (c, t) {
      o.push('<marker id="head' + t + '" viewBox="0 0 10 10" refX="9" refY="5" ' +
             'markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" ' +
             'fill="' + c + '"/></marker>');
    });
    o.push('<clipPath id="plot"><rect x="' + LEFT + '" y="0" width="' + (width - LEFT - RIGHT) +
           '" height="' + height + '"/></clipPath></defs>');
    // Axis: seq at a few ticks.
    var every = Math.max(1, Math.ceil(90 / step));
    for (i = s0; i < s1; i += every) {
      o.push('<text class="axis" x="' + x(i) + '" y="14" text-anchor="middle">' + ev.seq[i] +
             "</text>");
    }
    o.push('<g clip-path="url(#plot)">');
    // Violation bands behind everything.
    for (i = s0; i < s1; i++) {
      if (violated[i]) {
        o.push('<rect class="viol-band" x="' + (x(i) - Math.max(step, 6) / 2) + '" y="' + (TOP - 4) +
               '" width="' + Math.max(step, 6) + '" height="' + (lanes * LANE_H + 4) + '"/>');
      }
    }
    for (k = 0; k < lanes; k++) {
      o.push('<line class="lane-line" x1="' + LEFT + '" x2="' + (width - RIGHT) + '" y1="' + y(k) +
             '" y2="' + y(k) + '"/>');
    }
    // Role and term bands along each lane.
    D.bands.forEach(function (b) {
      if (b[2] <= s0 || b[1] >= s1) return;
      var a = Math.max(b[1], s0), e = Math.min(b[2], s1);
      var x0 = x(a) - step / 2, w = (e - a) * step, yy = y(b[0]) - BAND_H / 2;
      var label = b[3] === 3 ? "down" : D.roles[b[3]] + " t" + b[4];
      o.push('<rect class="band" x="' + x0 + '" y="' + yy + '" width="' + w + '" height="' +
             BAND_H + '" rx="3" fill="' + ROLE_COLORS[b[3]] + '"><title>' + esc(D.nodes[b[0]]) +
             ": " + label + " (seq " + ev.seq[b[1]] + "–" + ev.seq[b[2] - 1] + ")</title></rect>");
      var text = b[3] === 3 ? "down" : "t" + b[4] + " " + D.roles[b[3]];
      if (w > text.length * 6 + 6) {
        o.push('<text class="band-label" x="' + (x0 + 3) + '" y="' + (yy - 4) + '">' + text +
               "</text>");
      }
    });
    // Messages: send -> receive, or send -> drop (a cross where the network lost it).
    D.arrows.forEach(function (a) {
      if (a[1] < s0 || a[0] >= s1) return;
      var x1 = x(a[0]), y1 = y(ev.node[a[0]]), x2 = x(a[1]), y2 = y(ev.node[a[1]]);
      var title = "<title>" + esc(ev.info[a[0]]) + (a[3] ? " — dropped" : "") + "</title>";
      arrows++;
      if (a[3]) {
        dropped++;
        o.push('<line class="arrow dropped" x1="' + x1 + '" y1="' + y1 + '" x2="' + x2 +
               '" y2="' + y2 + '">' + title + "</line>");
        o.push('<path class="drop-x" d="M' + (x2 - 5) + " " + (y2 - 5) + "l10 10m0 -10l-10 10" +
               '"/>');
      } else {
        o.push('<line class="arrow" stroke="' + MSG_COLORS[a[2]] + '" marker-end="url(#head' +
               a[2] + ')" x1="' + x1 + '" y1="' + y1 + '" x2="' + x2 + '" y2="' + y2 + '">' +
               title + "</line>");
      }
    });
    // Events and marks.
    var K = {}; D.kinds.forEach(function (name, j) { K[name] = j; });
    var r = Math.max(1.6, Math.min(4, step / 3));
    for (i = s0; i < s1; i++) {
      var xx = x(i), yy = y(ev.node[i]), kind = ev.kind[i];
      if (violated[i]) {
        o.push('<circle class="viol-ring" cx="' + xx + '" cy="' + yy + '" r="' + (r + 5) + '"/>');
      }
      if (i === state.selected) {
        o.push('<circle class="selected-ring" cx="' + xx + '" cy="' + yy + '" r="' + (r + 8) +
               '"/>');
      }
      var marked = kind === K.crash || (kind === K.start && /restart=true/.test(ev.info[i]));
      o.push('<circle class="ev" data-i="' + i + '" cx="' + xx + '" cy="' + yy + '" r="' +
             (marked ? r + 4 : r) + '" fill="' + (marked ? "transparent" : violated[i] ?
             "#d62828" : "#55606e") + '"><title>seq ' + ev.seq[i] + " " +
             esc(D.nodes[ev.node[i]]) + ": " + esc(ev.info[i]) + "</title></circle>");
      if (kind === K.crash) {
        var cross = 'd="M' + (xx - 6) + " " + (yy - 6) + 'l12 12m0 -12l-12 12"';
        o.push('<path class="crash-halo" ' + cross + "/>", '<path class="crash-x" ' + cross + "/>");
      } else if (marked) {
        o.push('<path class="restart" d="M' + (xx - 4) + " " + (yy - 7) + "l10 7l-10 7z" + '"/>');
      } else if (kind === K.commit) {
        o.push('<path class="commit-mark" d="M' + xx + " " + (yy + 8) + "l5 5l-5 5l-5 -5z" + '"/>');
        if (step > 7) {
          o.push('<text class="commit-label" x="' + xx + '" y="' + (yy + 29) +
                 '" text-anchor="middle">' + ev.commit[i] + "</text>");
        }
      } else if (kind === K.role && ev.role[i] === 2) {
        o.push('<text class="leader-star" x="' + xx + '" y="' + (yy + 26) +
               '" text-anchor="middle">★ leader</text>');
      }
    }
    o.push("</g>");
    for (k = 0; k < lanes; k++) {
      o.push('<text class="lane-label" x="8" y="' + (y(k) + 4) + '">' + esc(D.nodes[k]) +
             "</text>");
    }
    o.push("</svg>");
    box.innerHTML = o.join("");
    box.querySelector("svg").addEventListener("click", function (e) {
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
    el("range").textContent = N ? "events " + (s0 + 1) + "–" + s1 + " of " + N + " (seq " +
      ev.seq[s0] + "–" + ev.seq[s1 - 1] + ")" : "no events";
    body.setAttribute("data-lanes", String(lanes));
    body.setAttribute("data-arrows", String(arrows));
    body.setAttribute("data-dropped", String(dropped));
    body.setAttribute("data-arrows-total", String(D.arrows.length));
    body.setAttribute("data-window", s0 + ":" + s1);
    body.setAttribute("data-rendered", "1");
  }

  function controls() {
    el("first").onclick = function () { setWindow(0, state.size); };
    el("last").onclick = function () { setWindow(N, state.size); };
    el("prev").onclick = function () { setWindow(state.start - state.size, state.size); };
    el("next").onclick = function () { setWindow(state.start + state.size, state.size); };
    el("zoomin").onclick = function () {
      var mid = state.start + state.size / 2, size = Math.max(10, Math.round(state.size / 2));
      setWindow(Math.round(mid - size / 2), size);
    };
    el("zoomout").onclick = function () {
      var mid = state.start + state.size / 2, size = state.size * 2;
      setWindow(Math.round(mid - size / 2), size);
    };
    el("slider").oninput = function () { setWindow(+el("slider").value, state.size); };
    el("size").onchange = function () { setWindow(state.start, +el("size").value || 300); };
    el("goto").onchange = function () {
      var want = +el("goto").value, best = 0;
      for (var i = 0; i < N; i++) { if (ev.seq[i] <= want) best = i; else break; }
      focus(best);
    };
    document.addEventListener("keydown", function (e) {
      if (e.target && e.target.tagName === "INPUT") return;
      var map = { ArrowLeft: "prev", PageUp: "prev", ArrowRight: "next", PageDown: "next",
                  Home: "first", End: "last", "+": "zoomin", "=": "zoomin", "-": "zoomout" };
      if (map[e.key]) { el(map[e.key]).click(); e.preventDefault(); }
    });
    var pending = 0;
    window.addEventListener("resize", function () {
      clearTimeout(pending); pending = setTimeout(draw, 100);
    });
  }

  try {
    D = JSON.parse(el("trace-data").textContent);
    ev = D.ev; N = D.shown;
    state.size = Math.min(Math.max(N, 10), 150);
    readHash();
    clamp();
    summary(); legend(); violationsPanel(); propertiesPanel(); controls();
    if (!location.hash && D.violations.length && D.violations[0].events.length) {
      state.start = D.violations[0].events[0] - Math.floor(state.size / 2); clamp();
    }
    draw();
  } catch (e) {
    fail(e);
  }
})();
