// Small progressive enhancements; everything works without them. No inline script
// anywhere (the CSP forbids it), so every behaviour lives in this file.
(function () {
  "use strict";

  if (window.htmx) {
    // The CSP forbids inline styles and eval; htmx must not need them.
    htmx.config.includeIndicatorStyles = false;
    htmx.config.allowEval = false;
    htmx.config.allowScriptTags = false;
    // Validation errors (400), refusals (403), conflicts (409), a body without its length
    // (411) and too-large uploads (413) come back as a page part with the message in it:
    // swap those too. Anything else is announced (below) and swaps nothing.
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "(400|403|409|411|413)", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
    ];
  }

  // An answer htmx does not swap (503 while the database is away, another 5xx, a 404) or
  // no answer at all: say so in the status region, so nobody waits for nothing. Nothing
  // was swapped, so the form and what was typed in it are still there to send again.
  function announceFailure(text) {
    const box = document.getElementById("messages");
    if (!box) return;
    box.querySelectorAll("[data-request-failed]").forEach(function (old) {
      old.remove();
    });
    const note = document.createElement("div");
    note.className = "flash flash-error";
    note.setAttribute("data-request-failed", "");
    note.textContent = text;
    box.appendChild(note);
  }
  document.addEventListener("htmx:responseError", function (event) {
    const status = event.detail.xhr ? event.detail.xhr.status : 0;
    announceFailure(
      status === 503
        ? "Mainspring is temporarily unavailable. What you typed is still here: " +
            "send it again in a moment."
        : "That did not work (error " + status + "). What you typed is still here: " +
            "try again, or reload the page."
    );
  });
  document.addEventListener("htmx:sendError", function () {
    announceFailure(
      "Mainspring could not be reached. What you typed is still here: send it again " +
        "in a moment."
    );
  });
  // The next answer that worked clears the notice.
  document.addEventListener("htmx:afterRequest", function (event) {
    if (!event.detail.successful) return;
    document.querySelectorAll("#messages [data-request-failed]").forEach(function (old) {
      old.remove();
    });
  });

  function focusById(id) {
    const el = id && document.getElementById(id);
    if (!el) return false;
    if (!el.matches("a[href], button, input, select, textarea, [tabindex]")) {
      el.setAttribute("tabindex", "-1");
    }
    el.focus();
    return true;
  }

  // On load, focus goes where the server pointed (data-focus), else to an error summary.
  document.addEventListener("DOMContentLoaded", function () {
    const holder = document.querySelector("[data-focus]");
    if (holder && focusById(holder.dataset.focus)) return;
    const summary = document.querySelector(".error-summary");
    if (summary) summary.focus();
  });

  // Forms marked data-keep-dirty (composer, properties) keep what the user typed when the
  // part of the page around them is swapped after another action; the submitted form is
  // the one exception, since its answer is what the user asked for.
  document.addEventListener("input", function (event) {
    const form =
      event.target.closest && event.target.closest("form[data-keep-dirty], form[data-draft]");
    if (form) form.dataset.dirty = "1";
  });
  document.addEventListener(
    "submit",
    function (event) {
      if (event.target.dataset) delete event.target.dataset.dirty;
    },
    true
  );

  let kept = [];
  document.addEventListener("htmx:beforeSwap", function (event) {
    const target = event.detail.target;
    if (!target || !target.querySelectorAll) return;
    kept = Array.from(target.querySelectorAll("form[data-keep-dirty][data-dirty]")).filter(
      function (form) {
        return form.id;
      }
    );
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    kept.forEach(function (old) {
      const fresh = document.getElementById(old.id);
      if (fresh && fresh !== old) {
        fresh.replaceWith(old);
        if (window.htmx) htmx.process(old);
      }
    });
    kept = [];
    // Move focus deliberately: to what the server says needs attention.
    const incident = document.querySelector("#incident[data-focus]");
    if (incident && (event.target === incident || incident.contains(event.target))) {
      focusById(incident.dataset.focus);
      return;
    }
    if (document.activeElement === document.body) {
      const results = document.getElementById("queue-results");
      if (results) results.focus();
    }
  });
  // Queue bulk selection: "select all on this page" and Shift-click ranges. Without
  // JavaScript each row's checkbox still works on its own.
  function setupSelectAll(root) {
    const all = root.querySelector && root.querySelector("[data-select-all]");
    if (all) all.hidden = false;
  }
  document.addEventListener("DOMContentLoaded", function () {
    setupSelectAll(document);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    setupSelectAll(event.target);
  });
  let lastBox = null;
  document.addEventListener("click", function (event) {
    const box = event.target;
    if (!(box instanceof HTMLInputElement) || box.type !== "checkbox") return;
    const form = box.closest("#bulk-form");
    if (!form) return;
    const boxes = Array.from(form.querySelectorAll('input[name="ids"]'));
    if (box.hasAttribute("data-select-all")) {
      boxes.forEach(function (b) {
        b.checked = box.checked;
      });
      return;
    }
    if (event.shiftKey && lastBox && boxes.includes(lastBox)) {
      const [a, b] = [boxes.indexOf(lastBox), boxes.indexOf(box)].sort(function (x, y) {
        return x - y;
      });
      boxes.slice(a, b + 1).forEach(function (b2) {
        b2.checked = box.checked;
      });
    }
    lastBox = box;
  });

  // Knowledge panel: "Insert link in comment" puts a Markdown link to the article at the
  // cursor in the composer. The buttons stay hidden without this script (the link is
  // shown as text to copy instead).
  function revealInsertButtons(root) {
    (root.querySelectorAll ? root : document)
      .querySelectorAll("button[data-insert-article]")
      .forEach(function (button) {
        button.hidden = false;
      });
  }
  document.addEventListener("DOMContentLoaded", function () {
    revealInsertButtons(document);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    revealInsertButtons(event.target || document);
  });
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("button[data-insert-article]");
    if (!button) return;
    const box = document.querySelector("#composer textarea[name='body']");
    if (!box) return;
    // Brackets in a title would end the link text early.
    const title = button.dataset.title.replace(/([\[\]\\])/g, "\\$1");
    const link = "[" + button.dataset.number + " " + title + "](" + button.dataset.url + ")";
    insertAtCursor(box, link);
  });

  // Text into the composer at the cursor (replacing a selection), then back to typing.
  function insertAtCursor(box, text) {
    const start = box.selectionStart != null ? box.selectionStart : box.value.length;
    const end = box.selectionEnd != null ? box.selectionEnd : box.value.length;
    const before = box.value.slice(0, start);
    const spacer = before && !/\s$/.test(before) ? " " : "";
    box.value = before + spacer + text + box.value.slice(end);
    const caret = (before + spacer + text).length;
    box.setSelectionRange(caret, caret);
    box.dispatchEvent(new Event("input", { bubbles: true }));
    box.focus();
  }

  // Canned responses (UX 16): pick one and Insert (or Enter), or type "::" in the message
  // to jump to the list. The text comes filled in from the server; unknown placeholders
  // stay visible.
  function revealCanned(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("[data-canned]").forEach(
      function (el) {
        el.hidden = false;
      }
    );
  }
  document.addEventListener("DOMContentLoaded", function () {
    revealCanned(document);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    revealCanned(event.target || document);
  });
  function insertCanned() {
    const pick = document.getElementById("canned-pick");
    const box = document.querySelector("#composer textarea[name='body']");
    const option = pick && pick.selectedOptions[0];
    if (!box || !option || !option.value) return false;
    insertAtCursor(box, option.dataset.text);
    pick.value = "";
    return true;
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-canned-insert]")) insertCanned();
  });
  document.addEventListener("keydown", function (event) {
    if (event.target.id === "canned-pick" && event.key === "Enter") {
      event.preventDefault();
      insertCanned();
    }
  });
  document.addEventListener("input", function (event) {
    const box = event.target;
    if (!box.matches || !box.matches("#composer textarea[name='body']")) return;
    const pick = document.getElementById("canned-pick");
    const at = box.selectionStart;
    if (!pick || at < 2 || box.value.slice(at - 2, at) !== "::") return;
    box.value = box.value.slice(0, at - 2) + box.value.slice(at);
    box.setSelectionRange(at - 2, at - 2);
    pick.focus();
  });

  // File inputs with data-max-bytes: refuse a file over the limit when it is chosen, with
  // the message by the field, rather than upload it for the server to refuse.
  document.addEventListener("change", function (event) {
    const input = event.target;
    if (!input.matches || !input.matches("input[type=file][data-max-bytes]")) return;
    const max = parseInt(input.dataset.maxBytes, 10);
    const tooBig = Array.from(input.files || []).find(function (file) {
      return file.size > max;
    });
    let note = document.getElementById(input.id + "-size-error");
    if (!tooBig) {
      if (note) note.remove();
      input.removeAttribute("aria-invalid");
      return;
    }
    if (!note) {
      note = document.createElement("p");
      note.id = input.id + "-size-error";
      note.className = "field-error";
      note.setAttribute("role", "alert");
      input.insertAdjacentElement("afterend", note);
    }
    const limit = Math.floor(max / (1024 * 1024));
    note.textContent =
      "“" + tooBig.name + "” is larger than the " + limit + " MB limit. Choose a smaller file.";
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", note.id);
    input.value = "";
  });

  // Drafts (core/drafts.py): what is typed in a form[data-draft] is kept in localStorage,
  // per user, until the server says it took it (data-drafts-sent), so a reload, a
  // navigation or an expired session loses nothing. Leaving with unsent text asks first.
  const draftUser = document.body && document.body.dataset.user;
  const draftPrefix = draftUser ? "mainspring:draft:" + draftUser + ":" : null;

  function draftStore() {
    try {
      return draftPrefix ? window.localStorage : null;
    } catch (e) {
      return null; // storage disabled: forms work as before
    }
  }
  function draftFields(form) {
    return Array.from(form.querySelectorAll("textarea[name], input[name]")).filter(function (el) {
      return el.tagName === "TEXTAREA" || el.type === "text" || el.type === "search";
    });
  }
  function draftValues(form) {
    const values = {};
    let any = false;
    draftFields(form).forEach(function (el) {
      values[el.name] = el.value;
      if (el.value.trim()) any = true;
    });
    return any ? values : null;
  }
  function saveDraft(form) {
    const store = draftStore();
    if (!store) return;
    const values = draftValues(form);
    const key = draftPrefix + form.dataset.draft;
    try {
      if (values) store.setItem(key, JSON.stringify(values));
      else store.removeItem(key);
    } catch (e) {
      /* quota full: keep going without a draft */
    }
  }
  function dropSentDrafts() {
    const store = draftStore();
    document.querySelectorAll("[data-drafts-sent]").forEach(function (holder) {
      (holder.dataset.draftsSent || "").split(" ").forEach(function (key) {
        if (key && store) store.removeItem(draftPrefix + key);
      });
      holder.dataset.draftsSent = "";
    });
  }
  function restoreDrafts(root) {
    const store = draftStore();
    if (!store) return;
    const forms = (root.querySelectorAll ? root : document).querySelectorAll("form[data-draft]");
    forms.forEach(function (form) {
      // Text the server put back (an error, a re-render) wins over an older draft.
      if (draftValues(form) || form.querySelector(".draft-note")) return;
      let values = null;
      try {
        values = JSON.parse(store.getItem(draftPrefix + form.dataset.draft) || "null");
      } catch (e) {
        values = null;
      }
      if (!values) return;
      draftFields(form).forEach(function (el) {
        if (typeof values[el.name] === "string") el.value = values[el.name];
      });
      form.dataset.dirty = "1";
      const note = document.createElement("p");
      note.className = "draft-note";
      note.setAttribute("role", "status");
      note.textContent = "Your unsent text was restored. ";
      const discard = document.createElement("button");
      discard.type = "button";
      discard.className = "linklike";
      discard.dataset.discardDraft = "";
      discard.textContent = "Discard it";
      note.appendChild(discard);
      form.insertBefore(note, form.firstChild);
    });
  }
  function setUpDrafts(root) {
    dropSentDrafts();
    restoreDrafts(root);
  }
  document.addEventListener("DOMContentLoaded", function () {
    setUpDrafts(document);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    setUpDrafts(event.target || document);
  });
  document.addEventListener("input", function (event) {
    const form = event.target.closest && event.target.closest("form[data-draft]");
    if (form) saveDraft(form);
  });
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("button[data-discard-draft]");
    if (!button) return;
    const form = button.closest("form[data-draft]");
    if (!form) return;
    draftFields(form).forEach(function (el) {
      el.value = "";
    });
    delete form.dataset.dirty;
    const store = draftStore();
    if (store) store.removeItem(draftPrefix + form.dataset.draft);
    const first = draftFields(form)[0];
    button.closest(".draft-note").remove();
    if (first) first.focus();
  });
  document.addEventListener(
    "submit",
    function (event) {
      const form = event.target;
      if (form.matches && form.matches("form[action$='/logout/']") && draftStore()) {
        // Signing out on a shared computer leaves no text behind.
        const store = draftStore();
        Object.keys(store)
          .filter(function (k) {
            return k.indexOf(draftPrefix) === 0;
          })
          .forEach(function (k) {
            store.removeItem(k);
          });
      }
    },
    true
  );
  // A submitted form is no longer dirty (the submit listener above), so only text that
  // was typed and not sent asks first.
  window.addEventListener("beforeunload", function (event) {
    const unsent = Array.from(document.querySelectorAll("form[data-draft][data-dirty]")).some(
      function (form) {
        return draftValues(form);
      }
    );
    if (unsent) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // Presence (incidents/_presence.html): the composer tells the page's presence report
  // that its agent is typing, at most every 8 s, so colleagues see it on their next one.
  let lastTypingReport = 0;
  let lastTyped = 0;
  document.addEventListener("input", function (event) {
    if (!event.target.closest || !event.target.closest("#composer")) return;
    const flag = document.querySelector("#presence input[name='typing']");
    if (!flag) return;
    flag.value = "on";
    const now = Date.now();
    lastTyped = now;
    if (now - lastTypingReport > 8000 && window.htmx) {
      lastTypingReport = now;
      htmx.trigger(document.body, "mainspring-typing");
    }
  });
  // A report that found nothing new (204) leaves the form in place: stop saying "typing"
  // once the agent paused.
  document.addEventListener("htmx:afterRequest", function (event) {
    const form = event.detail && event.detail.elt;
    if (!form || form.id !== "presence" || Date.now() - lastTyped < 10000) return;
    const flag = form.querySelector("input[name='typing']");
    if (flag) flag.value = "";
  });

  // Keyboard shortcuts for agents (UX 15). "?" lists them and can turn them off (kept in
  // localStorage); they never act while typing in a field or with a modifier key held.
  const SHORTCUTS = [
    ["j / k", "Next / previous incident in the queue"],
    ["Enter", "Open the incident in focus"],
    ["x", "Select or unselect the incident in focus (bulk changes)"],
    ["/", "Go to a number or search"],
    ["r", "Reply: a public comment in the composer"],
    ["i", "An internal work note in the composer"],
    ["a", "Assignment: group and assignee"],
    ["?", "This list"],
  ];
  function shortcutsOn() {
    try {
      return window.localStorage.getItem("mainspring:shortcuts") !== "off";
    } catch (e) {
      return true;
    }
  }
  function shortcutsDialog() {
    let dialog = document.getElementById("shortcuts");
    if (dialog) return dialog;
    dialog = document.createElement("dialog");
    dialog.id = "shortcuts";
    dialog.setAttribute("aria-labelledby", "shortcuts-title");
    const title = document.createElement("h2");
    title.id = "shortcuts-title";
    title.textContent = "Keyboard shortcuts";
    const table = document.createElement("table");
    const caption = document.createElement("caption");
    caption.className = "visually-hidden";
    caption.textContent = "Keys and what they do";
    table.appendChild(caption);
    SHORTCUTS.forEach(function (pair) {
      const row = table.insertRow();
      const key = document.createElement("th");
      key.scope = "row";
      const kbd = document.createElement("kbd");
      kbd.textContent = pair[0];
      key.appendChild(kbd);
      row.appendChild(key);
      row.insertCell().textContent = pair[1];
    });
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.id = "shortcuts-on";
    box.checked = shortcutsOn();
    box.addEventListener("change", function () {
      try {
        window.localStorage.setItem("mainspring:shortcuts", box.checked ? "on" : "off");
      } catch (e) {
        /* storage disabled: the choice lasts for this page */
      }
    });
    label.appendChild(box);
    label.appendChild(document.createTextNode(" Use keyboard shortcuts"));
    const close = document.createElement("button");
    close.type = "button";
    close.className = "btn";
    close.textContent = "Close";
    close.addEventListener("click", function () {
      dialog.close();
    });
    [title, table, label, close].forEach(function (el) {
      dialog.appendChild(el);
    });
    document.body.appendChild(dialog);
    return dialog;
  }
  function openShortcuts() {
    const dialog = shortcutsDialog();
    dialog.querySelector("#shortcuts-on").checked = shortcutsOn();
    if (!dialog.open) dialog.showModal();
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-shortcuts]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", openShortcuts);
    });
  });
  function queueLinks() {
    return Array.from(document.querySelectorAll("table.queue tbody tr td[data-label='Number'] a"));
  }
  function composer(kind) {
    const radio = document.querySelector("#composer input[name='kind'][value='" + kind + "']");
    const box = document.querySelector("#composer textarea[name='body']");
    if (!radio || !box) return false;
    radio.checked = true;
    box.focus();
    return true;
  }
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (
      target.closest &&
      target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true'], dialog")
    ) {
      return;
    }
    if (event.key === "?") {
      event.preventDefault();
      openShortcuts();
      return;
    }
    if (!shortcutsOn()) return;
    let done = false;
    const links = queueLinks();
    const current = links.indexOf(document.activeElement);
    if ((event.key === "j" || event.key === "k") && links.length) {
      const step = event.key === "j" ? 1 : -1;
      const next = current < 0 ? 0 : Math.min(Math.max(current + step, 0), links.length - 1);
      links[next].focus();
      links[next].scrollIntoView({ block: "nearest" });
      done = true;
    } else if (event.key === "x" && current >= 0) {
      const box = links[current].closest("tr").querySelector("input[type=checkbox]");
      if (box) box.checked = !box.checked;
      done = true;
    } else if (event.key === "/") {
      const search = document.getElementById("jump-q");
      if (search) {
        search.focus();
        done = true;
      }
    } else if (event.key === "r") {
      done = composer("comment");
    } else if (event.key === "i") {
      done = composer("work_note");
    } else if (event.key === "a") {
      const field = document.querySelector("#assign-form select, #assign-form input:not([type=hidden])");
      if (field) {
        field.focus();
        done = true;
      }
    }
    if (done) event.preventDefault();
  });

  // Timeline filter (UX 18): everything, public comments, work notes or changes. The
  // choice lasts for the browser tab and survives the page part being swapped.
  let timelineShow = "all";
  try {
    timelineShow = window.sessionStorage.getItem("mainspring:timeline") || "all";
  } catch (e) {
    timelineShow = "all";
  }
  function applyTimelineFilter(root) {
    const bar = (root.querySelector ? root : document).querySelector("[data-timeline-filter]");
    const list = document.querySelector("ol.timeline");
    if (!bar || !list) return;
    bar.hidden = false;
    list.dataset.show = timelineShow;
    bar.querySelectorAll("button[data-show]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.dataset.show === timelineShow));
    });
    const items = Array.from(list.children);
    const visible = items.filter(function (li) {
      return getComputedStyle(li).display !== "none";
    }).length;
    const count = bar.querySelector("[data-timeline-count]");
    if (count) {
      count.textContent = timelineShow === "all" ? "" : visible + " of " + items.length + " shown";
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    applyTimelineFilter(document);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    applyTimelineFilter(event.target || document);
  });
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-timeline-filter] button");
    if (!button) return;
    timelineShow = button.dataset.show;
    try {
      window.sessionStorage.setItem("mainspring:timeline", timelineShow);
    } catch (e) {
      /* storage disabled: the choice lasts for this page */
    }
    applyTimelineFilter(document);
  });

  // @mentions (UX 17): "@" and a few letters in the composer suggest agents; pick one
  // with the arrow keys and Enter (or a click) to write "@username ".
  let mentionTimer = null;
  let mentionSeq = 0;
  function mentionToken(box) {
    const before = box.value.slice(0, box.selectionStart);
    const match = /(^|\s)@([\w.+-]{1,30})$/.exec(before);
    return match ? match[2] : null;
  }
  function closeMentions() {
    const panel = document.getElementById("mention-suggestions");
    if (panel) panel.hidden = true;
  }
  function showMentions(results) {
    const panel = document.getElementById("mention-suggestions");
    if (!panel) return;
    const list = panel.querySelector("[data-mention-list]");
    list.textContent = "";
    results.forEach(function (person) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "linklike";
      button.dataset.mention = person.username;
      button.textContent = person.name + " (@" + person.username + ")";
      item.appendChild(button);
      list.appendChild(item);
    });
    panel.querySelector("[data-mention-status]").textContent = results.length
      ? results.length + (results.length === 1 ? " person matches" : " people match") +
        ": press the down arrow to choose."
      : "Nobody matches.";
    panel.hidden = false;
  }
  function pickMention(username) {
    const box = document.querySelector("#composer textarea[name='body']");
    if (!box) return;
    const caret = box.selectionStart;
    const before = box.value.slice(0, caret).replace(/@([\w.+-]{0,30})$/, "@" + username + " ");
    box.value = before + box.value.slice(caret);
    box.setSelectionRange(before.length, before.length);
    box.dispatchEvent(new Event("input", { bubbles: true }));
    closeMentions();
    box.focus();
  }
  document.addEventListener("input", function (event) {
    const box = event.target;
    if (!box.matches || !box.matches("#composer textarea[name='body']")) return;
    const panel = document.getElementById("mention-suggestions");
    if (!panel) return;
    const token = mentionToken(box);
    window.clearTimeout(mentionTimer);
    if (!token) {
      closeMentions();
      return;
    }
    const seq = ++mentionSeq;
    mentionTimer = window.setTimeout(function () {
      fetch(panel.dataset.url + "?q=" + encodeURIComponent(token), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          return response.ok ? response.json() : { results: [] };
        })
        .then(function (data) {
          if (seq === mentionSeq) showMentions(data.results || []);
        })
        .catch(closeMentions);
    }, 150);
  });
  document.addEventListener("keydown", function (event) {
    const panel = document.getElementById("mention-suggestions");
    if (!panel || panel.hidden) return;
    const buttons = Array.from(panel.querySelectorAll("button[data-mention]"));
    const at = buttons.indexOf(document.activeElement);
    const inBox = event.target.matches && event.target.matches("#composer textarea[name='body']");
    if (event.key === "Escape" && (inBox || at >= 0)) {
      closeMentions();
      document.querySelector("#composer textarea[name='body']").focus();
      event.preventDefault();
    } else if (event.key === "ArrowDown" && buttons.length && (inBox || at >= 0)) {
      buttons[Math.min(at + 1, buttons.length - 1)].focus();
      event.preventDefault();
    } else if (event.key === "ArrowUp" && at >= 0) {
      if (at === 0) document.querySelector("#composer textarea[name='body']").focus();
      else buttons[at - 1].focus();
      event.preventDefault();
    }
  });
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("button[data-mention]");
    if (button) pickMention(button.dataset.mention);
  });
})();
