// Words and times as a clinician reads them.

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" });

export const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";

export function when(iso) {
  return iso ? dateTime.format(new Date(iso)) : "—";
}

/** A calendar date ("2026-05-04") as itself, whatever the browser's zone. */
export function day(isoDate) {
  return isoDate ? dateOnly.format(new Date(`${isoDate}T00:00:00Z`)) : "—";
}

/** Recorded this long after it happened: a late entry when over a minute. */
export function lateBy(occurredAt, recordedAt) {
  if (!occurredAt) return null;
  const ms = new Date(recordedAt) - new Date(occurredAt);
  if (ms < 60_000) return null;
  const minutes = Math.round(ms / 60_000);
  if (minutes < 90) return `${minutes} min later`;
  const hours = Math.round(minutes / 60);
  if (hours < 36) return `${hours} h later`;
  const days = Math.round(hours / 24);
  return `${days} day${days === 1 ? "" : "s"} later`;
}

export const KIND_LABELS = {
  "Patient.Registered": "Patient registered",
  "Patient.ConsentGranted": "Consent to share granted",
  "Patient.ConsentRevoked": "Consent to share revoked",
  "Referral.Made": "Referral made",
  "Referral.Accepted": "Referral accepted",
  "Referral.Declined": "Referral declined",
  "Referral.Redirected": "Referral redirected",
  "Referral.Cancelled": "Referral cancelled",
  "Referral.AssessmentRecorded": "Assessment",
  "Referral.PlanDrafted": "Treatment plan drafted",
  "Referral.PlanRevised": "Treatment plan revised",
  "Referral.PlanCertified": "Plan certified",
  "Referral.PlanRecertified": "Plan recertified",
  "Referral.SessionScheduled": "Session scheduled",
  "Referral.SessionCompleted": "Session note",
  "Referral.SessionCancelled": "Session cancelled",
  "Referral.PatientDidNotAttend": "Patient did not attend",
  "Referral.ProgressReported": "Progress report",
  "Referral.Discharged": "Discharge",
  "Referral.Amended": "Amendment",
  "Referral.AmendmentRequested": "Patient's request to amend",
  "Referral.AmendmentAccepted": "Request to amend accepted",
  "Referral.AmendmentDenied": "Request to amend denied",
  "Referral.DisagreementFiled": "Patient's statement of disagreement",
};

export function kindLabel(kind) {
  return KIND_LABELS[kind] || kind;
}

/** The kind filter: groups a clinician thinks in, each a list of event kinds. */
export const KIND_GROUPS = [
  { id: "referral", label: "Referrals", kinds: ["Referral.Made", "Referral.Accepted",
    "Referral.Declined", "Referral.Redirected", "Referral.Cancelled"] },
  { id: "assessment", label: "Assessments", kinds: ["Referral.AssessmentRecorded"] },
  { id: "plan", label: "Plans and certifications", kinds: ["Referral.PlanDrafted",
    "Referral.PlanRevised", "Referral.PlanCertified", "Referral.PlanRecertified"] },
  { id: "session", label: "Sessions", kinds: ["Referral.SessionScheduled",
    "Referral.SessionCompleted", "Referral.SessionCancelled", "Referral.PatientDidNotAttend"] },
  { id: "report", label: "Progress reports and discharge", kinds: ["Referral.ProgressReported",
    "Referral.Discharged"] },
  { id: "amendment", label: "Amendments and requests", kinds: ["Referral.Amended",
    "Referral.AmendmentRequested", "Referral.AmendmentAccepted", "Referral.AmendmentDenied",
    "Referral.DisagreementFiled"] },
  { id: "patient", label: "Registration and consent", kinds: ["Patient.Registered",
    "Patient.ConsentGranted", "Patient.ConsentRevoked"] },
];

/** CareStatus values from the API, as badges read. */
export const STATUS = {
  REFERRAL_PENDING: { label: "Referral pending", tone: "pending" },
  IN_TREATMENT: { label: "In treatment", tone: "active" },
  AWAITING_CERTIFICATION: { label: "Plan awaiting your certification", tone: "attention" },
  CERTIFICATION_OVERDUE: { label: "Certification overdue", tone: "alert" },
  DISCHARGED: { label: "Discharged", tone: "done" },
  DECLINED: { label: "Declined", tone: "done" },
  CANCELLED: { label: "Cancelled", tone: "done" },
};

export function words(text) {
  return String(text ?? "").replaceAll("_", " ");
}

export function patientName(p) {
  const name = [p.givenName, p.familyName].filter(Boolean).join(" ");
  return name || "Unnamed patient";
}

/** "YYYY-MM-DD" of a Date, in the browser's zone (for date inputs). */
export function isoDay(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}
