/* Gatehouse pages: progressive enhancement only. Every page's core action works without this
   file (shared/templates/pages/README.md). It runs under the pages' strict CSP with Trusted
   Types enforced, so it never turns a string into HTML: textContent and attributes only. */
(function () {
  "use strict";

  var live = document.getElementById("gh-live");

  // A message for screen readers in the page's live region (visually hidden, replaced by the next).
  function announce(text) {
    if (!live) return;
    var old = live.querySelector("[data-gh-announcement]");
    if (old) old.remove();
    var p = document.createElement("p");
    p.className = "gh-visually-hidden";
    p.setAttribute("data-gh-announcement", "");
    p.textContent = text;
    live.appendChild(p);
  }

  function each(selector, fn) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), fn);
  }

  // Copy buttons: <button data-gh-copy="ID" hidden> copies the text of #ID (shown only here,
  // since copying needs a script; the text itself is selectable without one).
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "gh-visually-hidden";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      area.remove();
      if (ok) resolve(); else reject(new Error("copy refused"));
    });
  }

  each("[data-gh-copy]", function (button) {
    var source = document.getElementById(button.getAttribute("data-gh-copy"));
    if (!source) return;
    var label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", function () {
      copyText(source.textContent.trim()).then(function () {
        button.textContent = "Copied";
        announce("Copied to the clipboard");
        window.setTimeout(function () { button.textContent = label; }, 2000);
      }, function () {
        var range = document.createRange();
        range.selectNodeContents(source);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        announce("Copying is not allowed here: the text is selected, copy it with your keyboard");
      });
    });
  });

  // Confirmation dialogs: a button with data-gh-dialog="ID" (which, without JavaScript, leads
  // to the confirmation page through a GET form) opens <dialog id="ID"> instead. The dialog's
  // form gets the opener's data-gh-action (the URL to post to) if it has one, and its
  // name=value as a hidden field if it has one; the question names the opener's
  // data-gh-subject, else the header cell of the opener's table row.
  each("[data-gh-dialog]", function (opener) {
    var dialog = document.getElementById(opener.getAttribute("data-gh-dialog"));
    if (!dialog || typeof dialog.showModal !== "function") return;
    opener.addEventListener("click", function (event) {
      event.preventDefault();
      var form = dialog.querySelector("form");
      if (!form) return;
      var action = opener.getAttribute("data-gh-action");
      if (action) form.setAttribute("action", action);
      var slot = form.querySelector("[data-gh-dialog-value]");
      if (opener.name) {
        if (!slot) {
          slot = document.createElement("input");
          slot.type = "hidden";
          slot.setAttribute("data-gh-dialog-value", "");
          form.appendChild(slot);
        }
        slot.name = opener.name;
        slot.value = opener.value;
      } else if (slot) {
        slot.remove();
      }
      var row = opener.closest("tr");
      var header = row && row.querySelector("th[scope='row']");
      var subject = opener.getAttribute("data-gh-subject") || (header ? header.textContent.trim() : "");
      Array.prototype.forEach.call(dialog.querySelectorAll("[data-gh-dialog-subject]"), function (el) {
        if (subject) {
          el.textContent = subject;
          el.hidden = false;
        }
      });
      dialog.ghOpener = opener;
      dialog.showModal();
    });
  });
  each("dialog.gh-dialog", function (dialog) {
    dialog.addEventListener("close", function () {
      if (dialog.ghOpener && document.contains(dialog.ghOpener)) dialog.ghOpener.focus();
    });
    // A click on the backdrop (outside the dialog's box) cancels, like Escape.
    dialog.addEventListener("click", function (event) {
      if (event.target !== dialog) return;
      var box = dialog.getBoundingClientRect();
      var inside = event.clientX >= box.left && event.clientX <= box.right && event.clientY >= box.top && event.clientY <= box.bottom;
      if (!inside) dialog.close("cancel");
    });
  });

  // Password rules: the length rule of <ul data-gh-rules-for="ID"> follows what is typed in
  // #ID (counted in characters, as the server counts them). The server's strength check
  // (zxcvbn) stays the only judge of the rest.
  each("[data-gh-rules-for]", function (list) {
    var input = document.getElementById(list.getAttribute("data-gh-rules-for"));
    var rule = list.querySelector("[data-gh-rule='length']");
    if (!input || !rule) return;
    var min = Number(rule.getAttribute("data-gh-min")) || 0;
    var max = Number(rule.getAttribute("data-gh-max")) || Infinity;
    var state = document.createElement("span");
    state.className = "gh-rules__state";
    rule.appendChild(state);
    var wasMet = null;
    function update() {
      var n = Array.from(input.value).length;
      var met = n >= min && n <= max;
      rule.setAttribute("data-met", met ? "true" : "false");
      state.textContent = n === 0 ? "" : met ? "(" + n + ", done)" : n < min ? "(" + n + ", " + (min - n) + " to go)" : "(" + n + ", too long)";
      if (wasMet !== null && met !== wasMet) announce(met ? "Password length is fine" : "Password length does not fit the rule");
      wasMet = met;
    }
    input.addEventListener("input", update);
    update();
  });

  // Tabs: one stop in the tab order (the selected tab); arrow keys, Home and End move between
  // tabs, Space follows one like Enter does.
  each("[role='tablist']", function (list) {
    var tabs = Array.prototype.slice.call(list.querySelectorAll("[role='tab']"));
    if (!tabs.length) return;
    var selected = tabs.filter(function (t) { return t.getAttribute("aria-selected") === "true"; })[0] || tabs[0];
    tabs.forEach(function (tab) { tab.setAttribute("tabindex", tab === selected ? "0" : "-1"); });
    list.addEventListener("keydown", function (event) {
      var i = tabs.indexOf(document.activeElement);
      if (i < 0) return;
      if (event.key === " ") {
        event.preventDefault();
        tabs[i].click();
        return;
      }
      var next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
      if (next === undefined) return;
      event.preventDefault();
      tabs[(next + tabs.length) % tabs.length].focus();
    });
  });

  // A form's errors: focus moves to the summary at the top, whose links lead to the fields.
  var summary = document.querySelector("[data-gh-error-summary]");
  if (summary) summary.focus();

  // Live preview: <form data-gh-live-preview> re-posts its [data-gh-preview] button (which posts
  // into the preview frame) a moment after the last edit; without this the button does it.
  each("form[data-gh-live-preview]", function (form) {
    var button = form.querySelector("[data-gh-preview]");
    if (!button || !form.requestSubmit) return;
    var timer;
    form.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { form.requestSubmit(button); }, 400);
    });
  });

  // One submission per form: a second click while the first is on its way does nothing.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    // A submission into a frame (a preview's formtarget) leaves this page where it is.
    if (form.method === "get" || (submitter && (submitter.getAttribute("formmethod") === "dialog" || submitter.hasAttribute("formtarget")))) return;
    if (form.hasAttribute("data-gh-submitting")) {
      event.preventDefault();
      return;
    }
    form.setAttribute("data-gh-submitting", "");
    window.setTimeout(function () { form.removeAttribute("data-gh-submitting"); }, 10000);
  });
})();
