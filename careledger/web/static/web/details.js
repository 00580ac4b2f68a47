// What each kind of event says, as a short description list. Unknown kinds show nothing
// more than their heading; every value goes in as text.

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

function goals(goalList) {
  return (goalList || []).map((g) =>
    `${g.description}: ${g.metric} ${g.baseline} → ${g.target} ${g.unit}${g.due ? ` by ${day(g.due)}` : ""}`);
}

function changes(map) {
  return Object.entries(map || {}).map(([field, value]) =>
    `${words(field)}: ${typeof value === "object" ? JSON.stringify(value) : value}`);
}

const RENDER = {
  "Patient.Registered": (d) => [["Born", day(d.birth_date)], ["Sex", d.sex]],
  "Patient.ConsentRevoked": (d) => [["Reason", d.reason]],
  "Referral.Made": (d) => [
    ["Discipline", words(d.discipline)],
    ["Diagnoses", (d.diagnoses || []).map((x) => `${x.code} ${x.description || ""}`.trim())],
    ["Urgency", words(d.urgency)],
    ["Visits authorized", d.authorized_visits],
    ["Precautions", d.precautions],
    ["Contraindicated", (d.contraindications || []).map(words)],
    ["Reason", d.reason],
  ],
  "Referral.Declined": (d) => [["Reason", d.reason]],
  "Referral.Redirected": (d) => [["Reason", d.reason]],
  "Referral.Cancelled": (d) => [["Reason", d.reason]],
  "Referral.AssessmentRecorded": (d) => [
    ["Pain (NPRS)", score(d.pain_nprs, " / 10")],
    [d.functional_instrument || "Functional score", score(d.functional_score, " %")],
    ["History", d.history],
    ["Findings", d.findings],
    ["Range of motion", (d.range_of_motion || []).map((r) =>
      `${r.joint} ${r.movement} ${r.degrees}° of ${r.normal_degrees}°`)],
    ["Red flags", d.red_flags],
  ],
  "Referral.PlanDrafted": (d) => plan(d),
  "Referral.PlanRevised": (d) => [["Reason", d.reason], ...plan(d)],
  "Referral.PlanCertified": (d) => [["Certified", `${day(d.certified_from)} to ${day(d.certified_until)}`]],
  "Referral.PlanRecertified": (d) => [["Certified", `${day(d.certified_from)} to ${day(d.certified_until)}`]],
  "Referral.SessionScheduled": (d) => [["For", when(d.scheduled_for)]],
  "Referral.SessionCompleted": (d) => [
    ["Pain (NPRS)", d.pain_before !== undefined ? `${d.pain_before} → ${d.pain_after} / 10` : null],
    ["Functional score", score(d.functional_score, " %")],
    ["Techniques", (d.techniques || []).map((t) => `${words(t.technique)} ${t.minutes} min`)],
    ["Billed", d.total_units !== undefined ? `${d.total_units} units` : null],
    ["Subjective", (d.soap || {}).subjective],
    ["Objective", (d.soap || {}).objective],
    ["Assessment", (d.soap || {}).assessment],
    ["Plan", (d.soap || {}).plan],
    ["Override", d.override_reason],
  ],
  "Referral.SessionCancelled": (d) => [["Reason", d.reason]],
  "Referral.ProgressReported": (d) => [["Visits to date", d.visits_to_date], ["Summary", d.summary]],
  "Referral.Discharged": (d) => [
    ["Visits", d.visits],
    ["Goals", (d.outcomes || []).map((o) => `${o.goal_id}: ${words(o.outcome)}`)],
    ["Summary", d.summary],
  ],
  "Referral.Amended": (d) => [["Reason", d.reason], ["Changes", changes(d.changes)]],
  "Referral.AmendmentRequested": (d) => [["Reason", d.reason], ["Asks for", changes(d.changes)]],
  "Referral.AmendmentDenied": (d) => [["Ground", words(d.basis)], ["Explanation", d.explanation]],
  "Referral.DisagreementFiled": (d) => [["Statement", d.statement]],
};

function plan(d) {
  return [
    ["Goals", goals(d.goals)],
    ["Techniques", (d.techniques || []).map(words)],
    ["Frequency", d.frequency_per_week ? `${d.frequency_per_week}× a week for ${d.duration_weeks} weeks` : null],
    ["Override", d.override_reason],
  ];
}

export function details(event) {
  const render = RENDER[event.kind];
  return render ? list(render(event.data || {})) : null;
}
