// Progress charts, hand-made SVG: pain (NPRS 0-10) and the functional score (ODI or NDI,
// 0-100 %) over the assessment and each session, against each goal's target. Every chart
// has a text equivalent: its title and description, and a table of the values.

import { h, s, uid } from "./dom.js";
import { day, when, words } from "./format.js";

const WIDTH = 440;
const HEIGHT = 230;
const MARGIN = { top: 16, right: 76, bottom: 38, left: 40 };

export function progressFigure(plan, clinicName) {
  const labels = plan.points.map((p) => p.sessionId || "Assessment");
  const painGoal = plan.goals.find((g) => g.metric.toUpperCase() === "NPRS");
  const instrument = plan.instrument || "Functional score";
  const functionGoal = plan.goals.find((g) => g.metric.toUpperCase() === instrument.toUpperCase());
  const titleId = uid("plan");
  return h("figure", { class: "plan", "aria-labelledby": titleId, dataset: { referral: plan.referralId } },
    h("figcaption", { id: titleId },
      h("h3", {}, clinicName || "A clinic", plan.planId ? "" : " (no plan yet)"),
      h("p", { class: "hint" }, `Functional score: ${instrument}. `,
        plan.goals.length ? ["Goals: ", plan.goals.map((g) => `${g.metric} ${g.baseline} → ${g.target}`).join(", "),
          ". Dashed green lines mark each target."] : "No goals yet.")),
    h("div", { class: "charts" },
      chart({
        title: "Pain (NPRS, 0–10)", max: 10, step: 2, unit: "", labels,
        series: [
          { name: "before session", cls: "series-before", values: plan.points.map((p) => p.painBefore) },
          { name: "after session", cls: "series-pain", values: plan.points.map((p) => p.painAfter) },
        ],
        goal: painGoal,
      }),
      chart({
        title: `${instrument} (0–100 %, lower is better)`, max: 100, step: 20, unit: " %", labels,
        series: [{ name: instrument, cls: "series-function", values: plan.points.map((p) => p.functionalScore) }],
        goal: functionGoal,
      })),
    valuesTable(plan, instrument));
}

function chart({ title, max, step, unit, labels, series, goal }) {
  const titleId = uid("chart-title");
  const descId = uid("chart-desc");
  const innerW = WIDTH - MARGIN.left - MARGIN.right;
  const innerH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (i) => MARGIN.left + (labels.length <= 1 ? innerW / 2 : (i * innerW) / (labels.length - 1));
  const y = (v) => MARGIN.top + innerH - (Math.max(0, Math.min(max, v)) / max) * innerH;
  const grid = [];
  for (let v = 0; v <= max; v += step) {
    grid.push(s("line", { class: "grid", x1: MARGIN.left, x2: MARGIN.left + innerW, y1: y(v), y2: y(v) }),
      s("text", { class: "tick", x: MARGIN.left - 6, y: y(v) + 4, "text-anchor": "end" }, String(v)));
  }
  const every = Math.max(1, Math.ceil(labels.length / 8));
  const xTicks = labels.map((label, i) => (i % every === 0 || i === labels.length - 1)
    ? s("text", { class: "tick", x: x(i), y: MARGIN.top + innerH + 16, "text-anchor": "middle" },
      i === 0 && label === "Assessment" ? "Assess." : label)
    : null);
  const lines = series.map((serie) => {
    const points = serie.values.map((v, i) => (v === null || v === undefined ? null : [x(i), y(v), v, i]))
      .filter(Boolean);
    if (points.length === 0) return null;
    const d = points.map(([px, py], k) => `${k === 0 ? "M" : "L"}${px.toFixed(1)},${py.toFixed(1)}`).join(" ");
    return s("g", { class: `series ${serie.cls}` },
      s("path", { d, fill: "none" }),
      points.map(([px, py, v, i]) => s("circle", { cx: px, cy: py, r: 3.5 },
        s("title", {}, `${labels[i]}: ${serie.name} ${v}${unit}`))));
  });
  const target = goal ? [
    s("line", { class: "target", x1: MARGIN.left, x2: MARGIN.left + innerW, y1: y(goal.target), y2: y(goal.target) }),
    s("text", { class: "target-label", x: MARGIN.left + innerW + 6, y: y(goal.target) + 4 }, `goal ${goal.target}`),
  ] : [];
  const legend = series.filter((serie) => serie.values.some((v) => v !== null && v !== undefined))
    .map((serie, k) => s("g", { class: `legend series ${serie.cls}` },
      s("line", { x1: MARGIN.left + k * 130, x2: MARGIN.left + k * 130 + 18,
        y1: HEIGHT - 8, y2: HEIGHT - 8 }),
      s("text", { class: "tick", x: MARGIN.left + k * 130 + 24, y: HEIGHT - 4 }, serie.name)));
  return s("svg", { class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img",
    "aria-labelledby": `${titleId} ${descId}`, preserveAspectRatio: "xMidYMid meet" },
  s("title", { id: titleId }, title),
  s("desc", { id: descId }, describe(series, labels, unit, goal)),
  s("text", { class: "chart-title", x: MARGIN.left, y: 11 }, title),
  grid, xTicks, target, lines, legend);
}

function describe(series, labels, unit, goal) {
  const main = series[series.length - 1];
  const measured = main.values.map((v, i) => [v, labels[i]]).filter(([v]) => v !== null && v !== undefined);
  if (measured.length === 0) return "No measurements yet.";
  const [first, firstAt] = measured[0];
  const [last, lastAt] = measured[measured.length - 1];
  const goalText = goal ? `; the goal is ${goal.target}${unit}` : "";
  return `${main.name}: ${first}${unit} at ${firstAt}, ${last}${unit} at ${lastAt}${goalText}.`;
}

function valuesTable(plan, instrument) {
  return h("details", { class: "values" },
    h("summary", {}, "The values as a table"),
    h("table", {},
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Measured"), h("th", { scope: "col" }, "When"),
        h("th", { scope: "col" }, "Pain before"), h("th", { scope: "col" }, "Pain after"),
        h("th", { scope: "col" }, instrument))),
      h("tbody", {}, plan.points.map((p) => h("tr", {},
        h("th", { scope: "row" }, p.sessionId || "Assessment"),
        h("td", {}, when(p.occurredAt)),
        h("td", {}, p.painBefore ?? "—"), h("td", {}, p.painAfter ?? "—"),
        h("td", {}, p.functionalScore ?? "—"))))),
    plan.goals.length ? h("ul", { class: "goals" }, plan.goals.map((g) => h("li", {},
      `${g.description}: ${g.metric} from ${g.baseline} to ${g.target} ${words(g.unit)}`,
      g.due ? ` by ${day(g.due)}` : ""))) : null);
}
