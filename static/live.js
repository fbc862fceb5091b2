/* Live signature counts: keeps every element with data-live-count up to date, no reload.
 *
 * The server renders the number, so pages work fully without JavaScript; this only refreshes
 * it. It listens to the server-sent events at data-live-stream. The server ends each stream
 * after LIVE_STREAM_SECONDS and the browser reconnects by itself after the stream's `retry:`.
 * When the server refuses a stream (503 when it already serves as many as it will, 404 when
 * the petition is gone) or the browser has no EventSource, it polls data-live-count
 * (count.json: cacheable, so a proxy or the browser's cache, revalidating with If-None-Match,
 * answers most polls) every data-live-poll seconds, and tries a stream again now and then.
 * A hidden tab stops listening; a petition that is no longer open stops it for good.
 *
 * Loaded with <script src defer>: the Content-Security-Policy allows no inline script.
 * Numbers are written with the separator and group sizes the server passes (data-live-group,
 * data-live-grouping: Babel's, so they read as the server's), the word after them by the
 * page language's CLDR plural category (Intl.PluralRules) from data-live-words.
 * The element gets data-live-mode ("stream", "poll", "paused", "off") and data-live-opens
 * (streams opened so far), which say what it is doing.
 */
(function () {
  "use strict";

  // Polls before trying a stream again after the server refused one (about a minute).
  var STREAM_AGAIN_AFTER_POLLS = 6;
  var hasEventSource = typeof window.EventSource === "function";
  var lang = (document.documentElement.getAttribute("lang") || "").replace(/_/g, "-");

  function intl(make) {
    try {
      return make(lang || undefined);
    } catch (error) {
      return make(undefined); // an unknown language tag: the browser's own
    }
  }

  var browserNumbers = intl(function (locale) { return new Intl.NumberFormat(locale); });
  var plurals = typeof Intl.PluralRules === "function"
    ? intl(function (locale) { return new Intl.PluralRules(locale); })
    : null;

  // A whole number as the server's Babel writes it: the element's data-live-group separator
  // between groups of data-live-grouping digits ("3,3": the last group of 3, then of 3). The
  // browser's Intl is only the fallback of a page without them, since its CLDR data and
  // Babel's may differ (a no-break space or a narrow one, say).
  function numberWriter(element) {
    var group = element.getAttribute("data-live-group");
    var sizes = (element.getAttribute("data-live-grouping") || "").split(",").map(Number);
    var primary = sizes[0];
    var secondary = sizes[1] || primary;
    if (group === null || !(primary > 0)) return browserNumbers.format;
    return function (total) {
      var digits = String(Math.floor(Math.abs(total)));
      var sign = total < 0 ? "-" : "";
      if (digits.length <= primary) return sign + digits;
      var written = digits.slice(-primary);
      var rest = digits.slice(0, -primary);
      while (rest.length > secondary) {
        written = rest.slice(-secondary) + group + written;
        rest = rest.slice(0, -secondary);
      }
      return sign + rest + group + written;
    };
  }

  function follow(element) {
    var countUrl = element.getAttribute("data-live-count");
    var streamUrl = element.getAttribute("data-live-stream");
    var pollMs = Math.max(1, parseFloat(element.getAttribute("data-live-poll")) || 10) * 1000;
    var words = {};
    try {
      words = JSON.parse(element.getAttribute("data-live-words") || "{}");
    } catch (error) {
      words = {};
    }
    var format = numberWriter(element);
    var number = element.querySelector("[data-count]");
    var label = element.querySelector("[data-count-label]");
    var bar = element.querySelector("progress");
    var source = null;
    var timer = null;
    var finished = false;
    var opens = 0;
    // Bumped by stop(), so callbacks of an abandoned stream or poll do nothing.
    var generation = 0;

    function mode(name) {
      element.setAttribute("data-live-mode", name);
    }

    function show(total) {
      if (number) number.textContent = format(total);
      if (label && plurals && words[plurals.select(total)]) {
        label.textContent = words[plurals.select(total)];
      }
      var goal = bar ? Number(bar.getAttribute("max")) : 0;
      if (goal > 0) {
        var pct = Math.min(100, Math.floor((100 * total) / goal));
        bar.value = Math.min(total, goal);
        bar.textContent = pct + "%";
        var template = bar.getAttribute("data-label");
        if (template) bar.setAttribute("aria-label", template.replace("{pct}", String(pct)));
      }
    }

    function receive(data) {
      if (!data || typeof data.signature_count !== "number") return;
      show(data.signature_count);
      if (data.state !== "open") finish();
    }

    function stop() {
      generation += 1;
      if (source) {
        source.close();
        source = null;
      }
      if (timer) {
        clearTimeout(timer);
        timer = null;
      }
    }

    function finish() {
      finished = true;
      stop();
      mode("off");
    }

    function listen() {
      stop();
      if (finished || document.hidden) return;
      if (!streamUrl || !hasEventSource) {
        poll(generation, 0);
        return;
      }
      var mine = new EventSource(streamUrl);
      source = mine;
      mine.addEventListener("open", function () {
        opens += 1;
        element.setAttribute("data-live-opens", String(opens));
        mode("stream");
      });
      mine.addEventListener("count", function (event) {
        var data = null;
        try {
          data = JSON.parse(event.data);
        } catch (error) {
          return;
        }
        receive(data);
      });
      mine.addEventListener("error", function () {
        // CONNECTING: the stream ended (as it does every LIVE_STREAM_SECONDS) or the network
        // blinked, and the browser reconnects by itself. CLOSED: the server refused it.
        if (mine !== source || mine.readyState !== EventSource.CLOSED) return;
        stop();
        poll(generation, 0);
      });
    }

    function poll(mine, polls) {
      if (finished || document.hidden || mine !== generation) return;
      mode("poll");
      fetch(countUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (response.status === 404) {
            finish();
            return null;
          }
          return response.ok ? response.json() : null;
        })
        .then(function (data) {
          if (mine === generation) receive(data);
        })
        .catch(function () {
          return null; // offline for a moment: try again at the next poll
        })
        .then(function () {
          if (finished || document.hidden || mine !== generation) return;
          var streamAgain = streamUrl && hasEventSource && polls + 1 >= STREAM_AGAIN_AFTER_POLLS;
          timer = setTimeout(function () {
            if (streamAgain) listen();
            else poll(mine, polls + 1);
          }, pollMs);
        });
    }

    document.addEventListener("visibilitychange", function () {
      if (finished) return;
      if (document.hidden) {
        stop();
        mode("paused");
      } else {
        listen();
      }
    });
    listen();
  }

  var elements = document.querySelectorAll("[data-live-count]");
  for (var i = 0; i < elements.length; i += 1) follow(elements[i]);
})();
