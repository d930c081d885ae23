// The issue page's workflow buttons submit the change form (one form). Sending back to draft needs a reason:
// the reason field is required only when that button is pressed, so 提交审核 or 批准 never trips over it.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[name=_workflow]");
    if (!button) {
      return;
    }
    document.querySelectorAll("[data-required-for]").forEach(function (input) {
      input.required = input.getAttribute("data-required-for") === button.value;
    });
  });
})();
