// brokerjobs dashboard: confirmations and the POSTs of replay and purge.
// No framework, nothing fetched from elsewhere. Text from the server is only ever set
// with textContent, so a hostile dead letter cannot inject markup through this script.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const status = document.getElementById("status");

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  const flash = sessionStorage.getItem("brokerjobs-flash");
  if (flash) {
    sessionStorage.removeItem("brokerjobs-flash");
    say(flash, false);
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify(body),
    });
    let data = {};
    try {
      data = await response.json();
    } catch (_) {
      // not JSON: keep the status text
    }
    if (!response.ok) {
      throw new Error(data.error || response.status + " " + response.statusText);
    }
    return data;
  }

  function done(text, back) {
    sessionStorage.setItem("brokerjobs-flash", text);
    if (back) {
      window.location.assign(back);
    } else {
      window.location.reload();
    }
  }

  // Opens a <dialog>, resolves true when its confirm button closed it.
  function ask(dialog, message, onOpen) {
    dialog.querySelector("[data-message]").textContent = message;
    if (onOpen) onOpen();
    return new Promise(function (resolve) {
      dialog.addEventListener(
        "close",
        function () {
          resolve(dialog.returnValue === "confirm");
        },
        { once: true }
      );
      dialog.returnValue = "";
      dialog.showModal();
    });
  }

  const actions = document.querySelector(".actions[data-queue]");
  if (!actions) return;
  const queue = actions.dataset.queue;
  const base = "/api/queues/" + encodeURIComponent(queue) + "/dead-letters";
  const replayDialog = document.getElementById("confirm-replay");
  const purgeDialog = document.getElementById("confirm-purge");
  const selectedButton = actions.querySelector('[data-replay="selected"]');

  function selectedIds() {
    return Array.from(document.querySelectorAll("input[data-select]:checked")).map(function (box) {
      return box.value;
    });
  }

  function refreshSelection() {
    if (selectedButton) {
      const count = selectedIds().length;
      selectedButton.disabled = count === 0;
      selectedButton.textContent = count ? "Replay selected (" + count + ")" : "Replay selected";
    }
  }

  document.addEventListener("change", function (event) {
    const target = event.target;
    if (target.matches("input[data-select-all]")) {
      document.querySelectorAll("input[data-select]").forEach(function (box) {
        box.checked = target.checked;
      });
    }
    if (target.matches("input[data-select], input[data-select-all]")) refreshSelection();
  });

  async function replay(button) {
    const kind = button.dataset.replay;
    let body;
    let message;
    if (kind === "one") {
      body = { ids: [button.dataset.id] };
      message = "Replay dead letter " + button.dataset.id + " to " + queue + "?";
    } else if (kind === "selected") {
      body = { ids: selectedIds() };
      message = "Replay " + body.ids.length + " selected dead letters to " + queue + "?";
    } else {
      body = { all: true };
      if (button.dataset.job) body.job = button.dataset.job;
      const count = button.dataset.count ? button.dataset.count + " " : "";
      message =
        "Replay all " + count + "dead letters" +
        (button.dataset.job ? " of " + button.dataset.job : "") + " to " + queue + "?";
    }
    if (!(await ask(replayDialog, message))) return;
    try {
      const result = await post(base + "/replay", body);
      done("replayed " + result.replayed + " dead letters to " + queue, button.dataset.back);
    } catch (error) {
      say("replay failed: " + error.message, true);
    }
  }

  async function purge() {
    const typed = purgeDialog.querySelector("[data-typed]");
    const confirm = purgeDialog.querySelector("[data-confirm]");
    const count = actions.querySelector("[data-purge]").dataset.count;
    const sync = function () {
      confirm.disabled = typed.value !== queue;
    };
    typed.addEventListener("input", sync);
    const yes = await ask(
      purgeDialog,
      "Delete all " + count + " dead letters of " + queue + " for good? This cannot be undone.",
      function () {
        typed.value = "";
        sync();
      }
    );
    typed.removeEventListener("input", sync);
    if (!yes || typed.value !== queue) return;
    try {
      const result = await post(base + "/purge", { confirm: typed.value });
      done("deleted " + result.deleted + " dead letters from " + queue);
    } catch (error) {
      say("purge failed: " + error.message, true);
    }
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-replay], button[data-purge]");
    if (!button || button.disabled) return;
    if (button.hasAttribute("data-purge")) {
      purge();
    } else {
      replay(button);
    }
  });
})();
