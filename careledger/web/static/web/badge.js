import { h } from "./dom.js";
import { STATUS } from "./format.js";

/** A status badge: colour is never the only cue (the words are there too). */
export function badge(status) {
  const known = STATUS[status] || { label: status, tone: "done" };
  return h("span", { class: `badge badge-${known.tone}`, dataset: { status } }, known.label);
}
