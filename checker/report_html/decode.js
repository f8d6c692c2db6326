// raftref trace report, part 1 of 4: the embedded data (columns.py's format) expanded into
// typed arrays once, when the page opens; everything else reads the model built here.
var RR = {};
(function () {
  "use strict";

  // The fields each message type stores after the common ones (columns.py: MESSAGE_ARGS).
  var MSG_FIELDS = [
    ["last_log_index", "last_log_term"],
    ["granted"],
    ["prev_log_index", "prev_log_term", "entries", "leader_commit"],
    ["success", "match_index"],
    [],
    ["success", "read_index", "reason"]  // -1: absent; reason: an index into strings
  ];
  RR.MSG_FIELDS = MSG_FIELDS;
  RR.DOWN = 3;  // a band's role while the node is down (after the three roles)

  // Expand (gap, value) pairs into a value per event, each node repeating its last value.
  function perNode(pairs, nodeOf, n, nodes, out) {
    var last = [], k = 0, next = pairs.length ? pairs[0] : Infinity, i;
    for (i = 0; i < nodes; i++) last.push(0);
    for (i = 0; i < n; i++) {
      if (i === next) {
        last[nodeOf[i]] = pairs[k + 1];
        k += 2;
        next = k < pairs.length ? next + pairs[k] : Infinity;
      }
      out[i] = last[nodeOf[i]];
    }
    return out;
  }

  RR.decode = function (D) {
    var E = D.ev, n = E.kind.length, nodes = D.nodes.length, i, k;
    var K = {};
    D.kinds.forEach(function (name, j) { K[name] = j; });
    var m = {
      D: D, n: n, K: K,
      node: Uint16Array.from(E.node), kind: Uint8Array.from(E.kind),
      term: new Float64Array(n), role: new Uint8Array(n), commit: new Float64Array(n),
      seq: new Float64Array(n), line: new Float64Array(n), file: new Int32Array(n),
      argAt: new Int32Array(n), msg: new Int32Array(n).fill(-1),
      sendOf: new Int32Array(n).fill(-1), reason: new Int32Array(n).fill(-1)
    };
    perNode(E.term, m.node, n, nodes, m.term);
    perNode(E.role, m.node, n, nodes, m.role);
    perNode(E.commit, m.node, n, nodes, m.commit);
    // seq: the previous seq of the same file plus one, except where seqx says otherwise;
    // line: each file's lines follow on from its first embedded one.
    var lastSeq = [], nextLine = E.line0.slice(), sx = 0, sxAt = E.seqx.length ? E.seqx[0] : -1;
    for (i = 0; i < n; i++) {
      var f = E.file ? E.file[i] : E.nodeFile[m.node[i]];
      m.file[i] = f;
      if (i === sxAt) {
        m.seq[i] = E.seqx[sx + 1];
        sx += 2;
        sxAt = sx < E.seqx.length ? sxAt + E.seqx[sx] : -1;
      } else {
        m.seq[i] = lastSeq[f] + 1;
      }
      lastSeq[f] = m.seq[i];
      m.line[i] = nextLine[f]++;
    }
    decodeArgs(m, E.a, D.strings);
    arrows(m);
    bands(m, nodes);
    return m;
  };

  function decodeArgs(m, a, strings) {
    var K = m.K, p = 0, i, kind, idLast = {};
    var mt = [], mf = [], mto = [], mterm = [], mid = [], mnum = [], mfields = [];
    function message(i) {
      var t = a[p], j = mt.length, key = a[p + 4];
      mt.push(t); mf.push(a[p + 1]); mto.push(a[p + 2]); mterm.push(m.term[i] + a[p + 3]);
      p += 5;
      if (key % 2 === 0) {  // an interned prefix and the difference from its last number
        var number = (idLast[key] || 0) + a[p++];
        idLast[key] = number;
        mid.push(key / 2); mnum.push(number);
      } else {
        mid.push((key - 1) / 2); mnum.push(-1);
      }
      mfields.push(p);  // the type's own fields start here in a
      p += MSG_FIELDS[t].length;
      return j;
    }
    for (i = 0; i < m.n; i++) {
      m.argAt[i] = p;
      kind = m.kind[i];
      if (kind === K.send) {
        m.msg[i] = message(i);
      } else if (kind === K.receive || kind === K.drop) {
        if (a[p] < 0) {  // the send is embedded: the same message
          m.sendOf[i] = i + a[p++];
          m.msg[i] = m.msg[m.sendOf[i]];
        } else {
          m.msg[i] = message(i);
        }
        if (kind === K.drop) m.reason[i] = a[p++];
      } else if (kind === K.start || kind === K.append || kind === K.propose) {
        p += 2;
      } else if (kind === K.vote || kind === K.truncate || kind === K.commit ||
                 kind === K.apply) {
        p += 1;
      } else if (kind === K.config) {
        p += 1 + a[p];
        p += 1 + a[p];
      }
    }
    m.a = a;
    m.msgs = { type: mt, from: mf, to: mto, term: mterm, idKey: mid, idNum: mnum,
               fieldsAt: mfields };
    m.strings = strings;
  }

  // Message arrows, ordered by their receiving end: [send, receive or drop, type, status]
  // with status 0 delivered, 1 dropped by a partition, 2 lost, 3 addressee down.
  function arrows(m) {
    var from = [], to = [], type = [], status = [], span = 0, i;
    var reasons = m.strings;
    for (i = 0; i < m.n; i++) {
      var j = m.sendOf[i];
      if (j < 0) continue;
      var s = 0;
      if (m.kind[i] === m.K.drop) {
        var r = m.reason[i] >= 0 ? reasons[m.reason[i]] : "";
        s = r === "partition" ? 1 : r === "crashed" ? 3 : 2;
      }
      from.push(j); to.push(i); type.push(m.msgs.type[m.msg[i]]); status.push(s);
      if (i - j > span) span = i - j;
    }
    m.arrows = { from: Int32Array.from(from), to: Int32Array.from(to),
                 type: Uint8Array.from(type), status: Uint8Array.from(status),
                 count: from.length, span: span };
  }

  // Per node, runs of events with one (role, term), or down from a crash to the restart.
  function bands(m, nodes) {
    var open = [], out = [], i;
    for (i = 0; i < nodes; i++) open.push(null);
    for (i = 0; i < m.n; i++) {
      var node = m.node[i], kind = m.kind[i], band = open[node];
      var down = kind === m.K.crash ||
        (band !== null && band.role === RR.DOWN && kind !== m.K.start);
      var role = down ? RR.DOWN : m.role[i];
      if (band === null || band.role !== role || (!down && band.term !== m.term[i])) {
        if (band !== null) band.to = i;
        band = { node: node, from: i, to: i + 1, role: role, term: m.term[i] };
        open[node] = band;
        out.push(band);
      }
    }
    open.forEach(function (b) { if (b) b.to = m.n; });
    m.bands = out;
  }

  // The message's id as the trace wrote it.
  RR.messageId = function (m, j) {
    var s = m.strings[m.msgs.idKey[j]], num = m.msgs.idNum[j];
    return num < 0 ? s : s + String(num);
  };

  function flag(v) { return v ? "true" : "false"; }

  // One short line about event i, for its tooltip and the details panel.
  RR.describe = function (m, i) {
    var K = m.K, kind = m.kind[i], a = m.a, p = m.argAt[i], name = m.D.kinds[kind];
    var nodes = m.D.nodes;
    if (m.msg[i] >= 0) {
      var j = m.msg[i], t = m.msgs.type[j], q = m.msgs.fieldsAt[j];
      var f = [a[q], a[q + 1], a[q + 2], a[q + 3]];
      var text = name + " " + m.D.msgtypes[t] + " " + nodes[m.msgs.from[j]] + "→" +
        nodes[m.msgs.to[j]] + " t" + m.msgs.term[j];
      if (t === 2) {
        text += " prev=" + f[0] + "/" + f[1] + " entries=" + f[2] + " leaderCommit=" + f[3];
      } else if (t === 0) {
        text += " last=" + f[0] + "/" + f[1];
      } else if (t === 1) {
        text += " granted=" + flag(f[0]);
      } else if (t === 3) {
        text += " success=" + flag(f[0]) + " match=" + f[1];
      } else if (t === 5) {
        text += f[0] ? " readIndex=" + f[1] :
          " refused" + (f[2] >= 0 ? " reason=" + m.strings[f[2]] : "");
      }
      text += " (id " + RR.messageId(m, j) + ")";
      if (kind === K.drop) {
        text += m.reason[i] >= 0 ? " reason=" + m.strings[m.reason[i]] : " (no reason given)";
      }
      return text;
    }
    if (kind === K.start) return "start restart=" + flag(a[p]) + " log=" + a[p + 1] + " entries";
    if (kind === K.append) return "append index " + a[p] + " +" + a[p + 1] + " entries";
    if (kind === K.truncate || kind === K.commit || kind === K.apply) {
      return name + " index " + a[p];
    }
    if (kind === K.vote) return "vote for " + nodes[a[p]];
    if (kind === K.role) return "role → " + m.D.roles[m.role[i]];
    if (kind === K.propose) {
      return "propose accepted=" + flag(a[p]) + (a[p + 1] >= 0 ? " index " + a[p + 1] : "");
    }
    if (kind === K.config) {
      var voters = a.slice(p + 1, p + 1 + a[p]).map(function (v) { return nodes[v]; });
      return "config voters=" + voters.join(",");
    }
    return name;
  };

  RR.isRestart = function (m, i) {
    return m.kind[i] === m.K.start && m.a[m.argAt[i]] === 1;
  };
})();
