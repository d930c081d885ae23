// The live progress of an issue's digests on its admin page: polls the delivery counts every two seconds
// until the fan-out is done and nothing is pending.
(function () {
  "use strict";
  const box = document.getElementById("delivery-progress");
  if (!box) {
    return;
  }
  const waiting = box.querySelector("[data-fanout-waiting]");
  const counts = box.querySelector("[data-counts]");

  function show(progress) {
    for (const name of ["sent", "pending", "failed", "skipped", "total"]) {
      box.querySelector(`[data-count="${name}"]`).textContent = progress[name].toLocaleString();
    }
    waiting.hidden = progress.fanout_done;
    counts.hidden = !progress.fanout_done;
    box.dataset.done = progress.fanout_done && progress.pending === 0 ? "true" : "false";
  }

  function poll() {
    fetch(box.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((progress) => {
        show(progress);
        if (box.dataset.done !== "true") {
          window.setTimeout(poll, 2000);
        }
      })
      .catch(() => window.setTimeout(poll, 5000));
  }

  poll();
})();
