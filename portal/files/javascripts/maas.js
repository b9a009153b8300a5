/* MaaS portal behaviour: CSRF token on forms, key show/copy, confirmations, usage tables, charts and cost.
   No dependencies. */
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

  function usageJson(appId, metric, query) {
    return fetch("/stats/api/applications/" + encodeURIComponent(appId) + "/usage.json?metric_name=" + metric +
      "&timezone=UTC&skip_change=true&" + query, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .catch(function () { return null; });
  }

  function isoDay(date) { return date.toISOString().slice(0, 10); }

  // An SVG bar chart of one series (one bar per day), labelled with the day and the value.
  function barChart(title, labels, values, color) {
    var ns = "http://www.w3.org/2000/svg", width = 320, height = 150, top = 22, bottom = 28;
    var max = Math.max.apply(null, values.concat([1]));
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("class", "maas-chart");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", title);
    var heading = document.createElementNS(ns, "text");
    heading.setAttribute("x", "4"); heading.setAttribute("y", "14"); heading.setAttribute("class", "maas-chart-title");
    heading.textContent = title;
    svg.appendChild(heading);
    var step = width / values.length;
    values.forEach(function (value, i) {
      var h = (height - top - bottom) * value / max;
      var bar = document.createElementNS(ns, "rect");
      bar.setAttribute("x", String(i * step + step * 0.15));
      bar.setAttribute("y", String(height - bottom - h));
      bar.setAttribute("width", String(step * 0.7));
      bar.setAttribute("height", String(Math.max(h, value > 0 ? 1 : 0)));
      bar.setAttribute("fill", color);
      bar.setAttribute("data-value", String(value));
      svg.appendChild(bar);
      var label = document.createElementNS(ns, "text");
      label.setAttribute("x", String(i * step + step / 2)); label.setAttribute("y", String(height - 10));
      label.setAttribute("text-anchor", "middle"); label.setAttribute("class", "maas-chart-label");
      label.textContent = labels[i].slice(5);
      svg.appendChild(label);
      if (value > 0) {
        var number = document.createElementNS(ns, "text");
        number.setAttribute("x", String(i * step + step / 2)); number.setAttribute("y", String(height - bottom - h - 3));
        number.setAttribute("text-anchor", "middle"); number.setAttribute("class", "maas-chart-label");
        number.textContent = String(value);
        svg.appendChild(number);
      }
    });
    return svg;
  }

  function renderCharts(section) {
    var appId = section.getAttribute("data-maas-usage");
    var box = section.querySelector(".maas-usage-charts");
    if (!box) { return; }
    var since = new Date(Date.now() - 6 * 86400000);
    var query = "period=week&granularity=day&since=" + isoDay(since);
    Promise.all([usageJson(appId, "hits", query), usageJson(appId, "total_tokens", query)]).then(function (res) {
      var days = [];
      for (var i = 0; i < 7; i++) { days.push(isoDay(new Date(since.getTime() + i * 86400000))); }
      if (res[0]) { box.appendChild(barChart("Calls per day", days, res[0].values.slice(0, 7), "#0066cc")); }
      if (res[1]) { box.appendChild(barChart("Tokens per day", days, res[1].values.slice(0, 7), "#f0ab00")); }
    });
  }

  // pricing_rule.rb cost_for_value: the units between min and max (∞ when not a number) at cost per unit.
  function ruleCost(rule, value) {
    if (value < rule.min) { return 0; }
    var top = isNaN(rule.max) || value <= rule.max ? value : rule.max;
    return rule.cost * (top - rule.min + 1);
  }

  function money(text) { return parseFloat(String(text).replace(/[^0-9.]/g, "")) || 0; }

  function renderCost(section) {
    var appId = section.getAttribute("data-maas-usage");
    var out = section.querySelector(".maas-usage-cost");
    var rules = Array.prototype.map.call(section.querySelectorAll(".maas-price-rule"), function (el) {
      return { metric: el.getAttribute("data-metric"), min: parseInt(el.getAttribute("data-min"), 10),
               max: parseInt(el.getAttribute("data-max"), 10), cost: money(el.getAttribute("data-cost")) };
    });
    var fee = money(section.getAttribute("data-maas-fee"));
    if (!out || (!rules.length && !fee)) { return; }
    var now = new Date();
    var query = "period=month&granularity=day&since=" + now.toISOString().slice(0, 8) + "01";
    var metrics = rules.map(function (r) { return r.metric; }).filter(function (m, i, all) { return all.indexOf(m) === i; });
    Promise.all(metrics.map(function (m) { return usageJson(appId, m, query); })).then(function (res) {
      var usage = 0;
      metrics.forEach(function (metric, i) {
        var total = res[i] ? res[i].total : 0;
        rules.filter(function (r) { return r.metric === metric; }).forEach(function (r) { usage += ruleCost(r, total); });
      });
      out.innerHTML = "";
      out.appendChild(document.createTextNode("Cost so far this month (" + section.getAttribute("data-maas-plan") +
        " plan): "));
      var strong = document.createElement("strong");
      strong.className = "maas-cost-total";
      strong.setAttribute("data-cost", (usage + fee).toFixed(4));
      strong.textContent = "USD " + (usage + fee).toFixed(4);
      out.appendChild(strong);
      out.appendChild(document.createTextNode(" — usage USD " + usage.toFixed(4) + " + monthly fee USD " +
        fee.toFixed(2) + "."));
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
    document.querySelectorAll("[data-maas-usage]").forEach(function (section) {
      renderUsage(section);
      renderCharts(section);
      renderCost(section);
    });
  });
}());
