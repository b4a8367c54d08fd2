// SoulSpot UI helpers. Loaded with a CSP nonce; no inline scripts anywhere.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Forms that need a typed confirmation: <form data-confirm-text="restore"> with an input
  // named "confirm"; the submit button stays disabled until the text matches.
  for (const form of document.querySelectorAll("form[data-confirm-text]")) {
    const expected = form.dataset.confirmText;
    const input = form.querySelector("input[name=confirm]");
    const button = form.querySelector("button[type=submit]");
    if (!input || !button) continue;
    const sync = () => { button.disabled = input.value.trim() !== expected; };
    input.addEventListener("input", sync);
    sync();
  }
  // Buttons that ask before acting: <button data-confirm="Really?">.
  for (const el of document.querySelectorAll("[data-confirm]")) {
    el.addEventListener("click", (event) => {
      if (!window.confirm(el.dataset.confirm)) event.preventDefault();
    });
  }
});
