/* The "Refer colleagues" page: copy the link, share messages, the weekly chart (uPlot, vendored),
   and live figures (the page re-reads its API every 20 seconds while it is visible). */
(function () {
  "use strict";

  function copyText(input, status) {
    var text = input.value;
    function done() { status.textContent = status.dataset.copied || "Copied"; }
    function fallback() {
      input.select();
      try { document.execCommand("copy"); done(); } catch (error) { status.textContent = ""; }
    }
    if (navigator.clipboard && window.isSecureContext !== false) {
      navigator.clipboard.writeText(text).then(done, fallback);
    } else {
      fallback();
    }
  }

  // Clicking the link selects it whole, ready to copy (no inline handler: the CSP forbids them).
  document.querySelectorAll("[data-select-on-click]").forEach(function (input) {
    input.addEventListener("click", function () { input.select(); });
  });

  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    button.addEventListener("click", function () {
      var input = document.getElementById(button.dataset.copyTarget);
      var status = document.querySelector("[data-testid=copy-status]");
      copyText(input, status);
    });
  });

  // Share links: the first click on a channel loads its template; the next one shares the
  // (possibly edited) text through that channel.
  var shareText = document.getElementById("share-text");
  var selected = "whatsapp";
  function shareUrl(channel, text, link, subject) {
    var e = encodeURIComponent;
    switch (channel) {
      case "email": return "mailto:?subject=" + e(subject) + "&body=" + e(text);
      case "whatsapp": return "https://wa.me/?text=" + e(text);
      case "telegram": return "https://t.me/share/url?url=" + e(link) + "&text=" + e(text.replace(link, "").trim());
      case "linkedin": return "https://www.linkedin.com/sharing/share-offsite/?url=" + e(link);
      case "x": return "https://x.com/intent/post?text=" + e(text);
      case "facebook": return "https://www.facebook.com/sharer/sharer.php?u=" + e(link);
    }
    return "#";
  }
  document.querySelectorAll("[data-channel]").forEach(function (anchor) {
    anchor.addEventListener("click", function (event) {
      if (!shareText) { return; }
      var channel = anchor.dataset.channel;
      if (channel !== selected) {
        event.preventDefault();
        selected = channel;
        shareText.value = anchor.dataset.template;
        document.querySelectorAll("[data-channel]").forEach(function (other) {
          other.classList.toggle("outline", other !== anchor);
        });
        return;
      }
      anchor.href = shareUrl(channel, shareText.value, shareText.dataset.link, anchor.dataset.subject);
    });
  });

  // The weekly chart.
  var chart = null;
  var holder = document.getElementById("weekly-chart");
  // DentalTap's English is day first (dentaltap/formats/en): British English is the browser's match.
  var pageLanguage = document.documentElement.lang || "en";
  var weekLabel = new Intl.DateTimeFormat(pageLanguage === "en" ? "en-GB" : pageLanguage,
    { day: "numeric", month: "short", timeZone: "UTC" });
  function chartData(weekly) {
    return [
      weekly.map(function (row) { return Date.parse(row.week + "T00:00:00Z") / 1000; }),
      weekly.map(function (row) { return row.signups; }),
      weekly.map(function (row) { return row.conversions; })
    ];
  }
  function drawChart(weekly) {
    if (!holder || typeof uPlot === "undefined") { return; }
    if (chart) { chart.setData(chartData(weekly)); return; }
    chart = new uPlot({
      width: Math.max(280, holder.clientWidth || 600),
      height: 220,
      scales: { y: { range: function (u, min, max) { return [0, Math.max(4, max)]; } } },
      series: [
        // The legend's first cell is the week (uPlot's default label is the English "Time").
        { label: holder.dataset.labelWeek, value: function (u, v) { return v == null ? "--" : weekLabel.format(new Date(v * 1000)); } },
        { label: holder.dataset.labelSignups, stroke: "#1095c1", width: 2, points: { show: true } },
        { label: holder.dataset.labelConversions, stroke: "#2e7d32", width: 2, points: { show: true } }
      ],
      axes: [
        // Week starts in the page's language, day first as everywhere else ("14 Sept"), not uPlot's US "9/14".
        { values: function (u, ticks) { return ticks.map(function (tick) { return weekLabel.format(new Date(tick * 1000)); }); } },
        { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }
      ]
    }, chartData(weekly), holder);
  }
  var initial = document.getElementById("weekly-data");
  if (initial) { drawChart(JSON.parse(initial.textContent)); }

  // Live figures.
  function refresh() {
    if (document.hidden) { return; }
    fetch("/api/referrals/dashboard/", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (!body) { return; }
        Object.keys(body.funnel).forEach(function (name) {
          var cell = document.querySelector('[data-figure="' + name + '"]');
          if (cell) { cell.textContent = body.funnel[name]; }
        });
        var earned = document.querySelector('[data-figure="earned"]');
        if (earned) {
          earned.textContent = body.earned_display;  // formatted by the server, as on first load
        }
        drawChart(body.weekly);
      })
      .catch(function () { /* offline for a moment: the next tick tries again */ });
  }
  window.dentaltapReferralsRefresh = refresh;
  setInterval(refresh, 20000);
  document.addEventListener("visibilitychange", refresh);
})();
