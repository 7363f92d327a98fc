/*
 * Portico console: progressive enhancement only. Every page works without
 * this script. Loaded with <script src defer>; the Content-Security-Policy
 * forbids inline scripts and inline event handlers, so behaviour hangs off
 * data attributes through delegated listeners:
 *
 *   <button type="button" data-copy="#id">   copies #id's text to the clipboard
 *   <form data-confirm="…">, <button data-confirm="…">
 *                                            asks window.confirm before submitting
 *   <select data-autosubmit>                 submits its form on change
 *   <details class="menu">                   closes on Escape and outside clicks
 *   <button type="button" data-add-target>   adds an empty row to the upstream
 *                                            targets ([data-targets]) it sits in
 */
(function () {
  "use strict";

  var root = document.documentElement;
  root.classList.remove("no-js");
  root.classList.add("js");

  // ------------------------------------------------------------ copy

  // The live region next to a copy button (data-copy-status).
  function statusFor(button) {
    return button.parentNode ? button.parentNode.querySelector("[data-copy-status]") : null;
  }

  // Shows the outcome in the live region and, when copied, on the button
  // itself for a moment.
  function announce(button, message, copied) {
    var status = statusFor(button);
    if (status) {
      status.textContent = message;
    }
    if (!button.hasAttribute("data-copy-label")) {
      button.setAttribute("data-copy-label", button.textContent);
    }
    var label = button.getAttribute("data-copy-label");
    button.textContent = copied ? "Copied" : label;
    window.clearTimeout(button.porticoTimer);
    button.porticoTimer = window.setTimeout(function () {
      button.textContent = label;
      if (status) {
        status.textContent = "";
      }
    }, copied ? 2500 : 8000);
  }

  function selectText(el) {
    var selection = window.getSelection();
    if (!selection) {
      return;
    }
    var range = document.createRange();
    range.selectNodeContents(el);
    selection.removeAllRanges();
    selection.addRange(range);
  }

  // Copies through a temporary text area where the Clipboard API is
  // unavailable (plain HTTP) or refused; keeps the focus where it was.
  function fallbackCopy(text) {
    var focused = document.activeElement;
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    document.body.removeChild(area);
    if (focused && typeof focused.focus === "function") {
      focused.focus();
    }
    return ok;
  }

  function copy(button) {
    var target = null;
    try {
      target = document.querySelector(button.getAttribute("data-copy"));
    } catch (e) {
      target = null;
    }
    if (!target) {
      return;
    }
    var text = ("value" in target && target.tagName !== "BUTTON" ? target.value : target.textContent).trim();
    var copied = function () {
      announce(button, "Copied", true);
    };
    var failed = function () {
      selectText(target);
      announce(button, "Press Ctrl+C (⌘C on a Mac) to copy the selected text.", false);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(copied, function () {
        if (fallbackCopy(text)) {
          copied();
        } else {
          failed();
        }
      });
    } else if (fallbackCopy(text)) {
      copied();
    } else {
      failed();
    }
  }

  // --------------------------------------------------- target rows

  var maxTargets = 16;

  // Renumbers "…-target-3-url" style ids and "Target 3" labels of a
  // cloned row to row n (0-based).
  function renumber(row, n) {
    var fix = function (value) {
      return value.replace(/-target-\d+-/g, "-target-" + n + "-");
    };
    row.querySelectorAll("[id]").forEach(function (el) {
      el.id = fix(el.id);
    });
    row.querySelectorAll("label[for]").forEach(function (el) {
      el.setAttribute("for", fix(el.getAttribute("for")));
      el.textContent = el.textContent.replace(/Target \d+/, "Target " + (n + 1));
    });
    row.querySelectorAll("[aria-label]").forEach(function (el) {
      el.setAttribute("aria-label", el.getAttribute("aria-label").replace(/Target \d+/, "Target " + (n + 1)));
    });
  }

  // Adds an empty target row after the last one and focuses its URL.
  function addTarget(button) {
    var box = button.closest("[data-targets]");
    var rows = box ? box.querySelectorAll("[data-target-row]") : [];
    if (!rows.length || rows.length >= maxTargets) {
      return;
    }
    var last = rows[rows.length - 1];
    var row = last.cloneNode(true);
    row.querySelectorAll(".field-error").forEach(function (el) {
      el.parentNode.removeChild(el);
    });
    row.querySelectorAll(".field-invalid").forEach(function (el) {
      el.classList.remove("field-invalid");
    });
    row.querySelectorAll("input").forEach(function (input) {
      input.value = "";
      input.removeAttribute("value");
      input.removeAttribute("aria-invalid");
      input.removeAttribute("autofocus");
      var described = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (id) {
        return id && !/-error$/.test(id);
      });
      if (described.length) {
        input.setAttribute("aria-describedby", described.join(" "));
      } else {
        input.removeAttribute("aria-describedby");
      }
    });
    renumber(row, rows.length);
    last.parentNode.insertBefore(row, last.nextSibling);
    button.hidden = rows.length + 1 >= maxTargets;
    var first = row.querySelector("input");
    if (first) {
      first.focus();
    }
  }

  document.querySelectorAll("[data-targets]").forEach(function (box) {
    var button = box.querySelector("[data-add-target]");
    if (button && box.querySelectorAll("[data-target-row]").length >= maxTargets) {
      button.hidden = true;
    }
  });

  // ---------------------------------------------------------- clicks

  document.addEventListener("click", function (event) {
    var el = event.target instanceof Element ? event.target : null;
    if (!el) {
      return;
    }
    var button = el.closest("[data-copy]");
    if (button) {
      event.preventDefault();
      copy(button);
      return;
    }
    var add = el.closest("[data-add-target]");
    if (add) {
      event.preventDefault();
      addTarget(add);
      return;
    }
    // Close open menus when clicking outside them.
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(el)) {
        menu.removeAttribute("open");
      }
    });
  });

  // --------------------------------------------------------- confirm

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) {
      return;
    }
    var submitter = event.submitter;
    var message = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
      return;
    }
    // Guard against double submission: disable the buttons once the
    // browser is on its way. Re-enabled when the page is shown again
    // from the back/forward cache.
    window.setTimeout(function () {
      if (event.defaultPrevented) {
        return;
      }
      form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (b) {
        b.setAttribute("data-submitting", "");
        b.disabled = true;
      });
    }, 0);
  });

  window.addEventListener("pageshow", function () {
    document.querySelectorAll("button[data-submitting]").forEach(function (b) {
      b.removeAttribute("data-submitting");
      b.disabled = false;
    });
  });

  // ------------------------------------------------------ autosubmit

  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!(select instanceof HTMLSelectElement) || !select.hasAttribute("data-autosubmit") || !select.form) {
      return;
    }
    if (typeof select.form.requestSubmit === "function") {
      select.form.requestSubmit(); // fires "submit", so data-confirm applies
    } else {
      select.form.submit();
    }
  });

  // ----------------------------------------------------------- menus

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") {
      return;
    }
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      var summary = menu.querySelector("summary");
      if (summary && menu.contains(document.activeElement)) {
        summary.focus();
      }
    });
  });

  // Only one menu open at a time.
  document.querySelectorAll("details.menu").forEach(function (menu) {
    menu.addEventListener("toggle", function () {
      if (!menu.open) {
        return;
      }
      document.querySelectorAll("details.menu[open]").forEach(function (other) {
        if (other !== menu) {
          other.removeAttribute("open");
        }
      });
    });
  });
})();
