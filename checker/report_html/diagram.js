// raftref trace report, part 3 of 4: the detailed space-time diagram of one window of the
// embedded events: a lane per node with role and term bands, inferred partition periods under
// the lanes, messages as arrows (or bundles with a count when too many to follow), and marks
// for crashes, restarts, commits, elections and the events a violation cites.
(function () {
  "use strict";
  var ROLE_COLORS = ["#d7dee8", "#f4bf5e", "#62b86a", "#3b3f46"];
  var MSG_COLORS = ["#7b3fb3", "#b58ad6", "#1f6fd1", "#3aa6a0", "#c2782a", "#e0b25c"];
  var DROP_CLASS = ["", "cut", "lost", "down"];
  var DROP_WHY = ["", "partition", "lost", "addressee down"];
  var LANE_H = 92, TOP = 30, LEFT = 64, RIGHT = 16, BAND_H = 16, CUT_Y = 30;
  // Arrows are bundled when the window holds more than one per ARROW_PX pixels of the time
  // axis (70 on a 1,140-pixel plot). A delivery takes a few ticks, dozens of events in a busy
  // run, so arrows are long and cross the lanes between: past about 70 in view, tried on
  // simulated 3- and 5-node runs, an arrow can no longer be followed from send to receive.
  // Bundles group the sends of slices of at least BUNDLE_PX pixels.
  var ARROW_PX = 16, BUNDLE_PX = 150;
  RR.ROLE_COLORS = ROLE_COLORS; RR.MSG_COLORS = MSG_COLORS;

  RR.esc = function (s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  };
  var esc = RR.esc;

  // The smallest of 1, 2, 5, 10, 20, 50, ... that is at least v.
  RR.nice = function (v) {
    var p = Math.pow(10, Math.floor(Math.log10(Math.max(v, 1))));
    return [1, 2, 5, 10].map(function (k) { return k * p; }).filter(function (s) {
      return s >= v;
    })[0];
  };

  // Arrows with an end in [s0, s1) or crossing it (ordered by receiving end; a send is at
  // most span events before its receive).
  var arrowsIn = RR.arrowsIn = function (A, s0, s1) {
    var lo = 0, hi = A.count, out = [];
    while (lo < hi) { var mid = (lo + hi) >> 1; if (A.to[mid] < s0) lo = mid + 1; else hi = mid; }
    for (var k = lo; k < A.count && A.to[k] < s1 + A.span; k++) {
      if (A.from[k] < s1) out.push(k);
    }
    return out;
  };
  // More arrows than this in a plot of the given width are drawn as bundles.
  RR.bundleAbove = function (width) {
    return (Math.max(720, width) - LEFT - RIGHT) / ARROW_PX;
  };

  RR.drawDiagram = function (m, box, st) {
    var D = m.D, A = m.arrows, width = Math.max(720, box.clientWidth || 1200);
    var lanes = D.nodes.length, height = TOP + lanes * LANE_H + 8;
    var s0 = st.s0, s1 = st.s1, size = s1 - s0, plotW = width - LEFT - RIGHT;
    var step = plotW / size;
    function x(i) { return LEFT + (i - s0 + 0.5) * step; }
    function y(n) { return TOP + n * LANE_H + LANE_H / 2; }
    var o = [], stats = { arrows: 0, dropped: 0, bundles: 0, bundled: 0, cuts: 0 }, i, k;
    o.push('<svg xmlns="http://www.w3.org/2000/svg" id="spacetime" width="' + width +
           '" height="' + height + '" viewBox="0 0 ' + width + " " + height + '"><defs>');
    MSG_COLORS.forEach(function (c, t) {
      o.push('<marker id="head' + t + '" viewBox="0 0 10 10" refX="9" refY="5" ' +
             'markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path ' +
             'd="M0 0L10 5L0 10z" fill="' + c + '"/></marker>');
    });
    o.push('<marker id="bundle-head" viewBox="0 0 10 10" refX="8" refY="5" ' +
           'markerUnits="userSpaceOnUse" markerWidth="12" markerHeight="12" orient="auto">' +
           '<path d="M0 0L10 5L0 10z" fill="#51607a"/></marker>');
    o.push('<pattern id="cut-stripes" width="6" height="6" patternUnits="userSpaceOnUse" ' +
           'patternTransform="rotate(45)"><rect width="3" height="6" fill="#e8590c"/>' +
           '</pattern><clipPath id="plot"><rect x="' + LEFT + '" y="0" width="' + plotW +
           '" height="' + height + '"/></clipPath></defs>');
    // Axis: positions in the run at round numbers, so labels stay put while the view pans.
    var every = RR.nice(90 / step);
    for (var p = Math.ceil((D.start + s0) / every) * every; p < D.start + s1; p += every) {
      o.push('<text class="axis" x="' + x(p - D.start) + '" y="14" text-anchor="middle">' +
             p.toLocaleString() + "</text>");
    }
    o.push('<g clip-path="url(#plot)">');
    for (i = s0; i < s1; i++) {
      if (st.violated[i]) {
        o.push('<rect class="viol-band" x="' + (x(i) - Math.max(step, 6) / 2) + '" y="' +
               (TOP - 4) + '" width="' + Math.max(step, 6) + '" height="' +
               (lanes * LANE_H + 4) + '"/>');
      }
    }
    for (k = 0; k < lanes; k++) {
      o.push('<line class="lane-line" x1="' + LEFT + '" x2="' + (width - RIGHT) + '" y1="' +
             y(k) + '" y2="' + y(k) + '"/>');
    }
    m.bands.forEach(function (b) {
      if (b.to <= s0 || b.from >= s1) return;
      var a = Math.max(b.from, s0), e = Math.min(b.to, s1);
      var x0 = x(a) - step / 2, w = (e - a) * step, yy = y(b.node) - BAND_H / 2;
      var text = b.role === RR.DOWN ? "down" : "t" + b.term + " " + D.roles[b.role];
      o.push('<rect class="band" x="' + x0 + '" y="' + yy + '" width="' + w + '" height="' +
             BAND_H + '" rx="3" fill="' + ROLE_COLORS[b.role] + '"><title>' +
             esc(D.nodes[b.node]) + ": " + text + "</title></rect>");
      if (w > text.length * 6 + 6) {
        o.push('<text class="band-label" x="' + (x0 + 3) + '" y="' + (yy - 4) + '">' + text +
               "</text>");
      }
    });
    cuts(m, o, s0, s1, x, y, step, stats);
    var shown = arrowsIn(A, s0, s1);
    var bundle = st.arrowMode === "bundled" ||
      (st.arrowMode !== "each" && shown.length > RR.bundleAbove(width));
    if (bundle) {
      bundles(m, o, shown, s0, s1, x, y, step, stats, RR.bundleAbove(width) / 2);
    } else {
      shown.forEach(function (k) { arrow(m, o, k, x, y, stats); });
    }
    marks(m, o, st, x, y, step);
    o.push("</g>");
    for (k = 0; k < lanes; k++) {
      o.push('<text class="lane-label" x="8" y="' + (y(k) + 4) + '">' + esc(D.nodes[k]) +
             "<title>" + esc(laneTitle(D, k)) + "</title></text>");
    }
    o.push("</svg>");
    box.innerHTML = o.join("");
    stats.inWindow = shown.length;
    return stats;
  };

  function laneTitle(D, k) {
    var files = [];
    D.fileNodes.forEach(function (ns, f) {
      if (ns.indexOf(k) >= 0) files.push(D.fileLabels[f]);
    });
    return D.nodes[k] + (files.length ? ": events from " + files.join(", ") : "");
  }

  // Each node's inferred partition periods in one row under its lane: where the set of
  // peers it is cut off from changes, a new segment starts, labelled with that set.
  function cuts(m, o, s0, s1, x, y, step, stats) {
    var D = m.D, start = D.start;
    for (var node = 0; node < D.nodes.length; node++) {
      var mine = D.cuts.filter(function (c) {
        return (c[0] === node || c[1] === node) && c[3] - start >= s0 && c[2] - start < s1;
      });
      var edges = [];
      mine.forEach(function (c) { edges.push(c[2], c[3] + 1); });
      edges.sort(function (a, b) { return a - b; });
      var segments = [];
      for (var k = 0; k + 1 < edges.length; k++) {
        var a = edges[k], e = edges[k + 1];
        if (a === e) continue;
        var peers = mine.filter(function (c) { return c[2] <= a && c[3] >= e - 1; })
          .map(function (c) { return c[0] === node ? c[1] : c[0]; }).sort();
        var last = segments[segments.length - 1];
        if (!peers.length) continue;
        if (last && last.e === a && last.peers.join() === peers.join()) last.e = e;
        else segments.push({ a: a, e: e, peers: peers });
      }
      segments.forEach(function (g) {
        var a = Math.max(g.a - start, s0), e = Math.min(g.e - start, s1);
        var x0 = x(a) - step / 2, w = Math.max((e - a) * step, 3), yy = y(node) + CUT_Y;
        var names = g.peers.map(function (p) { return D.nodes[p]; }).join(", ");
        stats.cuts++;
        o.push('<rect class="cut" x="' + x0 + '" y="' + yy + '" width="' + w +
               '" height="6" fill="url(#cut-stripes)"><title>' + esc(D.nodes[node]) +
               " cut off from " + esc(names) + ", events " + g.a.toLocaleString() + "–" +
               (g.e - 1).toLocaleString() + " (inferred from partition drops)</title></rect>");
        var label = "cut off from " + names;
        if (w > label.length * 5.2 + 4) {
          o.push('<text class="cut-label" x="' + (x0 + 2) + '" y="' + (yy + 15) + '">' +
                 esc(label) + "</text>");
        }
      });
    }
  }

  function arrow(m, o, k, x, y, stats) {
    var A = m.arrows, a = A.from[k], b = A.to[k], s = A.status[k], t = A.type[k];
    var x1 = x(a), y1 = y(m.node[a]), x2 = x(b), y2 = y(m.node[b]);
    var title = "<title>" + esc(RR.describe(m, a)) + (s ? " — dropped (" + DROP_WHY[s] + ")"
      : "") + "</title>";
    stats.arrows++;
    if (s) {
      stats.dropped++;
      o.push('<line class="arrow dropped ' + DROP_CLASS[s] + '" x1="' + x1 + '" y1="' + y1 +
             '" x2="' + x2 + '" y2="' + y2 + '">' + title + "</line>");
      o.push(s === 1 ? '<path class="cut-wall" d="M' + x2 + " " + (y2 - 7) + "v14" + '"/>'
        : '<path class="drop-x ' + DROP_CLASS[s] + '" d="M' + (x2 - 5) + " " + (y2 - 5) +
          "l10 10m0 -10l-10 10" + '"/>');
    } else {
      o.push('<line class="arrow" stroke="' + MSG_COLORS[t] + '" marker-end="url(#head' + t +
             ')" x1="' + x1 + '" y1="' + y1 + '" x2="' + x2 + '" y2="' + y2 + '">' + title +
             "</line>");
    }
  }

  // Messages grouped by (sender, addressee, slice of sends): one line from the mean send to
  // the mean receive, as thick as the count is large, labelled with the count delivered and
  // the count lost (✕), dropped by a partition (⟂) or by a down addressee (↓). Slices start
  // at BUNDLE_PX of the axis and widen until there are at most half as many bundles as the
  // arrows that would be too many (5 nodes have 20 directions: narrow slices would leave
  // nearly one bundle a message).
  function group(m, shown, s0, s1, x, slice) {
    var A = m.arrows, groups = {}, order = [];
    shown.forEach(function (k) {
      var a = A.from[k], b = A.to[k];
      var key = m.node[a] + ":" + m.node[b] + ":" + Math.floor((m.D.start + a) / slice);
      var g = groups[key];
      if (!g) {
        g = groups[key] = { from: m.node[a], to: m.node[b], count: 0, xa: 0, xb: 0, first: a,
                            last: a, types: MSG_COLORS.map(function () { return 0; }), status: [0, 0, 0, 0] };
        order.push(g);
      }
      g.count++;
      g.xa += x(Math.max(Math.min(a, s1), s0 - 1));
      g.xb += x(Math.max(Math.min(b, s1), s0 - 1));
      g.first = Math.min(g.first, a); g.last = Math.max(g.last, a);
      g.types[A.type[k]]++;
      g.status[A.status[k]]++;
    });
    return order;
  }

  function bundles(m, o, shown, s0, s1, x, y, step, stats, target) {
    var D = m.D, slice = RR.nice(BUNDLE_PX / step), order = group(m, shown, s0, s1, x, slice);
    while (order.length > target && slice < s1 - s0) {
      slice = RR.nice(slice * 2);
      order = group(m, shown, s0, s1, x, slice);
    }
    stats.slice = slice;
    order.forEach(function (g) {
      var xa = g.xa / g.count, xb = g.xb / g.count, ya = y(g.from), yb = y(g.to);
      var w = Math.min(1.5 + 1.3 * Math.log2(g.count), 9), st = g.status;
      var kinds = D.msgtypes.map(function (t, j) {
        return g.types[j] ? g.types[j] + " " + t : "";
      }).filter(Boolean).join(", ");
      var fates = DROP_WHY.map(function (why, j) {
        return st[j] ? st[j] + " " + (j ? why : "delivered") : "";
      }).filter(Boolean).join(", ");
      var worst = st[0] ? 0 : st[1] ? 1 : st[2] ? 2 : 3;  // none delivered: dashed
      stats.bundles++; stats.bundled += g.count; stats.dropped += g.count - st[0];
      o.push('<line class="bundle' + (worst ? " dropped " + DROP_CLASS[worst] : "") +
             (worst ? "" : '" marker-end="url(#bundle-head)') + '" x1="' + xa + '" y1="' + ya + '" x2="' + xb + '" y2="' + yb +
             '" stroke-width="' + w + '"><title>' + esc(D.nodes[g.from]) + " → " +
             esc(D.nodes[g.to]) + ": " + g.count + " messages sent at events " +
             (D.start + g.first).toLocaleString() + "–" + (D.start + g.last).toLocaleString() +
             " (" + kinds + "): " + fates + "</title></line>");
      var parts = [[st[0] ? String(st[0]) : "", ""], [st[2] ? "✕" + st[2] : "", "lost"],
                   [st[1] ? "⟂" + st[1] : "", "cut"], [st[3] ? "↓" + st[3] : "", "down"]]
        .filter(function (p) { return p[0]; });
      if (g.count < 2) return;  // a single message needs no label
      var text = parts.map(function (p) { return p[0]; }).join(" ");
      var lx = xa + (xb - xa) * 0.3, ly = ya + (yb - ya) * 0.3, half = text.length * 3.2 + 4;
      o.push('<g class="bundle-count"><rect x="' + (lx - half) + '" y="' + (ly - 7) +
             '" width="' + 2 * half + '" height="13" rx="6"/><text x="' + lx + '" y="' +
             (ly + 3.5) + '" text-anchor="middle">' + parts.map(function (p) {
               return '<tspan class="' + p[1] + '">' + p[0] + "</tspan>";
             }).join(" ") + "</text></g>");
    });
  }

  function marks(m, o, st, x, y, step) {
    var D = m.D, K = m.K, r = Math.max(1.6, Math.min(4, step / 3)), dots = step >= 2;
    for (var i = st.s0; i < st.s1; i++) {
      var xx = x(i), yy = y(m.node[i]), kind = m.kind[i], bad = st.violated[i];
      var restart = RR.isRestart(m, i), marked = kind === K.crash || restart;
      if (bad) {
        o.push('<circle class="viol-ring" cx="' + xx + '" cy="' + yy + '" r="' + (r + 5) + '"/>');
      }
      if (i === st.selected) {
        o.push('<circle class="selected-ring" cx="' + xx + '" cy="' + yy + '" r="' + (r + 8) +
               '"/>');
      }
      if (dots || marked || bad) {
        o.push('<circle class="ev" data-i="' + i + '" cx="' + xx + '" cy="' + yy + '" r="' +
               (marked ? r + 4 : r) + '" fill="' + (marked ? "transparent" : bad ? "#d62828" :
               "#55606e") + '"><title>' + (D.start + i).toLocaleString() + " · " +
               esc(D.nodes[m.node[i]]) + ": " + esc(RR.describe(m, i)) + "</title></circle>");
      }
      if (kind === K.crash) {
        var cross = 'd="M' + (xx - 6) + " " + (yy - 6) + 'l12 12m0 -12l-12 12"';
        o.push('<path class="crash-halo" ' + cross + "/>", '<path class="crash-x" ' + cross + "/>");
      } else if (restart) {
        o.push('<path class="restart" d="M' + (xx - 4) + " " + (yy - 7) + "l10 7l-10 7z" + '"/>');
      } else if (kind === K.commit && (dots || step > 0.5)) {
        o.push('<path class="commit-mark" d="M' + xx + " " + (yy + 8) + "l4 4l-4 4l-4 -4z" +
               '"/>');
        if (step > 7) {
          o.push('<text class="commit-label" x="' + xx + '" y="' + (yy + 26) +
                 '" text-anchor="middle">' + m.a[m.argAt[i]] + "</text>");
        }
      } else if (kind === K.role && m.role[i] === 2) {
        o.push('<text class="leader-star" x="' + xx + '" y="' + (yy + 26) +
               '" text-anchor="middle">★</text>');
      }
    }
  }
})();
