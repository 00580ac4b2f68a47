// The physician's home: plans awaiting their signature (with "certify"), and their patients
// with a status badge per episode. Other roles get a box to open a patient by id.

import { ApiError, command, graphql } from "./api.js";
import { badge } from "./badge.js";
import { rule } from "./catalogue.js";
import { announce, claim, h, replace, uid } from "./dom.js";
import { day, isoDay, patientName, when, words } from "./format.js";

const WORKLIST = `
query Worklist($id: UUID!) {
  physician(id: $id) {
    patients {
      patientId givenName familyName birthDate status
      referrals { referralId clinicId clinicName discipline status planStatus certifiedUntil
                  visitsRemaining authorizationRunningOut }
    }
    awaitingCertification { referralId patientId clinicId discipline visitsUsed visitsAuthorized }
    beyondPlan { referralId sessionId patientId occurredAt what reason ageDays }
    openQuestions { referralId messageId patientId body urgent ageDays askedBy { name } }
  }
}`;

export async function renderWorklist(main, viewer, { minPosition, message } = {}) {
  const current = claim(main);
  if (viewer.role !== "physician") {
    replace(main, h("h1", {}, "Open a patient"), openPatientForm(),
      h("p", {}, "The worklist is the referring physician's; you can open a patient your clinic treats."));
    return;
  }
  let data;
  try {
    data = await graphql(WORKLIST, { id: viewer.id }, { minPosition });
  } catch (e) {
    if (!current()) return;
    replace(main, h("h1", {}, "Your patients"), h("p", { class: "error", role: "alert" },
      `The worklist could not be read: ${e.message}.`));
    return;
  }
  if (!current()) return;  // the user has gone to another page meanwhile
  const { patients, awaitingCertification, beyondPlan, openQuestions } = data.physician;
  const byReferral = new Map();
  for (const patient of patients) {
    for (const referral of patient.referrals) byReferral.set(referral.referralId, { patient, referral });
  }
  const result = h("div", { id: "certify-result", class: "result", role: "status",
    "aria-live": "polite", tabindex: "-1" }, message || "");
  replace(main,
    h("h1", {}, "Your patients and worklist"),
    h("section", { "aria-labelledby": "awaiting-title", class: "card" },
      h("h2", { id: "awaiting-title" }, "Plans awaiting your certification"),
      result,
      awaitingCertification.length === 0
        ? h("p", { id: "nothing-awaiting" }, "No plans await your certification.")
        : h("ul", { class: "awaiting", id: "awaiting-list" },
          awaitingCertification.map((entry) => awaitingItem(main, viewer, entry,
            byReferral.get(entry.referralId), result)))),
    ...(openQuestions.length === 0 ? [] : [h("section", { "aria-labelledby": "questions-title", class: "card" },
      h("h2", { id: "questions-title" }, "Questions for you"),
      h("ul", { class: "questions", id: "questions-list" },
        openQuestions.map((entry) => questionItem(main, viewer, entry, byReferral.get(entry.referralId)))))]),
    ...(beyondPlan.length === 0 ? [] : [h("section", { "aria-labelledby": "beyond-title", class: "card" },
      h("h2", { id: "beyond-title" }, "Sessions beyond the plan"),
      h("ul", { class: "beyond", id: "beyond-list" },
        beyondPlan.map((entry) => beyondItem(main, viewer, entry, byReferral.get(entry.referralId)))))]),
    h("section", { "aria-labelledby": "patients-title", class: "card" },
      h("h2", { id: "patients-title" }, "Your patients"),
      patients.length === 0
        ? h("p", {}, "No patients you referred are on record (or shared with you).")
        : patientsTable(patients)),
    h("section", { "aria-labelledby": "open-title", class: "card" },
      h("h2", { id: "open-title" }, "Open a patient by id"), openPatientForm()));
}

function patientsTable(patients) {
  return h("table", { class: "patients", id: "patients" },
    h("caption", { class: "visually-hidden" }, "Your patients, those needing you first"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Patient"), h("th", { scope: "col" }, "Born"),
      h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Episodes"))),
    h("tbody", {}, patients.map((p) => h("tr", { dataset: { patient: p.patientId } },
      h("th", { scope: "row" }, h("a", { href: `#/patient/${p.patientId}` }, patientName(p))),
      h("td", {}, day(p.birthDate)),
      h("td", {}, badge(p.status)),
      h("td", {}, h("ul", { class: "episodes" }, p.referrals.map((r) => h("li", {},
        `${r.clinicName || "A clinic"}, ${words(r.discipline)} `, badge(r.status),
        ...visitsLeft(r)))))))));
}

const OPEN = new Set(["REFERRAL_PENDING", "IN_TREATMENT", "AWAITING_CERTIFICATION",
  "CERTIFICATION_OVERDUE"]);

// Visits still to schedule, and a flag when the clinic should ask for the next
// authorization (the rule is the domain's: the server decides it).
function visitsLeft(referral) {
  if (!OPEN.has(referral.status)) return [];
  const left = referral.visitsRemaining === 1 ? "1 visit left" : `${referral.visitsRemaining} visits left`;
  return [` ${left}`, ...(referral.authorizationRunningOut
    ? [" ", h("span", { class: "flag running-out" }, "Authorization running out")] : [])];
}

function awaitingItem(main, viewer, entry, known, result) {
  const name = known ? patientName(known.patient) : "a patient";
  const clinic = (known && known.referral.clinicName) || "a clinic";
  const today = new Date();
  const until = new Date(today);
  // The longest certification the domain accepts (the physician may shorten it).
  until.setDate(until.getDate() + rule("certificationMaxDays"));
  const fromId = uid("from");
  const untilId = uid("until");
  const titleId = uid("plan");
  const from = h("input", { type: "date", id: fromId, value: isoDay(today), required: true });
  const to = h("input", { type: "date", id: untilId, value: isoDay(until), required: true });
  const button = h("button", { type: "submit" }, "Certify");
  // One key per form: a double click or a retry cannot certify twice.
  const idempotencyKey = crypto.randomUUID();
  const form = h("form", { class: "certify", "aria-labelledby": titleId },
    h("p", { id: titleId, class: "plan-title" },
      known ? h("a", { href: `#/patient/${known.patient.patientId}` }, name) : name,
      `: ${words(entry.discipline)} at ${clinic} (visits ${entry.visitsUsed} of ${entry.visitsAuthorized})`),
    h("div", { class: "fields" },
      h("label", { for: fromId }, "Certified from"), from,
      h("label", { for: untilId }, "until"), to,
      button));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    result.className = "result";
    result.textContent = `Certifying the plan for ${name}…`;
    try {
      const recorded = await command(`/referrals/${entry.referralId}/plan/certification`,
        { certified_from: from.value, certified_until: to.value }, { idempotencyKey });
      const message = `Plan certified for ${name} at ${clinic} (record version ${recorded.version}, log position ${recorded.position}).`;
      announce(message);
      await renderWorklist(main, viewer, { minPosition: recorded.position, message });
      document.getElementById("certify-result")?.focus();
    } catch (e) {
      result.className = "result error";
      result.textContent = e instanceof ApiError
        ? `The plan was not certified: ${e.message}.` : `The plan was not certified: ${String(e)}.`;
      button.disabled = false;
    }
  });
  return h("li", { dataset: { referral: entry.referralId } }, form);
}

// A session that did what the plan does not name: what, why, how long ago; the physician
// acknowledges it here (or revises the plan with the therapist, which settles it too).
function beyondItem(main, viewer, entry, known) {
  const name = known ? patientName(known.patient) : "a patient";
  const ago = entry.ageDays === 0 ? "today" : entry.ageDays === 1 ? "yesterday" : `${entry.ageDays} days ago`;
  const status = h("span", { class: "result", role: "status", "aria-live": "polite" });
  const button = h("button", { type: "button" }, "Acknowledge");
  const idempotencyKey = crypto.randomUUID();
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.textContent = "Acknowledging…";
    try {
      const recorded = await command(
        `/referrals/${entry.referralId}/sessions/${encodeURIComponent(entry.sessionId)}/deviation-acknowledgement`,
        {}, { idempotencyKey });
      const message = `Acknowledged the session of ${when(entry.occurredAt)} for ${name}.`;
      announce(message);
      await renderWorklist(main, viewer, { minPosition: recorded.position, message });
    } catch (e) {
      status.className = "result error";
      status.textContent = `Not acknowledged: ${e instanceof ApiError ? e.message : String(e)}.`;
      button.disabled = false;
    }
  });
  return h("li", { dataset: { referral: entry.referralId, session: entry.sessionId } },
    h("p", {}, known ? h("a", { href: `#/patient/${known.patient.patientId}` }, name) : name,
      `, session of ${when(entry.occurredAt)} (${ago}): ${entry.what.join("; ")}`),
    h("p", {}, `Why: ${entry.reason || "not stated"}`), button, " ", status);
}

// A question a treating practitioner put to the physician: who, about whom, how long ago
// (an urgent one flagged); the physician answers it here, in its thread.
function questionItem(main, viewer, entry, known) {
  const name = known ? patientName(known.patient) : "a patient";
  const ago = entry.ageDays === 0 ? "today" : entry.ageDays === 1 ? "yesterday" : `${entry.ageDays} days ago`;
  const answerId = uid("answer");
  const answer = h("textarea", { id: answerId, rows: 2, cols: 60, required: true, maxlength: 4000 });
  const status = h("span", { class: "result", role: "status", "aria-live": "polite" });
  const button = h("button", { type: "submit" }, "Reply");
  const idempotencyKey = crypto.randomUUID();
  const form = h("form", { class: "reply" },
    h("label", { for: answerId }, "Your reply"), answer, button, " ", status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    status.textContent = "Sending…";
    try {
      const recorded = await command(
        `/referrals/${entry.referralId}/messages/${encodeURIComponent(entry.messageId)}/replies`,
        { body: answer.value }, { idempotencyKey });
      const message = `Reply sent to ${entry.askedBy.name || "the practitioner"} about ${name}.`;
      announce(message);
      await renderWorklist(main, viewer, { minPosition: recorded.position, message });
    } catch (e) {
      status.className = "result error";
      status.textContent = `Not sent: ${e instanceof ApiError ? e.message : String(e)}.`;
      button.disabled = false;
    }
  });
  return h("li", { dataset: { referral: entry.referralId, message: entry.messageId } },
    h("p", {},
      ...(entry.urgent ? [h("span", { class: "flag urgent" }, "Urgent"), " "] : []),
      `${entry.askedBy.name || "A practitioner"} asks about `,
      known ? h("a", { href: `#/patient/${known.patient.patientId}` }, name) : name,
      ` (${ago}):`),
    h("blockquote", {}, entry.body), form);
}

export function openPatientForm() {
  const id = uid("patient-id");
  const input = h("input", { id, type: "text", required: true, autocomplete: "off",
    pattern: "[0-9a-fA-F-]{36}", spellcheck: "false", size: 38 });
  const form = h("form", { class: "open-patient" },
    h("label", { for: id }, "Patient id"), input, h("button", { type: "submit" }, "Open"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `#/patient/${input.value.trim()}`;
  });
  return form;
}
