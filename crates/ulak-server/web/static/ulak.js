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
  const text = document.getElementById("text");
  if (text && text.dataset.countUrl) counter(text);
  const find = document.getElementById("find");
  if (find && find.dataset.url) picker(find);
  const field = document.getElementById("field-insert");
  if (field && text) fields(field, text);
  const progress = document.getElementById("progress");
  if (progress && progress.dataset.poll && !("over" in progress.dataset)) poll(progress);
});

const byId = (id) => document.getElementById(id);
const show = (el, on) => { if (el) el.hidden = !on; };
const number = (n) => new Intl.NumberFormat(document.documentElement.lang).format(n);

// The send window: the text is counted by the server's text engine (the same count the API,
// billing and the SMPP splitter use), 150 ms after the last keystroke; the estimated cost
// follows the count and the chosen recipients.
function counter(text) {
  let timer = null;
  let asked = 0;
  let segments = Number(text.dataset.segments || 0);
  const cost = () => {
    // The template page counts a text with no recipients and no cost.
    const box = byId("cost");
    if (!box) return;
    let recipients = 0;
    for (const box of document.querySelectorAll("input[data-phones]:checked")) {
      recipients += Number(box.dataset.phones) || 0;
    }
    for (const area of document.querySelectorAll("textarea[data-pasted]")) {
      recipients += area.value.split(/[\n,;]/).filter((s) => s.trim() !== "").length;
    }
    const price = Number(box.dataset.price) || 1;
    const total = segments * recipients * price;
    byId("cost-recipients").textContent = number(recipients);
    byId("cost-value").textContent = number(total);
    show(byId("cost-over"), total > Number(box.dataset.credit));
  };
  const render = (value, c) => {
    segments = c ? c.segments : 0;
    byId("count-chars").textContent = number(c ? c.total_chars : 0);
    byId("count-segments").textContent = number(segments);
    const enc = byId("count-encoding");
    enc.textContent = c ? c.encoding_label : "–";
    enc.dataset.encoding = c ? c.encoding : "";
    byId("count-left").textContent = c ? number(c.remaining) : "–";
    show(byId("count-too-long"), Boolean(c && c.too_long));
    const hint = c && c.hint;
    show(byId("count-hint"), Boolean(hint));
    byId("hint-char").textContent = hint ? hint.char : "";
    byId("hint-code").textContent = hint ? hint.code : "";
    const replace = byId("hint-replace");
    if (replace) {
      show(replace, Boolean(hint && hint.replacement));
      byId("hint-with").textContent = hint && hint.replacement ? hint.replacement : "";
    }
    byId("counter").dataset.counted = value;
    cost();
  };
  const ask = async () => {
    const mine = ++asked;
    const value = text.value;
    if (value === "") { render(value, null); return; }
    try {
      const r = await fetch(text.dataset.countUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": text.dataset.csrf },
        body: JSON.stringify({ text: value }),
      });
      if (!r.ok) return;
      const c = await r.json();
      // An older answer arriving late must not overwrite a newer one.
      if (mine === asked) render(value, c);
    } catch (_) {
      // Offline: the count shows again with the next answer of the server.
    }
  };
  const later = () => { clearTimeout(timer); timer = setTimeout(ask, 150); };
  text.addEventListener("input", later);
  const picker = byId("template");
  if (picker) {
    picker.addEventListener("change", () => {
      const chosen = picker.selectedOptions[0];
      if (chosen && chosen.dataset.body !== undefined) {
        text.value = chosen.dataset.body;
        later();
      }
    });
  }
  const replace = byId("hint-replace");
  if (replace) {
    replace.addEventListener("click", (event) => {
      event.preventDefault();
      const from = byId("hint-char").textContent;
      const to = byId("hint-with").textContent;
      if (from !== "" && to !== "") {
        text.value = text.value.split(from).join(to);
        later();
      }
    });
  }
  for (const box of document.querySelectorAll("input[data-phones]")) {
    box.addEventListener("change", cost);
  }
  const find = byId("find");
  if (find) find.addEventListener("picked", cost);
  for (const area of document.querySelectorAll("textarea[data-pasted]")) {
    area.addEventListener("input", cost);
  }
  byId("counter").dataset.counted = text.value;
  if (text.value !== "") later();
}

// The send window's subscriber picker: the company's subscribers matching what is typed,
// 250 ms after the last keystroke; "Ekle" adds one as a checked box of the picked ones (the
// same box the no-script search adds). Names are set as text, never as markup.
function picker(find) {
  const found = byId("found");
  const picked = byId("picked-subscribers");
  let timer = null;
  let asked = 0;
  const has = (id) => picked.querySelector('input[name="subscriber"][value="' + id + '"]');
  const line = (s, control, tag) => {
    const label = document.createElement(tag || "label");
    label.className = "check";
    const muted = document.createElement("span");
    muted.className = "muted";
    muted.textContent = s.phone;
    label.append(control, " " + s.name + " ", muted);
    return label;
  };
  const add = (s) => {
    if (!has(s.id)) {
      const box = document.createElement("input");
      box.type = "checkbox";
      box.name = "subscriber";
      box.value = String(s.id);
      box.dataset.phones = "1";
      box.checked = true;
      box.addEventListener("change", () => find.dispatchEvent(new Event("picked")));
      picked.append(line(s, box));
      picked.hidden = false;
    }
    find.dispatchEvent(new Event("picked"));
  };
  const render = (items) => {
    found.replaceChildren();
    const fresh = items.filter((s) => !has(s.id));
    if (fresh.length === 0) {
      const p = document.createElement("p");
      p.className = "help";
      p.textContent = find.dataset.none;
      found.append(p);
      return;
    }
    const list = document.createElement("ul");
    list.className = "picks";
    for (const s of fresh) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = find.dataset.add;
      button.setAttribute("aria-label", find.dataset.add + ": " + s.name);
      button.addEventListener("click", () => { add(s); button.closest("li").remove(); });
      const li = document.createElement("li");
      li.append(line(s, button, "span"));
      list.append(li);
    }
    found.append(list);
  };
  const ask = async () => {
    const mine = ++asked;
    const q = find.value.trim();
    if (q === "") { found.replaceChildren(); return; }
    try {
      const r = await fetch(find.dataset.url + "?q=" + encodeURIComponent(q), { credentials: "same-origin" });
      if (!r.ok) return;
      const body = await r.json();
      if (mine === asked) render(body.items || []);
    } catch (_) {
      // Offline: the no-script search button still works.
    }
  };
  find.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(ask, 250); });
  // Enter searches here instead of submitting the whole form.
  find.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); clearTimeout(timer); ask(); }
  });
  const button = byId("find-button");
  if (button) {
    button.addEventListener("click", (event) => { event.preventDefault(); clearTimeout(timer); ask(); });
  }
}

// "Alanı ekle": the chosen field's placeholder at the caret of the message box (without the
// script the server appends it to the end).
function fields(button, text) {
  button.addEventListener("click", (event) => {
    event.preventDefault();
    const chosen = byId("field").selectedOptions[0];
    if (!chosen) return;
    const code = chosen.dataset.code;
    const start = text.selectionStart ?? text.value.length;
    const end = text.selectionEnd ?? start;
    text.setRangeText(code, start, end, "end");
    text.focus();
    text.dispatchEvent(new Event("input"));
  });
}

// A campaign's progress page: its figures every 2 seconds until it is over; when its state
// changes the page is loaded again, so the buttons fit the new state.
function poll(section) {
  const shown = byId("progress-state").dataset.state;
  const tick = async () => {
    try {
      const r = await fetch(section.dataset.poll, { credentials: "same-origin" });
      if (r.ok) {
        const p = await r.json();
        if (p.state !== shown) { window.location.reload(); return; }
        const bar = byId("progress-bar");
        bar.max = Math.max(p.total, 1);
        bar.value = p.done;
        bar.textContent = p.done_text + " / " + p.total_text;
        byId("progress-done").textContent = p.done_text;
        byId("progress-total").textContent = p.total_text;
        for (const row of p.rows) {
          const cell = section.querySelector('[data-count="' + row.state + '"]');
          if (cell) cell.textContent = row.text;
        }
        if (p.over) return;
      }
    } catch (_) {
      // Try again at the next tick.
    }
    setTimeout(tick, 2000);
  };
  setTimeout(tick, 2000);
}
