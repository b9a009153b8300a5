/* MaaS portal behaviour: CSRF token on forms, key show/copy, confirmations, usage tables. No dependencies. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // 3scale's {% csrf %} renders the token as meta tags; forms carry it as `authenticity_token`.
  function fillCsrf() {
    var token = csrfToken();
    document.querySelectorAll('input[name="authenticity_token"]').forEach(function (input) {
      if (!input.value) { input.value = token; }
    });
  }

  function toggle(id, button) {
    var input = document.getElementById(id);
    if (!input) { return; }
    var hidden = input.type === "password";
    input.type = hidden ? "text" : "password";
    button.textContent = hidden ? "Hide" : "Show";
  }

  function copy(id, button) {
    var input = document.getElementById(id);
    if (!input) { return; }
    var done = function () { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy"; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () { fallbackCopy(input); done(); });
    } else {
      fallbackCopy(input);
      done();
    }
  }

  function fallbackCopy(input) {
    var area = document.createElement("textarea");
    area.value = input.value;
    area.setAttribute("readonly", "");
    area.style.position = "absolute";
    area.style.left = "-9999px";
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    document.body.removeChild(area);
  }

  function renderUsage(section) {
    var appId = section.getAttribute("data-maas-usage");
    var summary = section.querySelector(".maas-usage-summary");
    var metrics = ["hits", "prompt_tokens", "completion_tokens", "total_tokens"];
    var url = function (metric) {
      var today = new Date().toISOString().slice(0, 10); // the UTC day, as the page says
      return "/stats/api/applications/" + encodeURIComponent(appId) + "/usage.json?metric_name=" + metric +
        "&period=day&granularity=hour&timezone=UTC&since=" + today;
    };
    Promise.all(metrics.map(function (metric) {
      return fetch(url(metric), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .catch(function () { return null; });
    })).then(function (results) {
      var rows = results.filter(Boolean);
      if (!rows.length) { summary.textContent = "Usage is not available yet."; return; }
      var table = document.createElement("table");
      table.innerHTML = "<thead><tr><th>Metric</th><th>Today</th></tr></thead>";
      var body = document.createElement("tbody");
      rows.forEach(function (row) {
        var tr = document.createElement("tr");
        var name = document.createElement("td");
        var total = document.createElement("td");
        name.textContent = (row.metric && (row.metric.friendly_name || row.metric.name)) || "";
        total.textContent = String(row.total);
        total.className = "maas-usage-total";
        total.setAttribute("data-metric", row.metric ? row.metric.system_name : "");
        tr.appendChild(name);
        tr.appendChild(total);
        body.appendChild(tr);
      });
      table.appendChild(body);
      summary.replaceWith(table);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    fillCsrf();
    document.addEventListener("click", function (event) {
      var target = event.target;
      if (target.hasAttribute("data-maas-toggle")) { toggle(target.getAttribute("data-maas-toggle"), target); }
      if (target.hasAttribute("data-maas-copy")) { copy(target.getAttribute("data-maas-copy"), target); }
      if (target.hasAttribute("data-maas-confirm") && !window.confirm(target.getAttribute("data-maas-confirm"))) {
        event.preventDefault();
      }
    });
    document.querySelectorAll("[data-maas-usage]").forEach(renderUsage);
  });
}());
