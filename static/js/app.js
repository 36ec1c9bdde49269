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
  // as every swapped-in notice does, is often not read out. Texts that
  // come while one waits to be written are said with it, not instead.
  var toSay = "";
  function announce(text) {
    var el = document.getElementById("announcer");
    if (!el || !text) {
      return;
    }
    if (toSay) {
      toSay += " " + text;
      return;
    }
    el.textContent = "";
    toSay = text;
    setTimeout(function () {
      el.textContent = toSay;
      toSay = "";
    }, 50);
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

  // What other members change arrives live, and is said: a film added, a
  // roll, a film marked watched or removed. The viewer's own changes are
  // not (the page their form brings back shows them, and says their roll):
  // their films and rolls carry their id (data-added-by, data-rolled-by),
  // and their watched or remove is a request still on its way (acting:
  // how many, by address), whose live echo can come before its answer.
  // Each message is compared with the page it lands on (shown, taken just
  // before it), so one that only repeats what the page shows, as every
  // (re)connect's whole list does, says nothing; who is here is not said.
  // And each change is said once in the page's life (said): a form's
  // answer, rendered before a change the old connection then brought,
  // would otherwise bring it, and say it, again.
  var acting = new Map();
  var shown = null;
  var said = new Set();

  // firstTime notes the change key and reports whether it is new; a film's
  // watched state forgets its opposite, so that it can change back.
  function firstTime(key, opposite) {
    if (opposite) {
      said.delete(opposite);
    }
    if (said.has(key)) {
      return false;
    }
    said.add(key);
    return true;
  }

  // act counts a request to path in flight until it ends, or for at most
  // ten seconds: a request that hangs must not silence others for good.
  function act(path, form) {
    acting.set(path, (acting.get(path) || 0) + 1);
    var ended = false;
    var end = function () {
      if (!ended) {
        ended = true;
        var n = acting.get(path) - 1;
        if (n > 0) {
          acting.set(path, n);
        } else {
          acting.delete(path);
        }
      }
    };
    form.addEventListener("htmx:afterRequest", end, { once: true });
    setTimeout(end, 10000);
  }

  // More film changes than this in one message (a reconnect after a
  // while, a merge) are counted, not named.
  var nameAtMost = 3;

  // onPage is what of the page a live message can change and be said:
  // its films by id, and the id of tonight's roll.
  function onPage() {
    var films = new Map();
    document.querySelectorAll("#movies li.movie").forEach(function (li) { films.set(li.id, li); });
    var roll = document.querySelector("#roll [data-roll-id]");
    return { films: films, roll: roll ? roll.getAttribute("data-roll-id") : "" };
  }

  // tellChanges says what a live message changed on the page, which was
  // as was shows just before it.
  function tellChanges(was) {
    var now = onPage();
    var lines = filmChanges(was.films, now.films);
    var roll = document.querySelector("#roll .roll-result");
    if (now.roll && now.roll !== was.roll && roll.getAttribute("data-rolled-by") !== viewer() && firstTime("roll:" + now.roll)) {
      lines.push(rollSaid(roll, false));
      if (sent) {
        sent.rollsSaid.push({ id: now.roll, said: lines[lines.length - 1] });
      }
    }
    announce(lines.join(" "));
  }

  // rollSaid is what to say of the roll result el: the viewer's own
  // (mine), or whose.
  function rollSaid(el, mine) {
    var who = mine ? "" : byWhom(el);
    return (who ? who + " rolled the die: " : "The die picked ") + quoted(el, ".roll-title") + ".";
  }

  // filmChanges is what to say of the films others added, marked and
  // removed, from the films before (was) and after (now), by id.
  function filmChanges(was, now) {
    var me = viewer();
    var own = function (li, action) {
      return acting.has(location.pathname + "/movies/" + li.id.replace(/^film-/, "") + action);
    };
    var added = [], watched = [], unwatched = [], removed = [];
    now.forEach(function (li, id) {
      var old = was.get(id);
      var state = li.classList.contains("watched");
      if (!old) {
        var by = li.querySelector("[data-added-by]");
        if (firstTime("added:" + id) && by && by.getAttribute("data-added-by") !== me) {
          added.push(li);
        }
      } else if (old.classList.contains("watched") !== state &&
          firstTime("watched:" + id + ":" + state, "watched:" + id + ":" + !state) && !own(li, "/watched")) {
        (state ? watched : unwatched).push(li);
      }
    });
    was.forEach(function (li, id) {
      if (!now.has(id) && firstTime("removed:" + id) && !own(li, "/delete")) {
        removed.push(li);
      }
    });
    var kinds = [[added, "added"], [removed, "removed"], [watched, "marked watched"], [unwatched, "marked not watched"]];
    if (added.length + removed.length + watched.length + unwatched.length > nameAtMost) {
      return ["Films changed: " + kinds.filter(function (k) { return k[0].length; })
        .map(function (k) { return k[0].length + " " + k[1]; }).join(", ") + "."];
    }
    var said = added.map(function (li) {
      var who = byWhom(li);
      return (who ? who + " added " : "Added: ") + quoted(li, ".movie-title") + ".";
    });
    kinds.slice(1).forEach(function (k) {
      k[0].forEach(function (li) { said.push(quoted(li, ".movie-title") + " " + k[1] + "."); });
    });
    return said;
  }

  // quoted is the text of el's part sel, in quotes, as one line.
  function quoted(el, sel) {
    var part = el.querySelector(sel);
    return "“" + (part ? part.textContent.replace(/\s+/g, " ").trim() : "") + "”";
  }

  // byWhom is the name in el's "added by Ada, 24 Nov 2026, 07:16 UTC" or
  // "rolled by …" line (see views/format.go), or "" if it has none.
  function byWhom(el) {
    var line = el.querySelector(".muted");
    var m = line && /^(?:added|rolled) by (.+), \d+ \S+ \d+, \d\d:\d\d UTC$/.exec(line.textContent.replace(/\s+/g, " ").trim());
    return m ? m[1] : "";
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

  // A live message replaces whole sections, and a button the reader is
  // on (the die, a film's) goes with its section: focus would fall back to
  // the page's start. That follows every boosted form, whose new
  // connection begins with the whole list, as well as others' changes.
  // Focus goes on to the button's successor instead (spot, refocus).
  var focused = null;

  var socket = null;
  document.addEventListener("htmx:wsBeforeMessage", function () {
    shown = onPage();
    focused = spot(document.activeElement);
  });
  document.addEventListener("htmx:wsAfterMessage", function () {
    placeFilms();
    reveal();
    retitle();
    if (focused && !focused.el.isConnected && isLost(document.activeElement)) {
      refocus(focused);
    }
    focused = null;
    if (shown) {
      tellChanges(shown);
      shown = null;
    }
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

  // spot is where el, a control in a form, is: enough to find its
  // successor once a swap has replaced it (the form with the same
  // address) and, in a film's row, the films after it, then before it,
  // to go to if the film itself is gone.
  function spot(el) {
    var form = el && el.closest ? el.closest("form") : null;
    if (!form) {
      return null;
    }
    var li = form.closest("li.movie");
    var near = [];
    for (var n = li && li.nextElementSibling; n; n = n.nextElementSibling) {
      near.push(n.id);
    }
    for (var p = li && li.previousElementSibling; p; p = p.previousElementSibling) {
      near.push(p.id);
    }
    var button = el.closest("button");
    return { el: el, action: form.getAttribute("action"), button: button ? button.getAttribute("formaction") : null, film: !!li, near: near };
  }

  // refocus puts focus on the button of the form at s that had it (the
  // one with the same formaction, if it had one), else the form's first,
  // else the first of the nearest film still listed, else, the list of
  // films now empty, on its heading; without scrolling. It notes where
  // (placed).
  var placed = null;
  function refocus(s) {
    var form = document.querySelector('form[action="' + CSS.escape(s.action) + '"]');
    var target = form && s.button ? form.querySelector('button[formaction="' + CSS.escape(s.button) + '"]:not([hidden])') : null;
    target = target || shownButton(form);
    for (var i = 0; !target && i < s.near.length; i++) {
      target = shownButton(document.getElementById(s.near[i]));
    }
    if (!target && s.film) {
      target = document.getElementById("films-heading");
      if (target) {
        target.tabIndex = -1; // focusable from script, and only until left
        target.addEventListener("blur", function () { this.removeAttribute("tabindex"); }, { once: true });
      }
    }
    if (target) {
      target.focus({ preventScroll: true });
      placed = target;
    }
  }

  // shownButton is el's first button that is not hidden, if any.
  function shownButton(el) {
    return el ? el.querySelector("button:not([hidden])") : null;
  }

  // isLost: focus is nowhere, as when what had it left the page.
  function isLost(el) {
    return !el || el === document.body || el === document.documentElement;
  }

  // A form answered with the page it was on (a 303 back to it, or the page
  // again with a message by a field) keeps the reader's place: no jump to
  // the top, which on a phone hid the message below the fold. The answer
  // may come after a live message has taken the form off the page; htmx
  // still swaps it in, but says so only to the form, so what is needed
  // of the form is noted when it is sent.
  var sent = null;
  document.addEventListener("htmx:beforeRequest", function (e) {
    var form = e.detail.elt && e.detail.elt.closest ? e.detail.elt.closest("form") : null;
    var active = document.activeElement;
    sent = form ? { at: spot(form.contains(active) ? active : form), path: location.pathname, rollsSaid: [] } : null;
    // A film's action is the viewer's own until its request ends; htmx
    // says so to the form, which may be off the page by then.
    var path = pathOf(e.detail.pathInfo.requestPath);
    if (form && /\/(watched|delete)$/.test(path)) {
      act(path, form);
    }
  });
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (!sent || sent.path !== location.pathname) {
      return;
    }
    var xhr = e.detail.xhr;
    if (xhr.status === 409 || xhr.status === 422 || pathOf(xhr.responseURL) === location.pathname) {
      e.detail.swapOverride = "innerHTML show:none";
    }
    // Focus goes back to the form only if the reader is still there (or
    // nowhere): not if they went on to type, or to another film, while
    // the answer was on its way. What they were typing comes along.
    var active = document.activeElement;
    var onForm = active && active.closest && active.closest("form");
    sent.stay = isLost(active) || active === placed || !!(onForm && sent.at && onForm.getAttribute("action") === sent.at.action);
    sent.typing = !sent.stay && active.id && active.matches("input[type=text], textarea") ?
      { id: active.id, value: active.value, start: active.selectionStart, end: active.selectionEnd } : null;
    sent.rolled = new URL(xhr.responseURL || location.href, location.href).searchParams.get("rolled");
  });
  // htmx puts focus back on an element with the same id, but the new
  // page's field comes empty.
  document.addEventListener("htmx:afterSwap", function (e) {
    var typing = sent && e.detail.elt === document.body ? sent.typing : null;
    var field = typing ? document.getElementById(typing.id) : null;
    if (field && !field.value) {
      field.value = typing.value;
      if (document.activeElement === field) {
        field.setSelectionRange(typing.start, typing.end);
      }
    }
  });
  // ...and keeps focus where the reader was: on the first field that needs
  // fixing, else, if they are still on it, on the form they used (the
  // button they pressed), if the new page still has it, else on a film
  // next to the one they removed. A notice is said, and so is the die's
  // pick to who rolled it (the answer's address names the roll, ?rolled=),
  // or, if someone else rolled before the answer was made, theirs, unless
  // already said. Others' rolls said while the answer was on its way, and
  // not on it, came after it: they are said again after the pick, so that
  // what is heard last is tonight's film, as the page will show it.
  document.addEventListener("htmx:afterSettle", function (e) {
    if (e.detail.elt !== document.body) {
      return;
    }
    var form = sent;
    sent = null;
    reveal();
    var invalid = document.querySelector('[aria-invalid="true"]');
    if (invalid) {
      invalid.focus();
    } else if (form && form.stay && form.path === location.pathname && form.at) {
      refocus(form.at);
    }
    var notice = document.querySelector('#main .notice[role="status"]');
    if (notice) {
      announce(notice.textContent.trim());
    }
    var roll = form && form.rolled ? document.querySelector("#roll .roll-result") : null;
    var id = roll ? roll.getAttribute("data-roll-id") : "";
    if (id && firstTime("roll:" + id)) {
      var since = form.rollsSaid.filter(function (r) {
        return !document.querySelector('#roll [data-roll-id="' + CSS.escape(r.id) + '"], #earlier-rolls [data-roll-id="' + CSS.escape(r.id) + '"]');
      });
      announce([rollSaid(roll, id === form.rolled)].concat(since.length ? ["Since then:"] : [],
        since.map(function (r) { return r.said; })).join(" "));
    }
  });

  // Where htmx would push a history entry for the page already shown (every
  // form on a list comes back to it), replace the entry instead, so Back
  // leaves the page; and leave out what shows once (withoutOnce). A roll
  // whose form a live message replaced first updates no history: htmx
  // forgets a replaced form was boosted. Either way the address is the
  // list's own.
  document.addEventListener("htmx:beforeHistoryUpdate", function (e) {
    var h = e.detail.history;
    h.path = withoutOnce(h.path);
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

  // withoutOnce is url without what a form's answer shows once, and a
  // reload or a return would show again: a notice (?done=) and the die's
  // tumble (?rolled=).
  var once = ["done", "rolled"];
  function withoutOnce(url) {
    var u = new URL(url, location.href);
    if (!once.some(function (name) { return u.searchParams.has(name); })) {
      return url;
    }
    once.forEach(function (name) { u.searchParams.delete(name); });
    return u.pathname + u.search + u.hash;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var clean = withoutOnce(location.href);
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
