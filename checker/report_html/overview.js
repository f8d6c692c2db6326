// raftref trace report, part 2 of 4: the overview strip, the whole run in a few hundred
// buckets (overview.py): terms and their leaders, each node's role, down time and inferred
// partitions, the commit index, lost messages and violations. Clicking it centres the
// detailed view there; dragging across it shows the part dragged over.
(function () {
  "use strict";
  var LEFT = 64, RIGHT = 16, TERM_H = 15, NODE_H = 9, COMMIT_H = 24, LOST_H = 10, GAP = 4;
  var ROLE_FILL = { down: "#3b3f46", leader: "#62b86a", candidate: "#f4bf5e",
                    follower: "#d7dee8", none: "#ffffff" };
  RR.OVERVIEW_LEFT = LEFT;

  function esc(s) { return RR.esc(s); }

  RR.drawOverview = function (m, box, view, pick) {
    var D = m.D, O = D.overview, bits = O.bits, nodes = D.nodes.length, B = O.buckets;
    var total = Math.max(D.total, 1), width = Math.max(720, box.clientWidth || 1200);
    var plotW = width - LEFT - RIGHT;
    var nodeY = GAP + TERM_H + GAP, commitY = nodeY + nodes * (NODE_H + 1) + GAP;
    var lostY = commitY + COMMIT_H + GAP, height = lostY + LOST_H + GAP;
    function x(pos) { return LEFT + Math.min(pos, total) / total * plotW; }
    function bx(b) { return x(b * O.width); }
    var o = ['<svg xmlns="http://www.w3.org/2000/svg" id="overview-svg" width="' + width +
             '" height="' + height + '" viewBox="0 0 ' + width + " " + height + '">'];
    o.push('<defs><pattern id="cut-hatch" width="4" height="4" patternUnits="userSpaceOnUse" ' +
           'patternTransform="rotate(45)"><rect width="2" height="4" fill="#e8590c"/></pattern>' +
           "</defs>");
    // Runs of buckets that look the same, drawn as one rectangle each.
    function runs(value, draw) {
      var b = 0;
      while (b < B) {
        var v = value(b), e = b + 1;
        while (e < B && value(e) === v) e++;
        if (v !== null) draw(v, b, e);
        b = e;
      }
    }
    // Terms, each labelled with its leader when it had one.
    runs(function (b) { return O.term[b] + ":" + O.leader[b]; }, function (v, b, e) {
      var t = O.term[b], leader = O.leader[b], x0 = bx(b), w = bx(e) - x0;
      var label = "t" + t + (leader >= 0 ? " " + D.nodes[leader] : "");
      o.push('<rect class="ov-term" x="' + x0 + '" y="' + GAP + '" width="' + w + '" height="' +
             TERM_H + '" fill="' + (t % 2 ? "#dbe5f3" : "#eef2f8") + '"><title>term ' + t +
             (leader >= 0 ? ", leader " + esc(D.nodes[leader]) : ", no leader") +
             "</title></rect>");
      if (w > label.length * 6 + 4) {
        o.push('<text class="ov-label" x="' + (x0 + 3) + '" y="' + (GAP + 11) + '">' +
               esc(label) + "</text>");
      }
    });
    var k;
    for (k = 0; k < nodes; k++) {
      var y = nodeY + k * (NODE_H + 1), flags = O.flags[k];
      runs(function (b) {
        var f = flags[b];
        return f & bits.down ? "down" : f & bits.leader ? "leader" : f & bits.candidate ?
          "candidate" : f & bits.follower ? "follower" : "none";
      }, function (v, b, e) {
        o.push('<rect x="' + bx(b) + '" y="' + y + '" width="' + (bx(e) - bx(b)) +
               '" height="' + NODE_H + '" fill="' + ROLE_FILL[v] + '"/>');
      });
      runs(function (b) { return flags[b] & bits.cut ? 1 : null; }, function (v, b, e) {
        o.push('<rect class="ov-cut" x="' + bx(b) + '" y="' + y + '" width="' +
               Math.max(bx(e) - bx(b), 1.5) + '" height="' + NODE_H +
               '" fill="url(#cut-hatch)"><title>' + esc(D.nodes[k]) +
               " cut off from a peer (inferred from partition drops)</title></rect>");
      });
      for (var b = 0; b < B; b++) {
        if (flags[b] & bits.crash) {
          o.push('<rect class="ov-crash" x="' + (bx(b) - 1) + '" y="' + (y - 1) +
                 '" width="2.5" height="' + (NODE_H + 2) + '"/>');
        }
      }
    }
    // Commit index: the highest any node reports, as a step line.
    var maxCommit = Math.max.apply(null, O.commit.concat([1])), path = [], high = 0;
    for (var c = 0; c < B; c++) {
      high = Math.max(high, O.commit[c]);
      var cy = commitY + COMMIT_H - high / maxCommit * (COMMIT_H - 2);
      path.push((c ? "L" : "M") + bx(c) + " " + cy + "L" + bx(c + 1) + " " + cy);
    }
    o.push('<path class="ov-commit" d="' + path.join("") + "L" + bx(B) + " " +
           (commitY + COMMIT_H) + "L" + LEFT + " " + (commitY + COMMIT_H) + 'z"/>');
    o.push('<text class="ov-label" x="' + (bx(B) - 4) + '" y="' + (commitY + 10) +
           '" text-anchor="end">commit ' + high + "</text>");
    // Lost messages and violations.
    var maxLost = Math.max.apply(null, O.lost.concat([1]));
    for (var l = 0; l < B; l++) {
      if (O.lost[l]) {
        var h = Math.max(2, O.lost[l] / maxLost * LOST_H);
        o.push('<rect class="ov-lost" x="' + bx(l) + '" y="' + (lostY + LOST_H - h) +
               '" width="' + Math.max(bx(l + 1) - bx(l), 1) + '" height="' + h + '"/>');
      }
      if (O.viol[l]) {
        o.push('<line class="ov-viol" x1="' + bx(l) + '" x2="' + bx(l) + '" y1="0" y2="' +
               height + '"/><path class="ov-viol-mark" d="M' + (bx(l) - 5) + " 0h10l-5 7z" +
               '"><title>' + O.viol[l] + " event(s) cited by a violation</title></path>");
      }
    }
    // What the page does not embed, and the detailed view's window.
    var e0 = D.start, e1 = D.start + D.shown;
    [[0, e0], [e1, total]].forEach(function (r) {
      if (r[1] > r[0]) {
        o.push('<rect class="ov-outside" x="' + x(r[0]) + '" y="0" width="' +
               (x(r[1]) - x(r[0])) + '" height="' + height + '"><title>events ' +
               r[0].toLocaleString() + "–" + (r[1] - 1).toLocaleString() +
               " are not embedded in this page (raftref report --start N --limit N)" +
               "</title></rect>");
      }
    });
    var vx = x(view[0]), vw = Math.max(x(view[1]) - vx, 3);
    o.push('<rect id="ov-window" x="' + vx + '" y="1" width="' + vw + '" height="' +
           (height - 2) + '"/><rect id="ov-drag" x="0" y="1" width="0" height="' +
           (height - 2) + '"/>');
    var labels = [["term", GAP + 11]];
    for (k = 0; k < nodes; k++) labels.push([D.nodes[k], nodeY + k * (NODE_H + 1) + 8]);
    labels.push(["commit", commitY + 15], ["lost", lostY + 9]);
    labels.forEach(function (t) {
      o.push('<text class="ov-row" x="' + (LEFT - 6) + '" y="' + t[1] +
             '" text-anchor="end">' + esc(t[0]) + "</text>");
    });
    o.push("</svg>");
    box.innerHTML = o.join("");
    listen(box.querySelector("svg"), total, plotW, pick);
    document.body.setAttribute("data-overview-buckets", String(B));
    document.body.setAttribute("data-overview-cuts",
                               String(box.querySelectorAll(".ov-cut").length));
  };

  // Mouse down and up at (nearly) one place: a click; else the range dragged over.
  function listen(svg, total, plotW, pick) {
    function at(e) {
      var r = svg.getBoundingClientRect();
      return Math.max(0, Math.min(total, (e.clientX - r.left - LEFT) / plotW * total));
    }
    svg.addEventListener("mousedown", function (down) {
      down.preventDefault();
      var x0 = down.clientX, p0 = at(down), drag = svg.querySelector("#ov-drag");
      function move(e) {
        var r = svg.getBoundingClientRect(), a = Math.min(x0, e.clientX) - r.left;
        drag.setAttribute("x", String(a));
        drag.setAttribute("width", String(Math.abs(e.clientX - x0)));
      }
      function up(e) {
        window.removeEventListener("mousemove", move);
        window.removeEventListener("mouseup", up);
        if (Math.abs(e.clientX - x0) < 4) {
          pick(Math.floor(p0));
        } else {
          var p1 = at(e);
          pick(Math.floor(Math.min(p0, p1)), Math.ceil(Math.max(p0, p1)));
        }
      }
      window.addEventListener("mousemove", move);
      window.addEventListener("mouseup", up);
    });
  }
})();
