// bevilling: a few lines of progressive enhancement. Every page works without it.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Licence search: filter the list as the inspector types (the Søk button does it on the server).
  const search = document.querySelector("[data-filter-target]");
  if (search) {
    const list = document.getElementById(search.dataset.filterTarget);
    const count = document.getElementById(search.dataset.filterCount);
    const options = list ? Array.from(list.querySelectorAll("[data-search]")) : [];
    const filter = () => {
      const words = search.value.toLocaleLowerCase("nb").split(/\s+/).filter(Boolean);
      let shown = 0;
      for (const option of options) {
        const checked = option.querySelector("input:checked");
        const hit = words.every((w) => option.dataset.search.includes(w));
        option.hidden = !(hit || checked);
        if (!option.hidden) shown += 1;
      }
      if (count) count.textContent = String(shown);
    };
    search.addEventListener("input", filter);
    search.form?.addEventListener("submit", (event) => { event.preventDefault(); filter(); });
    filter();
  }

  // The kind of control follows the licence picked (salgsbevilling: salg; else skjenking).
  const form = document.querySelector("form[data-control-form]");
  if (form) {
    const place = form.querySelector("#place");
    const setKind = (kind) => {
      const radio = form.querySelector(`input[name="kind"][value="${kind}"]`);
      if (radio) radio.checked = true;
      if (place && !place.dataset.touched) place.value = place.dataset[kind] || place.value;
    };
    place?.addEventListener("input", () => { place.dataset.touched = "1"; });
    form.querySelectorAll('input[name="bevilling_id"]').forEach((radio) => {
      radio.addEventListener("change", () => setKind(radio.dataset.kind));
    });
    form.querySelectorAll('input[name="kind"]').forEach((radio) => {
      radio.addEventListener("change", () => setKind(radio.value));
    });
    const picked = form.querySelector('input[name="bevilling_id"]:checked');
    const kind = form.querySelector('input[name="kind"]:checked');
    if (picked && !kind) setKind(picked.dataset.kind);
    else if (kind) setKind(kind.value);
  }

  // A send that never got its answer (lost connection): the next visit to the form gets the
  // same entries and the same idempotency key back, so sending again stores nothing twice.
  document.querySelectorAll("[data-resume-done]").forEach((done) => {
    sessionStorage.removeItem(`bevilling:pending:${done.dataset.resumeDone}`);
  });
  document.querySelectorAll("form[data-resume]").forEach((f) => {
    const slot = `bevilling:pending:${f.dataset.resume}`;
    const notice = document.getElementById(f.dataset.resumeNotice);
    f.addEventListener("submit", () => {
      const fields = Array.from(new FormData(f)).filter(([name]) => name !== "csrf");
      sessionStorage.setItem(slot, JSON.stringify(fields));
    });
    notice?.querySelector("[data-discard]")?.addEventListener("click", () => {
      sessionStorage.removeItem(slot);
      window.location.reload();
    });
    const stored = sessionStorage.getItem(slot);
    if (!stored || f.hasAttribute("data-posted")) return;
    let fields;
    try { fields = JSON.parse(stored); } catch (error) { sessionStorage.removeItem(slot); return; }
    // Opened for another licence (a link from its page): that is a new control.
    const asked = new URLSearchParams(window.location.search).get("bevilling");
    const pending = fields.find(([name]) => name === "bevilling_id");
    if (asked && pending && pending[1] !== asked) return;
    const names = new Set(fields.map(([name]) => name));
    f.querySelectorAll("input[type=checkbox], input[type=radio]").forEach((box) => {
      if (names.has(box.name)) box.checked = false;
    });
    for (const [name, value] of fields) {
      for (const field of f.querySelectorAll(`[name="${CSS.escape(name)}"]`)) {
        if (field.type === "checkbox" || field.type === "radio") {
          if (field.value === value) field.checked = true;
        } else {
          field.value = value;
        }
      }
    }
    if (notice) notice.hidden = false;
  });

  // A double tap sends a form once; the idempotency key covers a resend after a lost connection.
  document.querySelectorAll("form[data-once]").forEach((f) => {
    f.addEventListener("submit", (event) => {
      if (f.dataset.sent) { event.preventDefault(); return; }
      f.dataset.sent = "1";
      const button = f.querySelector("button[type=submit]");
      if (button) {
        button.disabled = true;
        button.setAttribute("aria-busy", "true");
        if (button.dataset.busy) button.textContent = button.dataset.busy;
      }
    });
  });
  // Coming back to the page (back button after a failed send): allow sending again.
  window.addEventListener("pageshow", () => {
    document.querySelectorAll("form[data-once]").forEach((f) => {
      delete f.dataset.sent;
      const button = f.querySelector("button[type=submit]");
      if (button) {
        button.disabled = false;
        button.removeAttribute("aria-busy");
        if (button.dataset.label) button.textContent = button.dataset.label;
      }
    });
  });

  // The gebyr run: poll its progress until it is done, then show the result.
  const job = document.querySelector("[data-job]");
  if (job && job.dataset.state === "running") {
    const bar = job.querySelector("progress");
    const text = job.querySelector("[data-job-text]");
    const poll = async () => {
      try {
        const answer = await fetch(`/web/gebyr/jobb/${job.dataset.job}`, { credentials: "same-origin", cache: "no-store" });
        const state = await answer.json();
        if (state.total) {
          bar.max = state.total;
          bar.value = state.done;
          text.textContent = `${job.dataset.storing} ${state.done} / ${state.total}`;
        }
        if (state.state !== "running") { window.location.reload(); return; }
      } catch (error) {
        // A lost connection: keep polling.
      }
      window.setTimeout(poll, 250);
    };
    poll();
  }

  // Move focus to the error summary or the result so screen readers announce it.
  const focus = document.querySelector("[data-focus]");
  if (focus) focus.focus();
});
