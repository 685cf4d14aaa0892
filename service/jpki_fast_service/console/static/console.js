// jpki-fast operator console: sorting, filtering and refreshing only. Every page reads without
// this script; it makes the partitions table answer at once and keeps the overview current.
(function () {
  "use strict";

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function format(template, values) {
    var i = 0;
    return template.replace(/%[0-9s]/g, function () { return values[i++]; });
  }

  // ---- partitions: filter and sort in the page -------------------------------------------
  function partitions() {
    var table = document.getElementById("partitions");
    var form = document.getElementById("partition-filter");
    if (!table || !form) return;
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-state]"));
    var total = rows.length;
    var hay = rows.map(function (tr) {
      return (tr.textContent + " " + tr.dataset.pref).toLowerCase();
    });
    var shown = document.getElementById("shown");
    var noMatch = document.getElementById("no-match");
    var number = new Intl.NumberFormat(document.documentElement.lang);
    var q = form.elements.q, pref = form.elements.prefecture, issuer = form.elements.issuer, state = form.elements.state;

    function apply() {
      var needle = q.value.trim().toLowerCase(), p = pref.value, iss = issuer.value, st = state.value, count = 0;
      for (var i = 0; i < rows.length; i++) {
        var d = rows[i].dataset;
        var ok = (!st || d.state === st) && (!iss || d.issuer === iss) && (!p || d.pref === p) && (!needle || hay[i].indexOf(needle) >= 0);
        if (rows[i].hidden === ok) rows[i].hidden = !ok;
        if (ok) count++;
      }
      var bodies = table.tBodies;
      for (var b = 0; b < bodies.length; b++) {
        var any = bodies[b].querySelector("tr[data-state]:not([hidden])");
        bodies[b].hidden = !any;
      }
      shown.textContent = format(shown.dataset.template, [number.format(count), number.format(total)]);
      noMatch.hidden = count > 0;
      remember();
    }

    function remember() {
      var params = new URLSearchParams(new FormData(form));
      history.replaceState(null, "", "/ui/partitions?" + params.toString());
    }

    var keys = {
      issuer: function (tr) { return [tr.dataset.issuer, tr.cells[2].textContent]; },
      prefecture: function (tr) { return [+tr.dataset.pc, tr.cells[2].textContent, tr.dataset.issuer]; },
      municipality: function (tr) { return [tr.cells[2].textContent, tr.dataset.issuer]; },
      this_update: function (tr) { return [+tr.dataset.tu, tr.cells[2].textContent]; },
      next_update: function (tr) { return [+tr.dataset.nu, tr.cells[2].textContent]; },
      crl_number: function (tr) { var n = tr.dataset.crl; return [n.length, n, tr.cells[2].textContent]; },
      entries: function (tr) { return [+tr.dataset.e, tr.cells[2].textContent]; },
      state: function (tr) { return [["fresh", "carried", "stale"].indexOf(tr.dataset.state), tr.cells[2].textContent]; }
    };
    function compare(a, b) {
      for (var i = 0; i < a.length; i++) {
        if (a[i] < b[i]) return -1;
        if (a[i] > b[i]) return 1;
      }
      return 0;
    }
    function sortBy(column, order) {
      var key = keys[column];
      var sign = order === "desc" ? -1 : 1;
      Array.prototype.forEach.call(table.tBodies, function (body) {
        var items = Array.prototype.slice.call(body.querySelectorAll("tr[data-state]")).map(function (tr) { return [key(tr), tr]; });
        items.sort(function (x, y) { return sign * compare(x[0], y[0]); });
        var fragment = document.createDocumentFragment();
        items.forEach(function (item) { fragment.appendChild(item[1]); });
        body.appendChild(fragment);
      });
      table.querySelectorAll("thead th").forEach(function (th) {
        var link = th.querySelector("a[data-sort]");
        if (!link) return;
        if (link.dataset.sort === column) th.setAttribute("aria-sort", order === "desc" ? "descending" : "ascending");
        else th.removeAttribute("aria-sort");
      });
      form.elements.sort.value = column;
      form.elements.order.value = order;
      remember();
    }
    table.querySelectorAll("a[data-sort]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var column = link.dataset.sort;
        var order = form.elements.sort.value === column && form.elements.order.value === "asc" ? "desc" : "asc";
        sortBy(column, order);
      });
    });
    var later = debounce(apply, 60);
    q.addEventListener("input", later);
    [pref, issuer, state].forEach(function (el) { el.addEventListener("change", apply); });
    form.elements.group.addEventListener("change", function () { form.submit(); });
    form.addEventListener("submit", function (event) { event.preventDefault(); apply(); });
  }

  // ---- overview: refresh the numbers in place -----------------------------------------------
  function refresh() {
    var box = document.querySelector("[data-refresh]");
    var live = document.getElementById("live");
    if (!box || !live) return;
    box.hidden = false;
    var toggle = document.getElementById("auto-refresh");
    var note = document.getElementById("refreshed");
    var seconds = +box.dataset.refresh || 30;
    function once() {
      if (!toggle.checked || document.hidden) return;
      fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) {
          if (response.redirected || !response.ok) throw new Error("session ended");
          return response.text();
        })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
          if (!fresh) return;
          live.replaceChildren.apply(live, Array.prototype.slice.call(fresh.childNodes));
          note.textContent = format(note.dataset.template, [new Date().toLocaleTimeString(document.documentElement.lang)]);
        })
        .catch(function () { toggle.checked = false; });
    }
    setInterval(once, seconds * 1000);
  }

  // ---- check: take the reader to the results -------------------------------------------------
  function results() {
    var heading = document.getElementById("h-results");
    if (heading) heading.focus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    partitions();
    refresh();
    results();
  });
})();
