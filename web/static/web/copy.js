// "Copy" buttons: <button type="button" data-copy="#field-id" data-copy-status="#status-id">.
// The outcome is written to the status element (a live region, so screen readers hear it) and on
// the button. Without JavaScript, or when the clipboard is refused, the field is still selectable.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const field = document.querySelector(button.dataset.copy);
  if (!field) return;
  const status = button.dataset.copyStatus ? document.querySelector(button.dataset.copyStatus) : null;
  field.select();
  let copied = false;
  try {
    await navigator.clipboard.writeText(field.value);
    copied = true;
  } catch {
    // No async clipboard (plain http on another host, or permission refused): the old way.
    try {
      field.focus();
      field.select();
      copied = document.execCommand("copy");
    } catch {
      copied = false;
    }
    button.focus();
  }
  button.textContent = copied ? "Copied" : "Copy";
  if (status) {
    status.textContent = copied
      ? "Copied to the clipboard."
      : "Could not copy to the clipboard: select the text and copy it yourself.";
  }
});
