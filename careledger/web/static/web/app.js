// The page: sign in with a token, then the worklist (#/) or a patient's chart (#/patient/ID).
// The server decides who may see what from the token; the page only shows what it answers.

import { ApiError, graphql, session } from "./api.js";
import { loadCatalogue } from "./catalogue.js";
import { h, replace } from "./dom.js";
import { renderPatient } from "./patient.js";
import { renderWorklist } from "./worklist.js";

const main = document.getElementById("main");
const who = document.getElementById("who");
const nav = document.getElementById("nav");
const signOutButton = document.getElementById("sign-out");
let viewer = null;

const ROUTES = [
  [/^#\/patient\/([0-9a-fA-F-]{36})$/, (m) => renderPatient(main, viewer, m[1])],
  [/^(#\/?)?$/, () => renderWorklist(main, viewer)],
];

async function whoAmI() {
  const data = await graphql("{ me { id role clinicIds } }");
  return data.me;
}

function showSignedIn() {
  const signedIn = viewer !== null;
  nav.hidden = !signedIn;
  signOutButton.hidden = !signedIn;
  who.textContent = signedIn ? `Signed in as a ${viewer.role.replaceAll("_", " ")}` : "";
}

function signInForm(message) {
  const error = h("p", { class: "error", id: "sign-in-error", role: "alert" }, message || "");
  const input = h("input", {
    id: "token", name: "token", type: "password", required: true, autocomplete: "off",
    spellcheck: "false", "aria-describedby": "token-help sign-in-error",
  });
  const form = h("form", { class: "card sign-in", "aria-labelledby": "sign-in-title" },
    h("h1", { id: "sign-in-title" }, "Sign in"),
    h("p", { id: "token-help" },
      "Paste the bearer token that ", h("code", {}, "careledger up --demo"), " printed (or one from ",
      h("code", {}, "careledger token issue"), "). It stays in this browser tab only and is sent ",
      "to this server in the Authorization header."),
    h("label", { for: "token" }, "Bearer token"),
    input,
    h("button", { type: "submit" }, "Sign in"),
    error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    session.signIn(token);
    input.value = "";
    try {
      viewer = await whoAmI();
    } catch (e) {
      session.signOut();
      viewer = null;
      error.textContent = e instanceof ApiError && e.code === "UNAUTHENTICATED"
        ? "That token was not accepted: it may have expired or come from another server."
        : `Could not sign in: ${e.message}.`;
      input.focus();
      return;
    }
    showSignedIn();
    route();
  });
  replace(main, form);
  input.focus();
}

/** Show the page the address names; `focus` moves keyboard focus to it (not on first load,
 * where the browser starts at the skip link). */
export async function route({ focus = true } = {}) {
  if (!session.token()) {
    viewer = null;
    showSignedIn();
    signInForm();
    return;
  }
  if (viewer === null) {
    try {
      viewer = await whoAmI();
    } catch (e) {
      session.signOut();
      showSignedIn();
      signInForm(e instanceof ApiError && e.code === "UNAUTHENTICATED"
        ? "Your session has ended: sign in again." : `Could not reach the server: ${e.message}.`);
      return;
    }
    showSignedIn();
  }
  for (const [pattern, render] of ROUTES) {
    const match = pattern.exec(location.hash);
    if (match) {
      await render(match);
      if (focus) {
        // A new page: keyboard and screen-reader users start at its content.
        window.scrollTo(0, 0);
        main.focus({ preventScroll: true });
      }
      return;
    }
  }
  replace(main, h("h1", {}, "Page not found"), h("p", {}, h("a", { href: "#/" }, "Back to your patients")));
}

signOutButton.addEventListener("click", () => {
  session.signOut();
  viewer = null;
  location.hash = "#/";
  route();
});

// The skip link moves focus without touching the route in the address bar.
document.getElementById("skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});

window.addEventListener("hashchange", () => route());
loadCatalogue().then(() => route({ focus: false }), (e) => {
  replace(main, h("h1", {}, "The page could not start"),
    h("p", { class: "error", role: "alert" }, `${e.message}; reload the page to try again.`));
});
