// Modal dialogs on the native <dialog> element: it traps focus, closes on
// Escape and makes the page behind it inert. Server errors stay inside the
// dialog (role=alert) so the user can fix the input and try again.

import { fill, h } from "../dom.js";

let counter = 0;

/**
 * Open a form dialog. `onSubmit(values, form)` may return a promise; if it
 * throws, its message is shown in the dialog and the dialog stays open.
 * Resolves with onSubmit's result, or null when cancelled.
 */
export function openDialog({
  title,
  testid = "dialog",
  body = [],
  submitLabel = "Save",
  danger = false,
  cancellable = true,
  wide = false,
  onSubmit,
}) {
  const opener = document.activeElement;
  const openerKey = opener?.dataset?.focusKey;
  const titleId = `dialog-title-${++counter}`;
  const error = h("p", { class: "dialog-error", role: "alert", "data-testid": "dialog-error", hidden: true });
  const submit = h(
    "button",
    { type: "submit", class: danger ? "button danger" : "button primary", "data-testid": "dialog-submit" },
    submitLabel,
  );
  const cancel = cancellable
    ? h("button", { type: "button", class: "button", "data-testid": "dialog-cancel" }, "Cancel")
    : null;
  const form = h(
    "form",
    { class: "dialog-form", novalidate: false },
    h("h2", { id: titleId }, title),
    body,
    error,
    h("div", { class: "dialog-actions" }, cancel, submit),
  );
  const dialog = h("dialog", { class: wide ? "dialog wide" : "dialog", "aria-labelledby": titleId, "data-testid": testid }, form);
  document.body.append(dialog);
  dialog.showModal();
  const first = form.querySelector("[autofocus], input:not([type=hidden]), select, textarea");
  (first ?? submit).focus();

  return new Promise((resolve) => {
    let busy = false;
    const close = (result) => {
      dialog.close();
      dialog.remove();
      restoreFocus(opener, openerKey);
      resolve(result);
    };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy) return;
      busy = true;
      submit.disabled = true;
      error.hidden = true;
      for (const invalid of form.querySelectorAll("[aria-invalid]")) invalid.removeAttribute("aria-invalid");
      try {
        const result = await onSubmit(Object.fromEntries(new FormData(form)), form);
        close(result ?? true);
      } catch (err) {
        showError(error, err);
        markInvalid(form, err.details?.field);
        busy = false;
        submit.disabled = false;
      }
    });
    cancel?.addEventListener("click", () => close(null));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      if (cancellable && !busy) close(null);
    });
  });
}

/** A yes/no question whose action runs inside the dialog (errors shown there). */
export function confirmDialog({ title, message, confirmLabel, onConfirm, testid = "confirm-dialog" }) {
  return openDialog({
    title,
    testid,
    body: [h("p", {}, message)],
    submitLabel: confirmLabel,
    danger: true,
    onSubmit: onConfirm,
  });
}

/**
 * The server's message and code (or any error's message) in `el`, shown, with
 * `err.explanation` under them when the UI could say it in the user's words.
 */
export function showError(el, err) {
  fill(
    el,
    h("strong", {}, err.message || String(err)),
    err.code ? h("span", { class: "error-code" }, ` ${err.code}`) : null,
    err.explanation ? h("span", { class: "error-explanation" }, err.explanation) : null,
  );
  el.hidden = false;
}

/**
 * Mark and focus the control the server named (`details.field`): the name of a
 * form control, or a path whose last part is one (`permissions.allow[1]` is the
 * control named `allow`, `worktreeInclude[0]` the one named `worktreeInclude`).
 */
function markInvalid(form, path) {
  if (typeof path !== "string") return;
  const name = path.split(".").pop().replace(/\[\d+\]$/, "");
  const control = form.elements.namedItem(name);
  if (!(control instanceof HTMLElement)) return; // none, or a group of checkboxes
  control.setAttribute("aria-invalid", "true");
  control.focus();
}

function restoreFocus(opener, key) {
  if (opener?.isConnected) {
    opener.focus();
    return;
  }
  const replacement = key && document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
  replacement?.focus();
}

// -- form fields ------------------------------------------------------------

let fieldCounter = 0;

function field(labelText, control, hint) {
  const id = `field-${++fieldCounter}`;
  control.id = id;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, labelText),
    control,
    hint ? h("p", { class: "hint" }, hint) : null,
  );
}

export function textField(labelText, name, { value = "", required = false, placeholder, hint, testid } = {}) {
  const input = h("input", { type: "text", name, value, required, placeholder, "data-testid": testid, autocomplete: "off" });
  return field(labelText, input, hint);
}

/** A number the server checks (no min, max or step here: its rules stay in one place). */
export function numberField(labelText, name, { value = "", hint, testid } = {}) {
  const input = h("input", {
    type: "number",
    name,
    value: String(value),
    step: "any",
    required: true,
    inputmode: "numeric",
    "data-testid": testid,
  });
  return field(labelText, input, hint);
}

export function textArea(labelText, name, { value = "", rows = 4, hint, testid } = {}) {
  const area = h("textarea", { name, rows, "data-testid": testid });
  area.value = value;
  return field(labelText, area, hint);
}

export function selectField(labelText, name, options, { value, hint, testid } = {}) {
  const control = h(
    "select",
    { name, "data-testid": testid },
    options.map(([v, l]) => h("option", { value: v, selected: v === value }, l)),
  );
  return field(labelText, control, hint);
}

/** One checkbox with its label and an optional hint under it. Read it from the form (`checked`). */
export function checkboxField(labelText, name, { checked = false, hint, testid } = {}) {
  return h(
    "label",
    { class: "checkbox checkbox-field" },
    h("input", { type: "checkbox", name, checked, "data-testid": testid }),
    h("span", { class: "checkbox-text" }, h("span", {}, labelText), hint ? h("small", {}, hint) : null),
  );
}

/** A group of checkboxes sharing `name`; FormData keeps only the last, so read them from the form. */
export function checkboxGroup(legend, name, options, checked = [], { testid, hint, empty, scroll = false } = {}) {
  return h(
    "fieldset",
    { class: scroll ? "field checkbox-group scroll" : "field checkbox-group", "data-testid": testid },
    h("legend", {}, legend),
    hint ? h("p", { class: "hint" }, hint) : null,
    options.length || !empty ? null : h("p", { class: "hint" }, empty),
    options.map(([value, text, description]) =>
      h(
        "label",
        { class: "checkbox" },
        h("input", { type: "checkbox", name, value, checked: checked.includes(value) }),
        h("span", { class: "checkbox-text" }, h("span", {}, text), description ? h("small", {}, description) : null),
      ),
    ),
  );
}
