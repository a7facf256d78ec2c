// Ulak's pages work without this file; it only makes them nicer to use.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // A form posts once: a second click while the first answer is on its way does nothing.
  for (const form of document.querySelectorAll("form[method=post]")) {
    form.addEventListener("submit", () => {
      for (const b of form.querySelectorAll("button[type=submit]")) {
        setTimeout(() => { b.disabled = true; }, 0);
      }
    });
  }
});
