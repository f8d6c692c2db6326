// The history check's page: draws one key at a time from the JSON in #data (built by
// checker/history/page.py). The body's data-* attributes say what was drawn, for tests.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("data").textContent);
  const SVGNS = "http://www.w3.org/2000/svg";
  const LANE = 38, TOP = 30, GUTTER = 110, BAR = 16, CHAR = 6.7, SHOWN_STEPS = 200;
  const body = document.body;
  let picked = null;

  function el(name, attrs, parent, text) {
    const node = document.createElementNS(SVGNS, name);
    for (const k in attrs) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function h(name, attrs, text) {
    const node = document.createElement(name);
    for (const k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function sentence(text) {
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function verdictClass(v) {
    return v === "linearizable" ? "linearizable" : v === "not linearizable" ? "not" : "unknown";
  }

  function summary() {
    const s = document.getElementById("summary");
    s.appendChild(h("span", {class: "badge " + verdictClass(DATA.verdict)}, DATA.verdict));
    s.appendChild(document.createTextNode(
      " \u2014 model " + DATA.model + ", " + DATA.operations + " operations (" + DATA.events +
      " lines) in " + DATA.files.join(", ") +
      (DATA.failed ? "; " + DATA.failed + " failed operation(s) left out" : "") +
      (DATA.keys.length > 1 ? "; " + DATA.keys.length + " keys" : "")));
    for (const note of DATA.notes) s.appendChild(h("div", {}, "note: " + note));
  }

  function keyNav(current) {
    const nav = document.getElementById("keys");
    nav.textContent = "";
    if (DATA.keys.length <= 1) { nav.style.display = "none"; return; }
    if (DATA.keys.length > 40) {
      const select = h("select", {"aria-label": "key"});
      DATA.keys.forEach((k, i) => {
        const o = h("option", {value: i}, k.name + ": " + k.verdict);
        if (i === current) o.selected = true;
        select.appendChild(o);
      });
      select.onchange = () => { location.hash = "key=" + select.value; };
      nav.appendChild(select);
      return;
    }
    DATA.keys.forEach((k, i) => {
      const b = h("button", {class: verdictClass(k.verdict) + (i === current ? " selected" : ""),
                             title: k.verdict}, k.name);
      b.onclick = () => { location.hash = "key=" + i; };
      nav.appendChild(b);
    });
  }

  function explain(k) {
    const box = document.getElementById("explain");
    box.className = verdictClass(k.verdict);
    box.textContent = "";
    const ordered = k.steps.length;
    if (k.verdict === "linearizable") {
      box.appendChild(h("p", {}, sentence(k.name) + " is linearizable: the order drawn (" + ordered +
                          " steps) respects every operation's window and the model."));
    } else if (k.culprit !== undefined) {
      const c = k.bars[k.culprit];
      box.appendChild(h("p", {}, sentence(k.name) + " is not linearizable. The longest linearizable " +
                          "prefix found orders " + ordered + " of its " + k.total + " operations."));
      box.appendChild(h("p", {class: "reason"}, "op " + c.id + " (process " + k.lanes[c.lane] +
                          ") cannot follow the order found: " + k.reason + "."));
      box.appendChild(h("p", {}, "The " + k.core + " outlined operations cannot be ordered " +
                          (k.minimal ? "(1-minimal: without any one of them, an order exists)."
                                     : "(a small set: the time for making it smaller ran out).")));
    } else {
      box.appendChild(h("p", {}, sentence(k.name) + ": " + k.verdict + " \u2014 no verdict" +
                          (k.verdict.indexOf("stopped") >= 0
                            ? " (its search stopped once another key was found not linearizable)."
                            : " (the time budget ran out).") + " The longest prefix found orders " +
                          ordered + " of " + k.total + " operations."));
    }
  }

  function details(k, i) {
    const b = k.bars[i];
    const box = document.getElementById("details");
    box.textContent = "";
    const step = k.steps.findIndex((s) => s.op === i);
    box.appendChild(h("b", {}, "op " + b.id + " (process " + k.lanes[b.lane] + ")"));
    box.appendChild(document.createTextNode(": " + b.text + "; " + b.status + ", " + b.where +
      (step >= 0 ? "; step " + (step + 1) + " of the order, after it the value is " +
                   k.steps[step].after
                 : i === k.culprit ? "; cannot follow the order found: " + k.reason
                 : "; not in the order found")));
  }

  function draw(k) {
    // The lane names stay put (their own column); the diagram scrolls beside them.
    const frame = document.getElementById("timeline");
    frame.textContent = "";
    const height = TOP + k.lanes.length * LANE + 10;
    const names = el("svg", {id: "lanes", width: GUTTER, height: height}, frame);
    const box = document.createElement("div");
    box.id = "scroller";
    frame.appendChild(box);
    const avail = Math.max(box.clientWidth, 500) - 30;
    const px = Math.max(8, Math.min(120, avail / Math.max(k.ticks, 1)));
    const end = (k.ticks + 1) * px + 30;
    const svg = el("svg", {id: "history", width: end, height: height});
    const defs = el("defs", {}, svg);
    const grad = el("linearGradient", {id: "open"}, defs);
    el("stop", {offset: "0%", "stop-color": "#e9dcf5"}, grad);
    el("stop", {offset: "100%", "stop-color": "#e9dcf5", "stop-opacity": "0"}, grad);
    const x = (t) => 10 + t * px;
    const laneY = (l) => TOP + l * LANE + LANE / 2;
    k.lanes.forEach((name, l) => {
      el("line", {class: "lane-line", x1: 0, x2: end, y1: laneY(l), y2: laneY(l)}, svg);
      el("text", {class: "lane-name", x: 6, y: laneY(l) + 4}, names, "process " + name);
    });
    const inOrder = new Set(k.steps.map((s) => s.op));
    const bars = [];
    k.bars.forEach((b, i) => {
      const x0 = x(b.a), x1 = b.b === null ? end - 4 : x(b.b);
      let cls = "op " + b.status + (inOrder.has(i) ? "" : " unordered");
      if (b.core) cls += " core";
      if (i === k.culprit) cls += " culprit";
      const r = el("rect", {class: cls, x: x0, y: laneY(b.lane) - BAR / 2, rx: 3,
                            width: Math.max(x1 - x0, 3), height: BAR, "data-op": b.id}, svg);
      r.addEventListener("mouseenter", () => { if (picked === null) details(k, i); });
      r.addEventListener("click", () => pick(k, i));
      bars.push(r);
      if (b.label.length * CHAR + 6 < x1 - x0) {
        el("text", {class: "op-label", x: x0 + 4, y: laneY(b.lane) + 4}, svg, b.label);
      }
    });
    // The order found: a point on the top edge of each ordered bar, at an instant inside its
    // window and after the previous one, joined in order and numbered.
    const edge = (l) => laneY(l) - BAR / 2;
    const pts = k.steps.map((s) => [x(s.x), edge(k.bars[s.op].lane)]);
    if (pts.length > 1) {
      el("polyline", {class: "order-line", points: pts.map((p) => p.join(",")).join(" ")}, svg);
    }
    const every = Math.max(1, Math.ceil(14 / px));
    pts.forEach((p, n) => {
      el("circle", {class: "point", cx: p[0], cy: p[1], r: 4}, svg);
      if (n % every === 0 || n === pts.length - 1) {
        el("text", {class: "point-n", x: p[0], y: p[1] - 6}, svg, String(n + 1));
      }
    });
    let focus = null;
    if (k.culprit !== undefined) {
      const c = k.bars[k.culprit];
      const cx = x(c.b === null ? c.a + 0.5 : (c.a + c.b) / 2), cy = edge(c.lane);
      if (pts.length) {
        const last = pts[pts.length - 1];
        el("path", {class: "stuck", d: "M" + last[0] + "," + last[1] + " L" + cx + "," + cy}, svg);
      }
      el("text", {class: "cross", x: cx, y: cy - 4}, svg, "\u2717");
      focus = cx;
    }
    box.appendChild(svg);
    if (focus !== null) box.scrollLeft = Math.max(0, focus - box.clientWidth / 2);
    body.dataset.lanes = String(k.lanes.length);
    body.dataset.bars = String(bars.length);
    body.dataset.open = String(k.bars.filter((b) => b.b === null).length);
    body.dataset.points = String(pts.length);
    body.dataset.core = String(svg.querySelectorAll(".op.core").length);
    body.dataset.culprit = k.culprit === undefined ? "" : String(k.bars[k.culprit].id);
  }

  function pick(k, i) {
    picked = picked === i ? null : i;
    document.querySelectorAll(".op.picked").forEach((r) => r.classList.remove("picked"));
    if (picked !== null) {
      const r = document.querySelector('.op[data-op="' + k.bars[i].id + '"]');
      if (r) {
        r.classList.add("picked");
        const box = document.getElementById("scroller");
        const rx = Number(r.getAttribute("x"));
        if (rx < box.scrollLeft || rx > box.scrollLeft + box.clientWidth) {
          box.scrollLeft = Math.max(0, rx - box.clientWidth / 2);
        }
      }
      details(k, i);
    }
  }

  function steps(k, all) {
    const box = document.getElementById("steps");
    box.textContent = "";
    if (!k.steps.length && k.culprit === undefined) return;
    box.appendChild(h("h2", {style: "font-size:15px;margin:14px 0 0"},
                      k.verdict === "linearizable" ? "The linearization" :
                      "The longest linearizable prefix found"));
    const table = h("table");
    const head = h("tr");
    for (const c of ["step", "op", "process", "operation", "value after"]) head.appendChild(h("th", {}, c));
    table.appendChild(head);
    const from = all ? 0 : Math.max(0, k.steps.length - SHOWN_STEPS);
    if (from > 0) {
      const more = h("button", {}, "show the " + from + " earlier steps");
      more.onclick = () => steps(k, true);
      box.appendChild(more);
    }
    const row = (cells, i, cls) => {
      const tr = h("tr", cls ? {class: cls} : {});
      cells.forEach((c, n) => tr.appendChild(h("td", n === 4 ? {class: "value"} : {}, c)));
      tr.onclick = () => pick(k, i);
      table.appendChild(tr);
    };
    for (let n = from; n < k.steps.length; n++) {
      const s = k.steps[n], b = k.bars[s.op];
      row([String(n + 1), String(b.id), k.lanes[b.lane], b.text, s.after || ""], s.op);
    }
    if (k.culprit !== undefined) {
      const b = k.bars[k.culprit];
      row(["\u2717", String(b.id), k.lanes[b.lane], b.text, "cannot follow: " + k.reason],
          k.culprit, "culprit");
    }
    box.appendChild(table);
  }

  function show() {
    const m = /key=(\d+)/.exec(location.hash);
    const n = m ? Math.min(Number(m[1]), DATA.keys.length - 1) : 0;
    const k = DATA.keys[n];
    picked = null;
    keyNav(n);
    body.dataset.key = String(n);
    if (!k) { body.dataset.rendered = "1"; return; }
    explain(k);
    draw(k);
    steps(k, false);
    document.getElementById("details").innerHTML =
      "<em>Point at an operation for its details; click one to keep them.</em>";
    body.dataset.rendered = "1";
  }

  try {
    summary();
    show();
    window.addEventListener("hashchange", show);
  } catch (e) {
    body.dataset.error = String(e && e.stack || e);
    throw e;
  }
})();
