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
