// What the server says about each kind of event: its label in the clinic's words, the
// timeline filter's groups, and the lines of detail to show. Loaded once, before the page
// draws anything: the page names no kind of event itself.

let loaded = null;

export async function loadCatalogue() {
  const response = await fetch("/app/events.json", { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`the server did not describe its events (${response.status})`);
  loaded = await response.json();
}

function entry(kind) {
  return (loaded && loaded.events[kind]) || null;
}

export function kindLabel(kind) {
  const known = entry(kind);
  return known ? known.label : "Other entry";
}

/** The timeline filter's groups: `{ id, label, kinds }`. */
export function kindGroups() {
  return loaded ? loaded.groups : [];
}

/** Events whose clinic is where the patient was sent, not where anything happened. */
export function referring(kind) {
  const known = entry(kind);
  return Boolean(known && known.referring);
}

/** The detail lines of a kind: `{ term, format, fields, unit?, termField? }`. */
export function detailLines(kind) {
  const known = entry(kind);
  return known ? known.details : [];
}

/** The kind the page asks for by role (`registration`). */
export function namedKind(role) {
  return loaded.named[role];
}

/** A figure of the domain's deadlines (`certificationMaxDays`, ...), as the server has it. */
export function rule(name) {
  return loaded.rules[name];
}
