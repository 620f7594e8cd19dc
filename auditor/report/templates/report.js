(function () {
  "use strict";
  // Findings live in a JSON data block; rows are built from it with textContent only, one
  // page at a time, so a report of 100,000 findings stays responsive. Nothing is fetched.
  var source = document.getElementById("findings-data");
  if (!source) { return; }
  var data = JSON.parse(source.textContent);
  var S = data.strings;
  var ROWS = data.rows;
  var WAIVERS = data.waivers;
  var RULES = data.rules || {};
  var C = {};
  data.columns.forEach(function (name, i) { C[name] = i; });
  var SEV_RANK = { critical: 4, high: 3, medium: 2, low: 1, info: 0 };
  var STATUS_RANK = { ERROR: 4, FAIL: 3, WAIVED: 2, SKIPPED: 1, PASS: 0 };
  // "new" has one meaning on this page: new since the last run ("not in baseline" is the other).
  var CHANGE_WORDS = { "new": "new since the last run", persisting: "persisting (failing in the last run too)" };
  // Control, bidi, zero-width and line-separator characters are shown as \uXXXX, never interpreted.
  var HIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\u2028\u2029\ufeff]/g;

  function visible(text) {
    return String(text).replace(HIDDEN, function (c) {
      return "\\u" + ("0000" + c.charCodeAt(0).toString(16)).slice(-4);
    });
  }
  function str(row, name) { return S[row[C[name]]]; }
  function where(row) {
    var path = str(row, "location");
    return path && row[C.line] ? path + ":" + row[C.line] : path;
  }
  // Select options carry names as the page shows them (visible), so compare those.
  var VIS = [];
  function vis(row, name) {
    var k = row[C[name]];
    if (VIS[k] === undefined) { VIS[k] = visible(S[k]); }
    return VIS[k];
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = visible(text); }
    return node;
  }
  function $(id) { return document.getElementById(id); }

  var ui = {
    text: $("f-text"), rule: $("f-rule"), dataset: $("f-dataset"), onlyNew: $("f-new"),
    size: $("page-size"), prev: $("page-prev"), next: $("page-next"), info: $("page-info"),
    count: $("match-count"), body: $("findings-body"), printNote: $("print-note")
  };
  var state = { page: 0, sortKey: null, sortDir: 1, matched: [], expanded: {}, printing: false };
  var haystack = null;

  function checked(name) {
    var out = {};
    document.querySelectorAll("input[name=" + name + "]").forEach(function (box) {
      if (box.checked) { out[box.value] = true; }
    });
    return out;
  }

  function searchText(row) {
    var parts = [];
    ["rule_id", "rule_name", "resource", "column", "principal", "message", "remediation",
     "location", "fingerprint"].forEach(function (name) { parts.push(str(row, name)); });
    parts.push(where(row));
    var evidence = row[C.evidence];
    if (evidence) { parts.push(JSON.stringify(evidence)); }
    return parts.join("\u0000").toLowerCase();
  }

  function applyFilters() {
    var severities = checked("severity");
    var statuses = checked("status");
    var rule = ui.rule.value;
    var dataset = ui.dataset.value;
    var onlyNew = ui.onlyNew ? ui.onlyNew.checked : false;
    var needle = ui.text.value.trim().toLowerCase();
    if (needle && haystack === null) { haystack = ROWS.map(searchText); }
    var matched = [];
    for (var i = 0; i < ROWS.length; i++) {
      var row = ROWS[i];
      if (!severities[str(row, "severity")] || !statuses[str(row, "status")]) { continue; }
      if (rule && vis(row, "rule_id") !== rule) { continue; }
      if (dataset && (dataset === "(none)" ? str(row, "dataset") !== "" : vis(row, "dataset") !== dataset)) { continue; }
      if (onlyNew && str(row, "change") !== "new") { continue; }
      if (needle && haystack[i].indexOf(needle) < 0) { continue; }
      matched.push(i);
    }
    state.matched = matched;
    sortMatched();
    state.page = 0;
    render();
  }

  function sortValue(i, key) {
    var row = ROWS[i];
    if (key === "severity") { return -SEV_RANK[str(row, "severity")]; }
    if (key === "status") { return -STATUS_RANK[str(row, "status")]; }
    if (key === "rule") { return str(row, "rule_id"); }
    return str(row, key);
  }

  function sortMatched() {
    var key = state.sortKey;
    var dir = state.sortDir;
    if (!key) { state.matched.sort(function (a, b) { return a - b; }); return; }
    var keys = new Array(ROWS.length);
    state.matched.forEach(function (i) { keys[i] = sortValue(i, key); });
    state.matched.sort(function (a, b) {
      var x = keys[a], y = keys[b];
      if (x < y) { return -dir; }
      if (x > y) { return dir; }
      return a - b;
    });
  }

  // --- access paths: a small SVG graph per finding, principal on the left, target on the
  // right; every hop an edge labelled with its kind, role and condition; a node or hop that
  // several paths share is drawn once. Built with createElementNS and textContent only.
  // The SVG namespace, taken from the page's own chart (so the page holds no URL at all).
  var SVGNS = document.getElementById("severity-chart").namespaceURI;
  var DRAWN = 3;  // paths drawn at first; the rest behind a button, with the count
  var BOX_W = 176, BOX_H = 40, COL = 340, ROW = 64, PAD = 18, LABEL = 27;
  var BQ = /^\/\/bigquery\.googleapis\.com\/projects\/([^\/]+)\/datasets\/([^\/]+)(?:\/(tables|routines)\/([^\/]+))?$/;

  function svgEl(tag, attrs, text) {
    var node = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) { node.textContent = visible(text); }
    return node;
  }
  function clip(text, n) { return text.length > n ? text.slice(0, n - 1) + "\u2026" : text; }
  function shortName(id) {
    var m = BQ.exec(id);
    return m ? m[1] + "." + m[2] + (m[4] ? "." + m[4] : "") : id;
  }
  function nodeKind(id) {
    var m = BQ.exec(id);
    if (m) { return m[3] === "routines" ? "routine" : m[3] === "tables" ? "table / view" : "dataset"; }
    var kinds = [["group:", "group"], ["serviceAccount:", "service account"], ["user:", "user"],
      ["domain:", "domain"], ["allUsers", "public"], ["allAuthenticatedUsers", "public"],
      ["projectReaders", "special group"], ["projectWriters", "special group"],
      ["projectOwners", "special group"], ["specialGroup:", "special group"],
      ["projects/", "project"], ["folders/", "folder"], ["organizations/", "organization"]];
    for (var k = 0; k < kinds.length; k++) { if (id.indexOf(kinds[k][0]) === 0) { return kinds[k][1]; } }
    return "principal";
  }
  function isHop(hop) {
    return hop !== null && typeof hop === "object" && !Array.isArray(hop) && "subject" in hop;
  }
  function isPath(p) {
    return Array.isArray(p) || (p !== null && typeof p === "object" && Array.isArray(p.hops));
  }
  function objectLabel(hop) {
    if (hop !== null && typeof hop === "object" && !Array.isArray(hop)) {
      return Object.keys(hop).map(function (k) { return k + ": " + plain(hop[k]); }).join(", ");
    }
    return typeof hop === "string" ? hop : JSON.stringify(hop);
  }

  // A path as its nodes (principal first) and steps {from, to, kind, detail, condition}.
  // A hop whose member is not where the last hop arrived (a view inside the dataset a grant
  // reached) is joined by a dashed "contains" step.
  function pathModel(path) {
    var nodes = [], steps = [], last = null;
    function go(to, kind, detail, condition, implicit) {
      if (last !== null && last !== to) {
        steps.push({ from: last, to: to, kind: kind, detail: detail, condition: condition, implicit: implicit });
      }
      if (last !== to) { nodes.push(to); }
      last = to;
    }
    var hops = Array.isArray(path) ? path : path.hops;
    if (!Array.isArray(path) && path.principal) { go(plain(path.principal), "", "", "", false); }
    hops.forEach(function (hop) {
      if (isHop(hop)) {
        var member = plain(hop.member === undefined ? "" : hop.member);
        if (last === null) { go(member, "", "", "", false); }
        else if (member && last !== member) { go(member, "contains", "", "", true); }
        var detail = plain(hop.detail === undefined ? "" : hop.detail);
        if (hop.policy) { detail += " (policy of " + plain(hop.policy) + ")"; }
        go(plain(hop.subject), plain(hop.kind === undefined ? "" : hop.kind), detail,
           hop.condition ? plain(hop.condition) : "", false);
      } else {
        go(objectLabel(hop), "", "", "", false);
      }
    });
    if (!Array.isArray(path) && path.target && last !== path.target) {
      go(plain(path.target), "", "", "", true);
    }
    return { nodes: nodes, steps: steps };
  }

  function drawGraph(models) {
    var layer = {}, order = [], seen = {}, edges = [];
    models.forEach(function (m) {
      m.nodes.forEach(function (id, i) {
        if (!(id in layer)) { layer[id] = i; order.push(id); } else if (i > layer[id]) { layer[id] = i; }
      });
      m.steps.forEach(function (s) {
        var key = [s.from, s.to, s.kind, s.detail, s.condition].join("\u0000");
        if (!seen[key]) { seen[key] = true; edges.push(s); }
      });
    });
    var last = 0;
    order.forEach(function (id) { last = Math.max(last, layer[id]); });
    models.forEach(function (m) { if (m.nodes.length > 1) { layer[m.nodes[m.nodes.length - 1]] = last; } });
    var rows = {}, pos = {}, most = 1;
    order.forEach(function (id) {
      var l = layer[id];
      rows[l] = (rows[l] || 0) + 1;
      most = Math.max(most, rows[l]);
      pos[id] = { x: PAD + l * COL, y: PAD + 16 + (rows[l] - 1) * ROW };
    });
    // An edge that skips a column runs in a lane below the boxes, not through them.
    var lanes = edges.some(function (s) { return Math.abs(layer[s.to] - layer[s.from]) > 1; });
    var width = PAD * 2 + last * COL + BOX_W;
    var height = PAD * 2 + 16 + most * ROW + (lanes ? ROW / 2 : 0);
    var root = svgEl("svg", { "class": "paths-graph", viewBox: "0 0 " + width + " " + height,
      width: width, height: height, role: "img" });
    root.setAttribute("aria-label", "access paths: " + order.map(shortName).join(", "));
    edges.forEach(function (s) {
      var a = pos[s.from], b = pos[s.to];
      var x1 = a.x + BOX_W, y1 = a.y + BOX_H / 2, x2 = b.x, y2 = b.y + BOX_H / 2;
      var g = svgEl("g", { "class": "edge" + (s.implicit ? " implicit" : ""), "data-kind": s.kind });
      var mid = (x1 + x2) / 2, ly = (y1 + y2) / 2 - 4, d;
      if (Math.abs(layer[s.to] - layer[s.from]) > 1) {
        var lane = Math.max(a.y, b.y) + BOX_H + 14;
        d = "M" + x1 + " " + y1 + " C" + (x1 + 40) + " " + lane + " " + (x2 - 40) + " " + lane + " " + (x2 - 6) + " " + y2;
        ly = lane + 12;
      } else {
        d = "M" + x1 + " " + y1 + " C" + mid + " " + y1 + " " + mid + " " + y2 + " " + (x2 - 6) + " " + y2;
      }
      g.appendChild(svgEl("path", { d: d }));
      g.appendChild(svgEl("path", { "class": "arrow", d: "M" + (x2 - 7) + " " + (y2 - 4) + " L" + x2 + " " + y2 + " L" + (x2 - 7) + " " + (y2 + 4) + " Z" }));
      g.appendChild(svgEl("title", {}, [s.kind, s.detail, s.condition ? "if " + s.condition : ""].filter(Boolean).join(" \u00b7 ")));
      var at = { x: mid, "text-anchor": "middle" };
      if (s.kind) { g.appendChild(svgEl("text", Object.assign({ "class": "kind", y: ly - 11 }, at), clip(s.kind, LABEL))); }
      if (s.detail) { g.appendChild(svgEl("text", Object.assign({ "class": "detail", y: ly }, at), clip(s.detail, LABEL))); }
      if (s.condition) { g.appendChild(svgEl("text", Object.assign({ "class": "condition", y: ly + 13 }, at), clip("if " + s.condition, LABEL))); }
      root.appendChild(g);
    });
    order.forEach(function (id, n) {
      var p = pos[id], kind = nodeKind(id);
      var g = svgEl("g", { "class": "node" + (layer[id] === 0 ? " start" : layer[id] === last ? " end" : ""), "data-node": String(n) });
      g.appendChild(svgEl("title", {}, id));
      g.appendChild(svgEl("rect", { x: p.x, y: p.y, width: BOX_W, height: BOX_H, rx: 5 }));
      g.appendChild(svgEl("text", { "class": "kind", x: p.x + 7, y: p.y + 14 }, kind));
      g.appendChild(svgEl("text", { "class": "name", x: p.x + 7, y: p.y + 31 }, clip(shortName(id), 27)));
      root.appendChild(g);
    });
    return root;
  }

  function hopList(model, n, conditional) {
    var list = el("ol", "hops");
    list.setAttribute("aria-label", "path " + (n + 1));
    model.steps.forEach(function (s) {
      var item = el("li", "hop" + (s.implicit ? " implicit" : ""));
      item.appendChild(el("span", "from", shortName(s.from)));
      item.appendChild(document.createTextNode(" \u2192 "));
      item.appendChild(el("span", "to", shortName(s.to)));
      var via = [s.kind, s.detail].filter(Boolean).join(": ");
      if (s.condition) { via += " if " + s.condition; }
      if (via) { item.appendChild(el("span", "via", " (" + via + ")")); }
      list.appendChild(item);
    });
    var head = el("div", "path-head", "Path " + (n + 1) + (conditional ? " (conditional: an IAM condition decides it)" : ""));
    var box = el("div", "path");
    box.appendChild(head);
    box.appendChild(list);
    return box;
  }

  function cutsBlock(cuts, count) {
    var box = el("div", "cuts");
    if (!Array.isArray(cuts) || !cuts.length) { return box; }
    var common = (cuts[0] || []).filter(function (c) {
      return cuts.every(function (other) { return Array.isArray(other) && other.indexOf(c) >= 0; });
    });
    if (count > 1 && common.length && cuts.length === count) {
      box.appendChild(el("div", "cuts-head", "One change removes all " + count + " paths; any of:"));
      var ul = el("ul");
      common.forEach(function (c) { ul.appendChild(el("li", null, plain(c) + ".")); });
      box.appendChild(ul);
      return box;
    }
    box.appendChild(el("div", "cuts-head", "What would cut each path:"));
    cuts.forEach(function (options, n) {
      box.appendChild(el("div", "cuts-path", "Path " + (n + 1) + ", any of:"));
      var ul = el("ul");
      (Array.isArray(options) ? options : [options]).forEach(function (c) { ul.appendChild(el("li", null, plain(c) + ".")); });
      box.appendChild(ul);
    });
    return box;
  }

  function accessEvidence(evidence, principal, resource) {
    var paths = evidence.paths;
    if (!Array.isArray(paths) || !paths.length || !paths.every(isPath)) { return null; }
    var models = paths.map(pathModel);
    var flags = Array.isArray(evidence.conditional) ? evidence.conditional : [];
    var box = el("div", "access");
    function draw(limit) {
      var shown = models.slice(0, limit);
      var wrap = el("div", "graph-box scroll");
      wrap.appendChild(drawGraph(shown));
      var parts = [wrap];
      var total = typeof evidence.paths_total === "number" ? evidence.paths_total : paths.length;
      var note = shown.length + " of " + total + " path" + (total === 1 ? "" : "s") + " drawn";
      if (total > paths.length) { note += " (" + paths.length + " kept as evidence)"; }
      parts.push(el("div", "paths-count", note));
      if (limit < models.length) {
        var more = el("button", "draw-all", "Draw all " + models.length + " paths");
        more.type = "button";
        more.addEventListener("click", function () { box.replaceChildren.apply(box, draw(models.length)); });
        parts.push(more);
      }
      shown.forEach(function (m, n) {
        parts.push(hopList(m, n, flags[n] === true || (!Array.isArray(paths[n]) && paths[n].conditional === true)));
      });
      parts.push(cutsBlock(evidence.cuts, paths.length));
      return parts;
    }
    box.replaceChildren.apply(box, draw(Math.min(DRAWN, models.length)));
    return box;
  }

  function plain(value) {
    return value !== null && typeof value === "object" ? JSON.stringify(value) : String(value);
  }

  // --- CSV: the same columns as `auditor report -f csv` (report/csv.py) -------------------
  var FORMULA = /^[=+\-@\t\r']/;
  function csvCell(value) {
    var text = visible(String(value));
    if (FORMULA.test(text)) { text = "'" + text; }
    return /[",\r\n]/.test(text) ? "\"" + text.replace(/"/g, "\"\"") + "\"" : text;
  }
  function csvText(rows) {
    return rows.map(function (r) { return r.map(csvCell).join(","); }).join("\r\n") + "\r\n";
  }
  function findingsCsv(indexes) {
    var rows = [data.csv_columns];
    indexes.forEach(function (i) {
      var row = ROWS[i], w = row[C.waiver], waiver = w >= 0 ? WAIVERS[w] : null;
      var evidence = row[C.evidence];
      rows.push([
        str(row, "rule_id"), str(row, "rule_name"), str(row, "status"), str(row, "severity"),
        str(row, "resource"), str(row, "dataset"), str(row, "column"), str(row, "principal"),
        str(row, "location"), row[C.line] ? String(row[C.line]) : "", str(row, "message"),
        str(row, "remediation"), str(row, "fingerprint"),
        waiver ? waiver[1] : "", waiver ? waiver[0] : "", waiver ? waiver[2] : "",
        waiver ? (waiver[5] ? "true" : "false") : "", row[C.baseline] ? "true" : "false",
        evidence ? JSON.stringify(evidence) : ""
      ]);
    });
    return csvText(rows);
  }
  function download(name, text) {
    var url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
    var link = document.createElement("a");
    link.href = url;
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
  }

  function pair(list, term, node) {
    list.appendChild(el("dt", null, term));
    var dd = el("dd");
    dd.appendChild(typeof node === "string" ? document.createTextNode(visible(node)) : node);
    list.appendChild(dd);
  }

  function detailRow(row) {
    var tr = el("tr", "detail");
    var td = el("td");
    td.colSpan = 9;
    var list = el("dl", "kv");
    pair(list, "Rule", str(row, "rule_id") + " " + str(row, "rule_name"));
    var rule = RULES[str(row, "rule_id")];
    if (rule) {
      pair(list, "Rule says", rule[0]);
      pair(list, "Why it matters", rule[1]);
      pair(list, "Remediation (rule)", rule[2]);
      if (rule[3].length) {
        var refs = el("ul", "refs");
        rule[3].forEach(function (ref) { refs.appendChild(el("li", "mono wrap", ref)); });
        pair(list, "References", refs);
      }
    }
    pair(list, "Resource", str(row, "resource"));
    if (str(row, "location")) { pair(list, "Location", where(row)); }
    pair(list, "Fingerprint", el("code", null, str(row, "fingerprint")));
    if (str(row, "remediation")) { pair(list, "Remediation (this finding)", str(row, "remediation")); }
    var w = row[C.waiver];
    if (w >= 0) {
      var waiver = WAIVERS[w];
      var span = el("span", null, waiver[1] + " \u2014 " + waiver[0] + " (expires " + waiver[2] + ")");
      if (waiver[3]) { span.appendChild(el("span", "st EXPIRED", " EXPIRED")); }
      else if (waiver[4]) { span.appendChild(el("span", "st EXPIRING", " expires within " + data.expiry_warning_days + " days")); }
      pair(list, "Waiver", span);
    }
    if (row[C.baseline]) { pair(list, "Baseline", "in the baseline (does not block)"); }
    if (str(row, "change")) { pair(list, "Since the last run", CHANGE_WORDS[str(row, "change")] || str(row, "change")); }
    var evidence = row[C.evidence];
    if (evidence) {
      var drawn = accessEvidence(evidence, str(row, "principal"), str(row, "resource"));
      if (drawn) { pair(list, "Access paths", drawn); }
      Object.keys(evidence).forEach(function (key) {
        if (drawn && (key === "paths" || key === "cuts" || key === "conditional")) { return; }
        pair(list, "Evidence: " + key, evidenceValue(evidence[key]));
      });
    }
    td.appendChild(list);
    tr.appendChild(td);
    return tr;
  }

  function evidenceValue(value) {
    if (value !== null && typeof value === "object") { return el("code", null, JSON.stringify(value)); }
    return el("span", null, String(value));
  }

  function findingRow(i, open) {
    var row = ROWS[i];
    var tr = el("tr", "finding");
    tr.setAttribute("data-index", String(i));
    var first = el("td");
    var toggle = el("button", "toggle", open ? "\u2212" : "+");
    toggle.type = "button";
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    toggle.setAttribute("aria-label", "details");
    toggle.addEventListener("click", function () { toggleRow(tr, toggle, i); });
    first.appendChild(toggle);
    tr.appendChild(first);
    var sev = str(row, "severity");
    var sevCell = el("td");
    sevCell.appendChild(el("span", "badge " + sev, sev));
    tr.appendChild(sevCell);
    var status = str(row, "status");
    var statusCell = el("td");
    statusCell.appendChild(el("span", "st " + status, status));
    if (str(row, "change") === "new") { statusCell.appendChild(el("span", "tag new", CHANGE_WORDS["new"])); }
    if (row[C.baseline]) { statusCell.appendChild(el("span", "tag", "in baseline")); }
    tr.appendChild(statusCell);
    var ruleCell = el("td", "mono nowrap", str(row, "rule_id"));
    ruleCell.title = visible(str(row, "rule_name"));
    tr.appendChild(ruleCell);
    tr.appendChild(el("td", "mono", str(row, "resource")));
    tr.appendChild(el("td", "mono", str(row, "column")));
    tr.appendChild(el("td", "mono", str(row, "principal")));
    tr.appendChild(el("td", null, str(row, "message")));
    tr.appendChild(el("td", null, str(row, "remediation")));
    return tr;
  }

  // Only this row changes: its detail row is added or removed, focus stays on the button.
  function toggleRow(tr, toggle, i) {
    var next = tr.nextSibling;
    if (state.expanded[i]) {
      delete state.expanded[i];
      if (next && next.classList.contains("detail")) { next.remove(); }
    } else {
      state.expanded[i] = true;
      tr.parentNode.insertBefore(detailRow(ROWS[i]), next);
    }
    var open = !!state.expanded[i];
    toggle.textContent = open ? "\u2212" : "+";
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    toggle.focus();
  }

  function render() {
    var total = state.matched.length;
    var size = parseInt(ui.size.value, 10) || 50;
    var pages = Math.max(1, Math.ceil(total / size));
    if (state.page >= pages) { state.page = pages - 1; }
    var start = state.printing ? 0 : state.page * size;
    var end = state.printing ? Math.min(total, data.print_limit) : Math.min(total, start + size);
    var fragment = document.createDocumentFragment();
    for (var n = start; n < end; n++) {
      var i = state.matched[n];
      var open = state.printing || !!state.expanded[i];
      fragment.appendChild(findingRow(i, open));
      if (open) { fragment.appendChild(detailRow(ROWS[i])); }
    }
    ui.body.replaceChildren(fragment);
    ui.count.textContent = total.toLocaleString("en-US") + " matching of " +
      ROWS.length.toLocaleString("en-US") + " findings";
    ui.info.textContent = total ? "Rows " + (start + 1) + "\u2013" + end + " (page " +
      (state.page + 1) + " of " + pages + ")" : "No finding matches the filters.";
    ui.prev.disabled = state.page === 0;
    ui.next.disabled = state.page >= pages - 1;
    ui.printNote.textContent = state.printing && total > end ?
      "Printed the first " + end + " of " + total + " matching findings; narrow the filters to print the rest." : "";
  }

  function setSort(key) {
    if (state.sortKey === key) { state.sortDir = -state.sortDir; } else { state.sortKey = key; state.sortDir = 1; }
    document.querySelectorAll("th[data-sort]").forEach(function (th) {
      var on = th.getAttribute("data-sort") === key;
      th.setAttribute("aria-sort", on ? (state.sortDir > 0 ? "ascending" : "descending") : "none");
    });
    sortMatched();
    state.page = 0;
    render();
  }

  document.querySelectorAll("th[data-sort] button.sort").forEach(function (button) {
    button.addEventListener("click", function () { setSort(button.parentNode.getAttribute("data-sort")); });
  });
  document.querySelectorAll("input[name=severity], input[name=status]").forEach(function (box) {
    box.addEventListener("change", applyFilters);
  });
  [ui.rule, ui.dataset, ui.onlyNew].forEach(function (control) {
    if (control) { control.addEventListener("change", applyFilters); }
  });
  ui.text.addEventListener("input", applyFilters);
  ui.size.addEventListener("change", function () { state.page = 0; render(); });
  ui.prev.addEventListener("click", function () { state.page -= 1; render(); });
  ui.next.addEventListener("click", function () { state.page += 1; render(); });
  document.querySelectorAll("button.rule-link").forEach(function (button) {
    button.addEventListener("click", function () {
      ui.rule.value = button.getAttribute("data-rule");
      applyFilters();
      $("findings").scrollIntoView();
    });
  });
  $("download-all").addEventListener("click", function () {
    download("findings.csv", findingsCsv(ROWS.map(function (_, i) { return i; })));
  });
  $("download-matching").addEventListener("click", function () {
    download("findings-matching.csv", findingsCsv(state.matched));
  });
  if ($("download-controls")) {
    $("download-controls").addEventListener("click", function () {
      download("controls.csv", csvText(data.controls));
    });
  }
  window.addEventListener("beforeprint", function () { state.printing = true; render(); });
  window.addEventListener("afterprint", function () { state.printing = false; render(); });
  applyFilters();
  document.documentElement.setAttribute("data-ready", "true");
}());
