// A patient's chart: progress per plan, then the shared timeline across clinics, with
// filters by clinic and kind and an "as of" moment (the record as it stood then).

import { ApiError, graphql } from "./api.js";
import { progressFigure } from "./charts.js";
import { announce, claim, h, replace, uid } from "./dom.js";
import { kindGroups, kindLabel, namedKind, referring } from "./catalogue.js";
import { day, lateBy, patientName, timeZone, when, words } from "./format.js";
import { details } from "./details.js";

const EVENT_FIELDS = `position kind occurredAt recordedAt actor clinicId practitionerId
  referralId recordId amendsRecordId data by { name profession clinics label }`;
const PAGE_SIZE = 100;

const CHART = `
query Chart($id: UUID!, $asOf: DateTime, $kinds: [String!], $clinicId: UUID,
  $registration: [String!]) {
  patient(id: $id) {
    id
    registration: timeline(kinds: $registration, first: 1) { events { data } }
    providers { id kind name profession }
    progress(asOf: $asOf) {
      referralId clinicId planId instrument
      points { occurredAt sessionId painBefore painAfter functionalScore }
      goals { goalId description metric unit baseline target due }
    }
    timeline(asOf: $asOf, kinds: $kinds, clinicId: $clinicId, first: ${PAGE_SIZE}) {
      events { ${EVENT_FIELDS} amendments { ${EVENT_FIELDS} } }
      endCursor hasNextPage
    }
  }
}`;

const MORE = `
query More($id: UUID!, $asOf: DateTime, $kinds: [String!], $clinicId: UUID, $after: String) {
  patient(id: $id) {
    timeline(asOf: $asOf, kinds: $kinds, clinicId: $clinicId, first: ${PAGE_SIZE}, after: $after) {
      events { ${EVENT_FIELDS} amendments { ${EVENT_FIELDS} } }
      endCursor hasNextPage
    }
  }
}`;

export async function renderPatient(main, viewer, patientId, filters = {}) {
  const current = claim(main);
  const variables = {
    id: patientId,
    asOf: filters.asOf || null,
    kinds: filters.group ? kindGroups().find((g) => g.id === filters.group).kinds : null,
    clinicId: filters.clinicId || null,
    registration: [namedKind("registration")],
  };
  let patient;
  try {
    patient = (await graphql(CHART, variables)).patient;
  } catch (e) {
    if (!current()) return;
    const missing = e instanceof ApiError && e.code === "NOT_FOUND";
    replace(main,
      h("p", {}, h("a", { href: "#/" }, "← Your patients and worklist")),
      h("h1", { id: "patient-title" }, missing ? "Patient not found" : "The chart could not be read"),
      h("p", { class: "error", role: "alert", id: "patient-error" }, missing
        ? "Not found: there is no patient with that id, or none shared with you."
        : `${e.message}.`));
    main.focus();
    return;
  }
  if (!current()) return;  // the user has gone to another page meanwhile
  const providers = new Map(patient.providers.map((p) => [p.id, p]));
  const registered = patient.registration.events[0];
  const name = registered ? patientName({ givenName: registered.data.given_name,
    familyName: registered.data.family_name }) : "Patient";
  const list = h("ol", { class: "timeline", id: "timeline" });
  const status = h("p", { id: "timeline-status", role: "status", "aria-live": "polite", tabindex: "-1" });
  const more = h("button", { type: "button", id: "load-more", class: "quiet" }, "Show later events");
  let cursor = patient.timeline.endCursor;
  const shown = appendEvents(list, patient.timeline.events, providers);
  more.hidden = !patient.timeline.hasNextPage;
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const { registration: _unused, ...paging } = variables;
      const page = (await graphql(MORE, { ...paging, after: cursor })).patient.timeline;
      cursor = page.endCursor;
      const added = appendEvents(list, page.events, providers);
      more.hidden = !page.hasNextPage;
      announce(`${added} more events shown.`);
    } catch (e) {
      status.textContent = `More events could not be read: ${e.message}.`;
    }
    more.disabled = false;
  });
  status.textContent = summary(shown, patient.timeline.hasNextPage, filters, providers);

  replace(main,
    h("p", {}, h("a", { href: "#/" }, "← Your patients and worklist")),
    h("h1", { id: "patient-title" }, name,
      registered ? h("span", { class: "subtitle" }, ` born ${day(registered.data.birth_date)}`) : null),
    h("section", { "aria-labelledby": "progress-title", class: "card" },
      h("h2", { id: "progress-title" }, "Progress per plan"),
      patient.progress.length === 0
        ? h("p", {}, "No assessment or session is on record", filters.asOf ? " at that moment." : " yet.")
        : h("div", { class: "plans" }, patient.progress.map((plan) =>
          progressFigure(plan, (providers.get(plan.clinicId) || {}).name)))),
    h("section", { "aria-labelledby": "timeline-title", class: "card" },
      h("h2", { id: "timeline-title" }, "Shared timeline"),
      h("p", { class: "hint" }, `In the order things happened (valid time). Times are in ${timeZone}. `,
        "A late entry shows when it was recorded; amendments stand beside what they amend."),
      filterForm(main, viewer, patientId, filters, patient.providers),
      status, list, more));
}

function summary(shown, hasMore, filters, providers) {
  const parts = [`${shown} event${shown === 1 ? "" : "s"}${hasMore ? " (more below)" : ""}`];
  if (filters.clinicId) parts.push(`at ${(providers.get(filters.clinicId) || {}).name || "one clinic"}`);
  if (filters.group) parts.push(`of kind “${kindGroups().find((g) => g.id === filters.group).label}”`);
  parts.push(filters.asOf ? `as the record stood at ${when(filters.asOf)}` : "as the record stands now");
  return `Showing ${parts.join(", ")}.`;
}

function filterForm(main, viewer, patientId, filters, providers) {
  const clinicId = uid("clinic");
  const kindId = uid("kind");
  const asOfId = uid("as-of");
  const clinic = h("select", { id: clinicId, name: "clinic" },
    h("option", { value: "" }, "All clinics"),
    providers.filter((p) => p.kind === "clinic").map((c) =>
      h("option", { value: c.id, selected: c.id === filters.clinicId }, c.name)));
  const kind = h("select", { id: kindId, name: "kind" },
    h("option", { value: "" }, "All kinds"),
    kindGroups().map((g) => h("option", { value: g.id, selected: g.id === filters.group }, g.label)));
  const asOf = h("input", { id: asOfId, name: "as-of", type: "datetime-local", step: "1",
    value: filters.asOf ? localInputValue(filters.asOf) : null, "aria-describedby": `${asOfId}-help` });
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter the timeline" },
    h("div", { class: "field" }, h("label", { for: clinicId }, "Clinic"), clinic),
    h("div", { class: "field" }, h("label", { for: kindId }, "Kind"), kind),
    h("div", { class: "field" }, h("label", { for: asOfId }, "As of"), asOf),
    h("div", { class: "actions" },
      h("button", { type: "submit" }, "Apply filters"),
      h("button", { type: "button", class: "quiet", id: "show-now" }, "Show everything, as it stands now")),
    h("small", { id: `${asOfId}-help` }, "As of: the record as it stood at that moment, "
      + "with only what had been recorded by then (a note written up later is not there yet)."));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const next = {
      clinicId: clinic.value || null,
      group: kind.value || null,
      asOf: asOf.value ? new Date(asOf.value).toISOString() : null,
    };
    await renderPatient(main, viewer, patientId, next);
    focusStatus();
  });
  form.querySelector("#show-now").addEventListener("click", async () => {
    await renderPatient(main, viewer, patientId, {});
    focusStatus();
  });
  return form;
}

/** After the filters change the list, keyboard focus stays with what changed. */
function focusStatus() {
  document.getElementById("timeline-status")?.focus();
}

/** An ISO instant as a datetime-local value in the browser's zone (seconds kept). */
function localInputValue(iso) {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:`
    + `${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Add a page of events; answers how many entries the list holds now. */
function appendEvents(list, events, providers) {
  const originals = new Set(events.filter((e) => e.recordId).map((e) => `${e.referralId}|${e.recordId}`));
  for (const event of events) {
    // An amendment whose original is on this page stands beside it, not on its own.
    if (event.amendsRecordId && originals.has(`${event.referralId}|${event.amendsRecordId}`)) continue;
    list.append(eventItem(event, providers));
  }
  return list.children.length;
}

// Who recorded it, as they were then (a practitioner renamed since keeps the old name here).
function who(event) {
  if (event.by && event.by.name) {
    const where = event.by.clinics.length ? `, ${event.by.clinics.join(", ")}` : "";
    return `${event.by.name} (${words(event.by.profession || "")}${where})`;
  }
  const role = (event.by && event.by.role) || (event.actor || "").split(":")[0];
  return role ? words(role) : "—";
}

function where(event, providers) {
  const clinic = event.clinicId && providers.get(event.clinicId);
  const clinicName = clinic ? clinic.name : null;
  if (event.data && event.data.location === "home") {
    return clinicName ? `Patient's home (visit from ${clinicName})` : "Patient's home";
  }
  return clinicName || "—";
}

function eventItem(event, providers) {
  const titleId = uid("event");
  const late = lateBy(event.occurredAt, event.recordedAt);
  const amendments = event.amendments || [];
  const clinic = event.clinicId && providers.get(event.clinicId);
  return h("li", {
    class: `event${amendments.length ? " amended" : ""}${late ? " late" : ""}`,
    dataset: { kind: event.kind, position: event.position, record: event.recordId || "",
      clinic: clinic ? clinic.name : "" },
  },
  h("article", { class: "event-body", "aria-labelledby": titleId },
    h("h3", { id: titleId }, kindLabel(event.kind),
      event.data && event.data.session_id ? h("span", { class: "record-id" }, ` ${event.data.session_id}`) : null,
      event.amendsRecordId ? h("span", { class: "record-id" }, ` concerning ${event.amendsRecordId}`) : null),
    h("p", { class: "times" },
      h("span", {}, "Happened ", h("time", { datetime: event.occurredAt }, when(event.occurredAt))),
      late ? h("span", { class: "late-note" }, "Recorded ",
        h("time", { datetime: event.recordedAt }, when(event.recordedAt)), ` (${late})`) : null),
    h("p", { class: "meta" },
      h("span", {}, h("span", { class: "label" }, "Who: "), who(event)),
      h("span", { class: "where" }, h("span", { class: "label" },
        referring(event.kind) ? "Referred to: " : "Where: "), where(event, providers))),
    details(event)),
  amendments.length
    ? h("aside", { class: "amendments", "aria-label": `Amendments of this ${kindLabel(event.kind).toLowerCase()}` },
      amendments.map((a) => amendmentCard(a, providers)))
    : null);
}

function amendmentCard(event, providers) {
  const late = lateBy(event.occurredAt, event.recordedAt);
  return h("article", { class: "amendment", dataset: { kind: event.kind, position: event.position } },
    h("h4", {}, kindLabel(event.kind)),
    h("p", { class: "times" }, "Recorded ", h("time", { datetime: event.recordedAt }, when(event.recordedAt)),
      late ? ` (happened ${when(event.occurredAt)})` : ""),
    h("p", { class: "meta" }, h("span", { class: "label" }, "Who: "), who(event)),
    details(event));
}
