// The entry change form (policies/admin.py, issue 15): a live preview of the summary's **bold** markup, and
// one-click apply of suggestions (建议主题; any button[data-apply-to] with data-choices) into an autocomplete.
// A static file, no inline script: the Content-Security-Policy allows scripts from 'self' only.
(function () {
  "use strict";

  // **bold** → <strong>, built as DOM nodes from text (never innerHTML), so nothing typed is run as markup.
  function renderMarkup(target, text) {
    target.textContent = "";
    text.split(/(\*\*[^*]+\*\*)/).forEach(function (part) {
      if (part.length > 4 && part.slice(0, 2) === "**" && part.slice(-2) === "**") {
        var strong = document.createElement("strong");
        strong.textContent = part.slice(2, -2);
        target.appendChild(strong);
      } else if (part) {
        target.appendChild(document.createTextNode(part));
      }
    });
  }

  function setUpPreview(textarea) {
    var preview = document.createElement("div");
    preview.className = "dgd-summary-preview";
    preview.setAttribute("aria-live", "polite");
    preview.setAttribute("data-preview-of", textarea.id);
    textarea.insertAdjacentElement("afterend", preview);
    var update = function () { renderMarkup(preview, textarea.value); };
    textarea.addEventListener("input", update);
    update();
  }

  function applyChoices(button) {
    var select = document.getElementById("id_" + button.getAttribute("data-apply-to"));
    if (!select) {
      return;
    }
    var choices = JSON.parse(button.getAttribute("data-choices") || "[]");
    choices.forEach(function (choice) {
      var value = String(choice.id);
      var option = Array.prototype.find.call(select.options, function (o) { return o.value === value; });
      if (option) {
        option.selected = true;
      } else {
        select.appendChild(new Option(choice.text, value, true, true));
      }
    });
    // The autocomplete (select2) redraws from the <select> on its change event, which it hears through jQuery.
    if (window.django && window.django.jQuery) {
      window.django.jQuery(select).trigger("change");
    } else {
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }
    button.disabled = true;
    button.setAttribute("aria-pressed", "true");
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-markup-preview]").forEach(setUpPreview);
    document.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-apply-to]");
      if (button) {
        event.preventDefault();
        applyChoices(button);
      }
    });
  });
})();
