// MovieDice's small script. Every page works without it; it adds copying
// to the clipboard, keeps boosted forms from losing the reader's place,
// and, on a list, the live connection's finishing touches.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button || !navigator.clipboard) {
      return;
    }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) {
      return;
    }
    var text = source.value !== undefined ? source.value : source.textContent;
    navigator.clipboard.writeText(text.trim()).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 2000);
    });
  });

  // announce says text through the page's one polite live region, which
  // boosted swaps keep (hx-preserve): a region that arrives already filled,
  // as every swapped-in notice does, is often not read out.
  function announce(text) {
    var el = document.getElementById("announcer");
    if (!el || !text) {
      return;
    }
    el.textContent = "";
    setTimeout(function () { el.textContent = text; }, 50);
  }

  // The signed-in user's id. It sits on <main>, inside what a boosted swap
  // replaces: <body>'s own attributes stay those of the first page loaded,
  // whoever has signed in or out since.
  function viewer() {
    var main = document.getElementById("main");
    return main ? main.getAttribute("data-viewer") || "" : "";
  }

  // Live fragments are rendered once for every member, so the controls
  // only some may use arrive hidden; show this viewer's. The sections only
  // the owner gets (the invitation, managing the list) come with the page:
  // when ownership moves to or from this viewer, say the page is out of date.
  function reveal() {
    var me = viewer();
    var members = document.getElementById("members");
    var owner = !!me && !!members && members.getAttribute("data-owner-id") === me;
    document.querySelectorAll("[data-added-by]").forEach(function (el) {
      el.hidden = !(owner || el.getAttribute("data-added-by") === me);
    });
    document.querySelectorAll("[data-owner-only]").forEach(function (el) { el.hidden = !owner; });
    document.querySelectorAll("[data-you-for]").forEach(function (el) {
      el.hidden = el.getAttribute("data-you-for") !== me;
    });
    if (members && me && owner !== !!document.getElementById("manage-heading")) {
      status(owner ? "You now own this list: reload the page to manage it." :
        "You no longer own this list: reload the page.", "ended");
    }
  }

  // A live update of single films arrives in #film-updates, in page
  // order, each naming the film it goes before (data-next); taken last to
  // first, that film is always in place already. Films gone come as
  // data-gone markers.
  function placeFilms() {
    var updates = document.getElementById("film-updates");
    var list = document.querySelector("#movies ul");
    if (!updates || !list || !updates.firstElementChild) {
      return;
    }
    var inList = function (id) {
      return id ? list.querySelector("#" + CSS.escape(id)) : null;
    };
    var items = Array.from(updates.children);
    for (var i = items.length - 1; i >= 0; i--) {
      var item = items[i];
      var gone = item.getAttribute("data-gone");
      var old = inList(gone || item.id);
      if (old) {
        old.remove();
      }
      if (gone) {
        item.remove();
        continue;
      }
      var next = inList(item.getAttribute("data-next"));
      item.removeAttribute("data-next");
      list.insertBefore(item, next);
    }
    list.hidden = list.children.length === 0;
    var none = document.getElementById("no-films");
    if (none) {
      none.hidden = !list.hidden;
    }
  }

  // A rename arrives as a new heading; the tab's title follows it.
  function retitle() {
    var name = document.getElementById("list-heading");
    if (name && name.textContent) {
      document.title = name.textContent + " · MovieDice";
    }
  }

  // The status line is seen, not heard: every boosted action reconnects,
  // and "connecting…, live" after each click would be noise. What ends the
  // connection, or loses it, is also announced.
  var lastStatus = "";
  function status(text, state) {
    var el = document.getElementById("live-status");
    if (el) {
      el.textContent = text;
      el.setAttribute("data-state", state);
    }
    if ((state === "ended" || state === "reconnecting") && text !== lastStatus) {
      announce(text);
    }
    lastStatus = state === "live" ? "" : text;
  }

  // Close codes after which the server would refuse a reconnect.
  var ended = {
    4001: "Signed out on this device.",
    4002: "This browser now uses another account.",
    4003: "You are no longer on this list.",
    4004: "This list was deleted."
  };

  var socket = null;
  document.addEventListener("htmx:wsAfterMessage", function () {
    placeFilms();
    reveal();
    retitle();
  });
  document.addEventListener("htmx:wsConnecting", function () { status("connecting…", "connecting"); });
  document.addEventListener("htmx:wsOpen", function (e) {
    socket = e.detail && e.detail.event ? e.detail.event.target : null;
    status("live", "live");
  });
  document.addEventListener("htmx:wsClose", function (e) {
    var code = e.detail && e.detail.event ? e.detail.event.code : 0;
    if (ended[code]) {
      status(ended[code] + " Reload the page.", "ended");
    } else if (code !== 1000) {
      status("reconnecting…", "reconnecting");
    }
  });

  // A page put in the back/forward cache would keep its connection open,
  // and its viewer on everyone's "looking at this list now", for as long as
  // it is kept. Close it on the way out; coming back, load the page afresh.
  window.addEventListener("pagehide", function (e) {
    if (e.persisted && socket) {
      socket.close(1000);
      socket = null;
    }
  });
  window.addEventListener("pageshow", function (e) {
    if (e.persisted && document.getElementById("live")) {
      location.reload();
    }
  });

  // A form answered with the page it was on (a 303 back to it, or the page
  // again with a message by a field) keeps the reader's place: no jump to
  // the top, which on a phone hid the message below the fold.
  var sent = null;
  document.addEventListener("htmx:beforeRequest", function (e) {
    var form = e.detail.elt && e.detail.elt.closest ? e.detail.elt.closest("form") : null;
    sent = form ? { action: form.getAttribute("action"), path: location.pathname } : null;
  });
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (!sent || sent.path !== location.pathname) {
      return;
    }
    var code = e.detail.xhr.status;
    if (code === 409 || code === 422 || pathOf(e.detail.xhr.responseURL) === location.pathname) {
      e.detail.swapOverride = "innerHTML show:none";
    }
  });
  // ...and keeps focus where the reader was: on the first field that needs
  // fixing, else on the form they used (its first button), if the new page
  // still has it.
  document.addEventListener("htmx:afterSettle", function (e) {
    if (e.detail.elt !== document.body) {
      return;
    }
    var form = sent;
    sent = null;
    var invalid = document.querySelector('[aria-invalid="true"]');
    if (invalid) {
      invalid.focus();
    } else if (form && form.path === location.pathname && form.action) {
      var again = document.querySelector('form[action="' + CSS.escape(form.action) + '"]');
      var target = again && again.querySelector("button");
      if (target) {
        target.focus({ preventScroll: true });
      }
    }
    var notice = document.querySelector('#main .notice[role="status"]');
    if (notice) {
      announce(notice.textContent.trim());
    }
    reveal();
  });

  // Where htmx would push a history entry for the page already shown (every
  // form on a list comes back to it), replace the entry instead, so Back
  // leaves the page; and leave out ?done=, a one-time notice that a reload
  // or a return would otherwise show again.
  document.addEventListener("htmx:beforeHistoryUpdate", function (e) {
    var h = e.detail.history;
    h.path = withoutDone(h.path);
    if (h.type === "push" && pathOf(h.path) === location.pathname) {
      h.type = "replace";
    }
  });

  function pathOf(url) {
    try {
      return new URL(url, location.href).pathname;
    } catch (err) {
      return "";
    }
  }

  function withoutDone(url) {
    var u = new URL(url, location.href);
    if (!u.searchParams.has("done")) {
      return url;
    }
    u.searchParams.delete("done");
    return u.pathname + u.search + u.hash;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var clean = withoutDone(location.href);
    if (clean !== location.href) {
      history.replaceState(history.state, "", clean);
    }
    reveal();
  });

  document.addEventListener("htmx:sendError", function () {
    showProblem("MovieDice could not be reached, so nothing was sent. Check your connection and try again.");
  });

  // showProblem puts a message at the top of the page, for a request that
  // got no answer at all.
  function showProblem(text) {
    var main = document.getElementById("main");
    if (!main) {
      return;
    }
    var el = document.getElementById("send-error");
    if (!el) {
      el = document.createElement("p");
      el.id = "send-error";
      el.className = "notice warn";
      main.insertBefore(el, main.firstChild);
    }
    el.textContent = text;
    el.scrollIntoView({ block: "nearest" });
    announce(text);
  }
})();
