// MovieDice's small script. Every page works without it; it adds copying
// to the clipboard and, on a list, the live connection's finishing touches.
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

  // Live fragments are rendered once for every member, so the controls
  // only some may use arrive hidden; show this viewer's.
  function reveal() {
    var viewer = document.body.getAttribute("data-viewer");
    var members = document.getElementById("members");
    var owner = !!viewer && !!members && members.getAttribute("data-owner-id") === viewer;
    document.querySelectorAll("[data-added-by]").forEach(function (el) {
      el.hidden = !(owner || el.getAttribute("data-added-by") === viewer);
    });
    document.querySelectorAll("[data-owner-only]").forEach(function (el) { el.hidden = !owner; });
    document.querySelectorAll("[data-you-for]").forEach(function (el) {
      el.hidden = el.getAttribute("data-you-for") !== viewer;
    });
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

  function status(text, state) {
    var el = document.getElementById("live-status");
    if (el) {
      el.textContent = text;
      el.setAttribute("data-state", state);
    }
  }

  // Close codes after which the server would refuse a reconnect.
  var ended = { 4001: "Signed out on this device.", 4003: "You are no longer on this list.", 4004: "This list was deleted." };

  document.addEventListener("htmx:wsAfterMessage", function () {
    placeFilms();
    reveal();
  });
  document.addEventListener("htmx:wsConnecting", function () { status("connecting…", "connecting"); });
  document.addEventListener("htmx:wsOpen", function () { status("live", "live"); });
  document.addEventListener("htmx:wsClose", function (e) {
    var code = e.detail && e.detail.event ? e.detail.event.code : 0;
    if (ended[code]) {
      status(ended[code] + " Reload the page.", "ended");
    } else {
      status("reconnecting…", "reconnecting");
    }
  });
})();
