// An independent check of what the export writes: lantanagroup's `fhir` package (its own
// FHIR R4 4.0 structure definitions, not fhir.resources'), run by the tests in node.
// Reads a JSON array of resources on stdin; prints, as JSON, each error it finds
// (a missing required element, an element the resource does not have, a wrong type).
"use strict";
const { Fhir } = require("fhir");

const fhir = new Fhir();
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const resources = JSON.parse(input);
  const found = [];
  for (const resource of resources) {
    const result = fhir.validate(resource, { errorOnUnexpected: true });
    for (const m of result.messages || []) {
      if (m.severity === "error") {
        found.push({ resourceType: resource.resourceType, id: resource.id,
                     location: m.location, message: m.message });
      }
    }
  }
  process.stdout.write(JSON.stringify({ checked: resources.length, errors: found }));
});
