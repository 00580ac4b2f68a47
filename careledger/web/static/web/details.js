// What each kind of event says, as a short description list. The lines come from the
// server (catalogue.js); each names a format below and the fields it reads. Kinds with
// no lines show nothing more than their heading; every value goes in as text.

import { detailLines } from "./catalogue.js";
import { h } from "./dom.js";
import { day, when, words } from "./format.js";

function list(items) {
  const rows = items.filter(([, value]) => value !== null && value !== undefined && value !== ""
    && !(Array.isArray(value) && value.length === 0));
  if (rows.length === 0) return null;
  return h("dl", { class: "details" }, rows.map(([term, value]) => [
    h("dt", {}, term),
    h("dd", {}, Array.isArray(value) ? value.join("; ") : value),
  ]));
}

function score(value, unit) {
  return value === null || value === undefined ? null : `${value}${unit}`;
}

/** A stored body site: "left lower leg", "lumbar". */
function site(s) {
  return words(s.side ? `${s.side} ${s.region}` : s.region);
}

function sited(name, sites) {
  return sites && sites.length ? `${words(name)} on the ${sites.map(site).join(", ")}` : words(name);
}

function changes(map) {
  return Object.entries(map || {}).map(([field, value]) =>
    `${words(field)}: ${typeof value === "object" ? JSON.stringify(value) : value}`);
}

/** A field of the event's data; `soap.subjective` reads into a nested object. */
function read(data, path) {
  return path.split(".").reduce((value, key) => (value == null ? undefined : value[key]), data);
}

const FORMATS = {
  text: (v) => v,
  words: (v) => (v == null ? v : words(v)),
  day: (v) => day(v),
  when: (v) => when(v),
  list: (v) => v || [],
  words_list: (v) => (v || []).map(words),
  score: (v, _, unit) => score(v, unit),
  diagnoses: (v) => (v || []).map((x) => `${x.code} ${x.description || ""}`.trim()),
  range_of_motion: (v) => (v || []).map((r) =>
    `${r.joint} ${r.movement} ${r.degrees}° of ${r.normal_degrees}°`),
  goals: (v) => (v || []).map((g) =>
    `${g.description}: ${g.metric} ${g.baseline} → ${g.target} ${g.unit}${g.due ? ` by ${day(g.due)}` : ""}`),
  frequency: (perWeek, [weeks]) => (perWeek ? `${perWeek}× a week for ${weeks} weeks` : null),
  period: (from, [until]) => (until ? `${day(from)} to ${day(until)}` : `from ${day(from)}`),
  pain_change: (before, [after], unit) => (before !== undefined ? `${before} → ${after}${unit}` : null),
  techniques: (v) => (v || []).map((t) => `${sited(t.technique, t.sites)} ${t.minutes} min`),
  sites: (v) => (v || []).map(site),
  bytes: (v) => (v == null ? v : v < 1024 * 1024 ? `${Math.ceil(v / 1024)} KB` : `${(v / 1024 / 1024).toFixed(1)} MB`),
  planned: (v, [sites]) => (v || []).map((t) => sited(t, (sites || {})[t])),
  precautions: (v) => (v || []).map((p) => (p.site ? `${words(p.code)} (${site(p.site)})` : words(p.code))),
  units: (v) => (v !== undefined ? `${v} units` : null),
  outcomes: (v) => (v || []).map((o) => `${o.goal_id}: ${words(o.outcome)}`),
  changes: (v) => changes(v),
  permit: (v) => (v ? "Share the record" : "Do not share the record"),
};

export function details(event) {
  const data = event.data || {};
  const lines = detailLines(event.kind).map((line) => {
    const [first, ...rest] = line.fields.map((f) => read(data, f));
    const term = (line.termField && read(data, line.termField)) || line.term;
    return [term, FORMATS[line.format](first, rest, line.unit || "")];
  });
  return list(lines);
}
