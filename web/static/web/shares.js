// The share table editor and the CSV import of the "Contributors and shares" step, enhanced:
// rows are added and removed in place, the total is kept up to date as you type, and a CSV file
// is summed before it is sent. Without this script the page still works (blank rows are offered,
// a checkbox removes a row, the server computes and checks everything); the server's checks are
// the rules, this only helps to get them right the first time.
(function () {
  "use strict";

  // "12.5", "12,50", "12 %" -> 1250 hundredths; null when not a number the server would take.
  function hundredths(text) {
    const match = /^\s*(\d{1,3})(?:[.,](\d{1,2}))?\s*%?\s*$/.exec(text);
    if (!match) return null;
    return Number(match[1]) * 100 + Number((match[2] || "").padEnd(2, "0"));
  }

  function wholeNumber(text) {
    const match = /^\s*(\d{1,10})\s*$/.exec(text);
    return match ? Number(match[1]) : null;
  }

  function percentText(points) {
    const sign = points < 0 ? "-" : "";
    points = Math.abs(points);
    return sign + Math.floor(points / 100) + "." + String(points % 100).padStart(2, "0");
  }

  // The sentence under a table: its total and what is left to reach 100 %.
  function describe(basis, amounts) {
    const filled = amounts.filter((a) => a.trim() !== "");
    const parse = basis === "percentage" ? hundredths : wholeNumber;
    const values = filled.map(parse);
    const bad = values.filter((v) => v === null).length;
    const total = values.reduce((sum, v) => sum + (v || 0), 0);
    const lines = filled.length.toLocaleString("en") + " share" + (filled.length === 1 ? "" : "s");
    const notNumbers = bad ? " " + bad + " of them " + (bad === 1 ? "is" : "are") + " not a valid " +
      (basis === "percentage" ? "percentage (up to 2 decimals)." : "whole number.") : "";
    if (basis !== "percentage") {
      return {ok: filled.length > 0 && !bad && total > 0,
        text: lines + ", total weight " + total.toLocaleString("en") + "." + notNumbers};
    }
    let state;
    if (total === 10000) state = "Adds up to 100 %: ready to save.";
    else if (total < 10000) state = percentText(10000 - total) + " % left to share out.";
    else state = percentText(total - 10000) + " % too much.";
    return {ok: total === 10000 && !bad,
      text: lines + ", total " + percentText(total) + " %. " + state + notNumbers};
  }

  function show(output, result) {
    output.textContent = result.text;
    output.classList.toggle("total-ok", result.ok);
    output.classList.toggle("total-off", !result.ok);
  }

  function setUpEditor(form) {
    const rows = form.querySelector("[data-rows]");
    const template = form.querySelector("template[data-row-template]");
    const addButton = form.querySelector("[data-add-row]");
    const output = form.querySelector("[data-total]");
    const totalForms = form.querySelector('input[name="rows-TOTAL_FORMS"]');
    const maxRows = Number(form.dataset.maxRows);
    const hint = form.querySelector(".no-js-hint");
    if (hint) hint.hidden = true;

    function basis() {
      const picked = form.querySelector('input[name="table-basis"]:checked');
      return picked ? picked.value : "percentage";
    }

    function liveRows() {
      return Array.from(rows.querySelectorAll("[data-row]")).filter((row) => !row.hidden);
    }

    function update() {
      const amounts = [form.querySelector("[data-organization]").value];
      liveRows().forEach((row) => amounts.push(row.querySelector("[data-amount]").value));
      show(output, describe(basis(), amounts));
      const unit = basis() === "percentage" ? "percent" : "weight";
      form.querySelectorAll("[data-unit]").forEach((el) => { el.textContent = unit; });
      form.querySelectorAll("[data-amount-heading]").forEach((el) => {
        el.textContent = unit.charAt(0).toUpperCase() + unit.slice(1);
      });
      addButton.hidden = Number(totalForms.value) >= maxRows;
    }

    // A removed row is hidden and its "remove" box ticked, so the server drops it.
    function enhanceRow(row) {
      const box = row.querySelector("[data-remove]");
      const label = row.querySelector("[data-remove-label]");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary outline remove-button";
      button.textContent = "Remove";
      const email = row.querySelector("[data-email]");
      const name = () => {
        button.setAttribute("aria-label", "Remove " + (email.value.trim() || "this row"));
      };
      name();
      email.addEventListener("input", name);
      label.hidden = true;
      label.parentNode.appendChild(button);
      button.addEventListener("click", () => {
        box.checked = true;
        const next = liveRows().find((r) => r !== row &&
          (row.compareDocumentPosition(r) & Node.DOCUMENT_POSITION_FOLLOWING));
        row.hidden = true;
        update();
        (next ? next.querySelector("[data-email]") : addButton).focus();
      });
      if (box.checked) row.hidden = true;
    }

    rows.querySelectorAll("[data-row]").forEach(enhanceRow);
    addButton.hidden = false;
    addButton.addEventListener("click", () => {
      const index = Number(totalForms.value);
      if (index >= maxRows) return;
      const html = template.innerHTML.replace(/__prefix__/g, String(index))
        .replace(/__number__/g, String(index + 1));
      const holder = document.createElement("tbody");
      holder.innerHTML = html.trim();
      const row = holder.querySelector("[data-row]");
      rows.appendChild(row);
      totalForms.value = String(index + 1);
      enhanceRow(row);
      update();
      row.querySelector("[data-email]").focus();
    });
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
  }

  // RFC 4180 records; enough to sum a file before it is sent (the server reads it properly).
  function records(text, delimiter) {
    const out = [];
    let row = [], cell = "", quoted = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
        else if (c === '"') quoted = false;
        else cell += c;
      } else if (c === '"') quoted = true;
      else if (c === delimiter) { row.push(cell); cell = ""; }
      else if (c === "\n" || c === "\r") {
        if (c === "\r" && text[i + 1] === "\n") i++;
        row.push(cell); out.push(row); row = []; cell = "";
      } else cell += c;
    }
    if (cell !== "" || row.length) { row.push(cell); out.push(row); }
    return out.filter((r) => r.some((value) => value.trim() !== ""));
  }

  function setUpImport(form) {
    const input = form.querySelector('input[type="file"]');
    const own = form.querySelector('input[name="csv-organization_amount"]');
    const output = form.querySelector("[data-import-total]");
    let file = null;

    function summarise() {
      if (!file) { output.textContent = ""; return; }
      const text = file.replace(/^\ufeff/, "");
      const first = text.split(/\r?\n/, 1)[0] || "";
      const delimiter = [",", ";", "\t"].map((d) => [d, first.split(d).length])
        .sort((a, b) => b[1] - a[1])[0][0];
      const all = records(text, delimiter);
      const header = (all.shift() || []).map((h) => h.trim().toLowerCase());
      let column = header.findIndex((h) => h === "percent" || h === "percentage" || h === "%");
      let basis = "percentage";
      if (column < 0) { column = header.indexOf("weight"); basis = "weight"; }
      if (column < 0) {
        output.textContent = "The first line should name the columns email, name and percent (or weight).";
        output.classList.add("total-off");
        return;
      }
      const amounts = all.map((r) => r[column] || "");
      const result = describe(basis, [own.value, ...amounts]);
      show(output, {ok: result.ok,
        text: "In this file: " + all.length.toLocaleString("en") + " contributor" +
          (all.length === 1 ? "" : "s") + ". With your organisation's share: " + result.text});
    }

    input.addEventListener("change", () => {
      file = null;
      const picked = input.files && input.files[0];
      if (!picked) { summarise(); return; }
      const reader = new FileReader();
      reader.onload = () => { file = String(reader.result); summarise(); };
      reader.readAsText(picked);
    });
    own.addEventListener("input", summarise);
  }

  document.querySelectorAll("[data-shares-editor]").forEach(setUpEditor);
  document.querySelectorAll("[data-shares-import]").forEach(setUpImport);
  // After a refused save, take the reader to what went wrong (the import is far down the page).
  const problems = document.querySelector("#editor-errors, #import-errors");
  if (problems) problems.focus();
})();
