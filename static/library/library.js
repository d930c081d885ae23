// The filter panel starts closed on a narrow screen (its chips show what is chosen), open on a wide one.
// Facet counts and the map load apart from the list (they are cached, and slower under a broad keyword).
document.addEventListener("DOMContentLoaded", function () {
  var panel = document.getElementById("filter-panel");
  if (panel && window.matchMedia("(max-width: 48rem)").matches) panel.removeAttribute("open");
  var box = document.getElementById("facets");
  if (!box || !box.dataset.src) return;
  fetch(box.dataset.src, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
    .then(function (response) { return response.ok ? response.text() : ""; })
    .then(function (html) { if (html) { box.innerHTML = html; box.dataset.loaded = "1"; } });
});
