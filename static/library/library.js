// Facet counts and the map load apart from the list (they are cached, and slower under a broad keyword).
document.addEventListener("DOMContentLoaded", function () {
  var box = document.getElementById("facets");
  if (!box || !box.dataset.src) return;
  fetch(box.dataset.src, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
    .then(function (response) { return response.ok ? response.text() : ""; })
    .then(function (html) { if (html) { box.innerHTML = html; box.dataset.loaded = "1"; } });
});
