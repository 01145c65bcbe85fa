// A tiny element builder: h("button", {class: "x", onclick: f}, "Label").
// Keys that are element properties (value, checked, disabled, hidden...) are set
// as properties; "on*" functions become listeners; the rest are attributes.

const PROPERTIES = new Set(["value", "checked", "disabled", "hidden", "selected", "open", "required"]);

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (PROPERTIES.has(key)) {
      el[key] = value;
    } else if (key === "class") {
      el.className = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replace all children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A <select> with [value, label] options. */
export function select(props, options, current) {
  return h(
    "select",
    props,
    options.map(([value, label]) => h("option", { value, selected: value === current }, label)),
  );
}

/** Visually hidden text, for screen readers. */
export function srOnly(text) {
  return h("span", { class: "sr-only" }, text);
}
