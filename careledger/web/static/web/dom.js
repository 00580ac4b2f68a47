// Elements are built, never parsed from strings: no text the server sends becomes markup.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(element, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** h("p", {class: "x"}, "text", h("b", {}, "bold")) */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** The same for SVG elements. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** A page render claims the element it draws in when it starts; it draws only while
 * no later render has claimed it (`current()`), so a slow answer never overwrites the
 * page the user has since gone to. */
export function claim(element) {
  const mine = (element.claims = (element.claims || 0) + 1);
  return () => element.claims === mine;
}

export function replace(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

let ids = 0;
/** A fresh id for label/aria references. */
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** Tell screen-reader users what just changed. */
export function announce(text) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  setTimeout(() => { region.textContent = text; }, 50);
}
