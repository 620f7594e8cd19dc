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
  var C = {};
  data.columns.forEach(function (name, i) { C[name] = i; });
  var SEV_RANK = { critical: 4, high: 3, medium: 2, low: 1, info: 0 };
  var STATUS_RANK = { ERROR: 4, FAIL: 3, WAIVED: 2, SKIPPED: 1, PASS: 0 };
  // Control, bidi, zero-width and line-separator characters are shown as \uXXXX, never interpreted.
  var HIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\u2028\u2029\ufeff]/g;

  function visible(text) {
    return String(text).replace(HIDDEN, function (c) {
      return "\\u" + ("0000" + c.charCodeAt(0).toString(16)).slice(-4);
    });
  }
  function str(row, name) { return S[row[C[name]]]; }
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

  function plain(value) {
    return value !== null && typeof value === "object" ? JSON.stringify(value) : String(value);
  }

  // One hop: a string, an access-graph hop ({kind, member, subject, detail, condition}), or
  // any other object (shown as key: value pairs).
  function hopItem(hop) {
    var item = el("li", "hop");
    if (hop !== null && typeof hop === "object" && !Array.isArray(hop) && "subject" in hop) {
      item.appendChild(el("span", "label", plain(hop.subject)));
      var via = [hop.kind, hop.detail].filter(function (v) { return v; }).map(plain).join(": ");
      if (hop.condition) { via += " if " + plain(hop.condition); }
      if (hop.policy) { via += " (policy of " + plain(hop.policy) + ")"; }
      if (via) { item.appendChild(el("span", "via", via)); }
    } else if (hop !== null && typeof hop === "object" && !Array.isArray(hop)) {
      item.appendChild(el("span", "label", Object.keys(hop).map(function (k) { return k + ": " + plain(hop[k]); }).join(", ")));
    } else {
      item.appendChild(el("span", "label", typeof hop === "string" ? hop : JSON.stringify(hop)));
    }
    return item;
  }

  // A path is a list of hops, or an access-graph path {principal, target, hops, ...}.
  function isPath(p) {
    return Array.isArray(p) || (p !== null && typeof p === "object" && Array.isArray(p.hops));
  }

  function markEnds(list) {
    var hops = list.querySelectorAll("li.hop");
    if (hops.length) { hops[0].classList.add("start"); hops[hops.length - 1].classList.add("end"); }
    return list;
  }

  function pathList(path, n) {
    var list = el("ol", "path");
    list.setAttribute("aria-label", "access path " + (n + 1));
    if (Array.isArray(path)) {
      path.forEach(function (hop) { list.appendChild(hopItem(hop)); });
      return markEnds(list);
    }
    if (path.principal) { list.appendChild(hopItem(String(path.principal))); }
    path.hops.forEach(function (hop) { list.appendChild(hopItem(hop)); });
    var last = path.hops.length ? path.hops[path.hops.length - 1] : null;
    if (path.target && !(last && last.subject === path.target)) { list.appendChild(hopItem(String(path.target))); }
    markEnds(list);
    var notes = [];
    if (path.capability) { notes.push(plain(path.capability)); }
    if (path.table_level) { notes.push("table-level grant"); }
    if (path.conditional) { notes.push("conditional"); }
    if (Array.isArray(path.denials) && path.denials.length) { notes.push("may be denied by " + path.denials.map(plain).join(", ")); }
    if (notes.length) { list.appendChild(el("li", "path-note", notes.join("; "))); }
    return list;
  }

  function evidenceValue(key, value) {
    if (key === "paths" && Array.isArray(value) && value.every(isPath)) {
      var wrap = el("div", "paths");
      value.forEach(function (path, n) { wrap.appendChild(pathList(path, n)); });
      return wrap;
    }
    if (value !== null && typeof value === "object") { return el("code", null, JSON.stringify(value)); }
    return el("span", null, String(value));
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
    pair(list, "Resource", str(row, "resource"));
    if (str(row, "location")) { pair(list, "Location", str(row, "location")); }
    pair(list, "Fingerprint", el("code", null, str(row, "fingerprint")));
    if (str(row, "remediation")) { pair(list, "Remediation", str(row, "remediation")); }
    var w = row[C.waiver];
    if (w >= 0) {
      var waiver = WAIVERS[w];
      var span = el("span", null, waiver[1] + " \u2014 " + waiver[0] + " (expires " + waiver[2] + ")");
      if (waiver[3]) { span.appendChild(el("span", "st EXPIRED", " EXPIRED")); }
      else if (waiver[4]) { span.appendChild(el("span", "st EXPIRING", " expires within " + data.expiry_warning_days + " days")); }
      pair(list, "Waiver", span);
    }
    if (row[C.baseline]) { pair(list, "Baseline", "already in the baseline (does not block)"); }
    if (str(row, "change")) { pair(list, "Since last run", str(row, "change")); }
    var evidence = row[C.evidence];
    if (evidence) {
      Object.keys(evidence).forEach(function (key) {
        pair(list, "Evidence: " + key, evidenceValue(key, evidence[key]));
      });
    }
    td.appendChild(list);
    tr.appendChild(td);
    return tr;
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
    toggle.addEventListener("click", function () {
      if (state.expanded[i]) { delete state.expanded[i]; } else { state.expanded[i] = true; }
      render();
    });
    first.appendChild(toggle);
    tr.appendChild(first);
    var sev = str(row, "severity");
    var sevCell = el("td");
    sevCell.appendChild(el("span", "badge " + sev, sev));
    tr.appendChild(sevCell);
    var status = str(row, "status");
    var statusCell = el("td");
    statusCell.appendChild(el("span", "st " + status, status));
    if (str(row, "change") === "new") { statusCell.appendChild(el("span", "tag new", "new")); }
    if (row[C.baseline]) { statusCell.appendChild(el("span", "tag", "baseline")); }
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
  window.addEventListener("beforeprint", function () { state.printing = true; render(); });
  window.addEventListener("afterprint", function () { state.printing = false; render(); });
  applyFilters();
  document.documentElement.setAttribute("data-ready", "true");
}());
