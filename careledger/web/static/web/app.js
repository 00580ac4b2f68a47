// The page: sign in (through the identity provider, or with a token where none is
// configured), then the worklist (#/) or a patient's chart (#/patient/ID). The server
// decides who may see what from the session; the page only shows what it answers.

import { ApiError, graphql, session } from "./api.js";
import { loadCatalogue } from "./catalogue.js";
import { announce, claim, h, replace } from "./dom.js";
import { follow, stop as stopFollowing } from "./live.js";
import { renderPatient } from "./patient.js";
import { renderWorklist } from "./worklist.js";

const main = document.getElementById("main");
const who = document.getElementById("who");
const nav = document.getElementById("nav");
const signOutButton = document.getElementById("sign-out");
let viewer = null;
/** How the server signs pages in (`provider`, `token`, `none`), and its idle time. */
let signInMethod = "token";
let idleSeconds = 0;
let throughProvider = false;
/** Where the live stream is (the server says), or null where there is none. */
let streamUrl = null;
let lastActive = Date.now();
// Activity in any of this site's tabs counts for all of them: one idle tab must not end
// the session another is using (a message between tabs; nothing is stored).
const activity = "BroadcastChannel" in window ? new BroadcastChannel("careledger-activity") : null;
let lastShared = 0;
function active() {
  lastActive = Date.now();
  if (activity && lastActive - lastShared > 10_000) {
    lastShared = lastActive;
    activity.postMessage(lastActive);
  }
}
if (activity) activity.onmessage = (event) => { lastActive = Math.max(lastActive, Number(event.data) || 0); };

const ROUTES = [
  [/^#\/patient\/([0-9a-fA-F-]{36})$/, (m) => renderPatient(main, viewer, m[1])],
  [/^(#\/?)?$/, () => renderWorklist(main, viewer)],
];

/** Why the page is signed out, in the clinic's words (the server says it with one word). */
const SIGNED_OUT = {
  "signed-out": "You have signed out.",
  idle: "You were signed out after a while without activity, to keep patients' records safe: sign in again.",
  ended: "Your session has ended: sign in again.",
  "not-linked": "You signed in, but your account is not linked to anyone in CareLedger's directory: ask your network administrator to link it.",
  "sign-in-failed": "Signing in did not complete: try again.",
  "provider-unavailable": "The sign-in service does not answer: try again in a moment.",
};

async function whoAmI() {
  const data = await graphql("{ me { id role clinicIds } }");
  return data.me;
}

function showSignedIn() {
  const signedIn = viewer !== null;
  nav.hidden = !signedIn;
  signOutButton.hidden = !signedIn;
  who.textContent = signedIn
    ? `Signed in as a ${viewer.role.replaceAll("_", " ")}${throughProvider ? "" : " (local sign-in: no identity provider)"}`
    : "";
}

function signInForm(message) {
  claim(main);
  const error = h("p", { class: "error", id: "sign-in-error", role: "alert" }, message || "");
  if (signInMethod === "provider") {
    replace(main, h("section", { class: "card sign-in", "aria-labelledby": "sign-in-title" },
      h("h1", { id: "sign-in-title" }, "Sign in"),
      h("p", {}, "Sign in with your organisation's account."),
      h("p", {}, h("a", { class: "button", href: "/app/sign-in", id: "sign-in-link" }, "Sign in")),
      error));
    return;
  }
  if (signInMethod === "none") {
    replace(main, h("section", { class: "card sign-in" },
      h("h1", {}, "Signing in to the pages is not set up"),
      h("p", {}, "An administrator sets CARELEDGER_OIDC_CLIENT_ID to the pages' client at the identity provider."),
      error));
    return;
  }
  const input = h("input", {
    id: "token", name: "token", type: "password", required: true, autocomplete: "off",
    spellcheck: "false", "aria-describedby": "token-help sign-in-error",
  });
  const form = h("form", { class: "card sign-in", "aria-labelledby": "sign-in-title" },
    h("h1", { id: "sign-in-title" }, "Sign in"),
    h("p", { id: "token-help" },
      "Local sign-in: this server has no identity provider (a demo or a test). Paste a token that ",
      h("code", {}, "careledger up --demo"), " printed (or one from ",
      h("code", {}, "careledger token issue"), "). It is sent once to this server, which opens a ",
      "session; the page keeps no copy."),
    h("label", { for: "token" }, "Bearer token"),
    input,
    h("button", { type: "submit" }, "Sign in"),
    error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    input.value = "";
    try {
      const opened = await session.withToken(token);
      idleSeconds = opened.idleSeconds;
      throughProvider = opened.throughProvider;
      streamUrl = opened.streamUrl || null;
      viewer = await whoAmI();
    } catch (e) {
      viewer = null;
      error.textContent = e instanceof ApiError && e.status === 401
        ? "That token was not accepted: it may have expired or come from another server."
        : `Could not sign in: ${e.message}.`;
      input.focus();
      return;
    }
    lastActive = Date.now();
    showSignedIn();
    route();
  });
  replace(main, form);
  input.focus();
}

/** Signed out (by the server, the idle timer or the button): nothing of a patient stays
 * on the screen. */
function signedOut(reason) {
  stopFollowing();
  clearTimeout(redraw);
  claim(main);  // a page still being read must not draw once signed out
  viewer = null;
  showSignedIn();
  signInForm(reason && Object.hasOwn(SIGNED_OUT, reason) ? SIGNED_OUT[reason] : "");
}

/** Show the page the address names; `focus` moves keyboard focus to it (not on first load,
 * where the browser starts at the skip link). */
export async function route({ focus = true } = {}) {
  if (viewer === null) {
    let current;
    try {
      current = await session.current();
    } catch (e) {
      showSignedIn();
      replace(main, h("h1", {}, "The server could not be reached"),
        h("p", { class: "error", role: "alert" }, `${e.message}; reload the page to try again.`));
      return;
    }
    signInMethod = current.signIn;
    if (!current.signedIn) {
      signedOut(firstReason);
      firstReason = null;
      return;
    }
    idleSeconds = current.idleSeconds;
    throughProvider = current.throughProvider;
    streamUrl = current.streamUrl || null;
    try {
      viewer = await whoAmI();
    } catch (e) {
      signedOut(e instanceof ApiError && e.code === "UNAUTHENTICATED" ? "ended" : null);
      return;
    }
    lastActive = Date.now();
    showSignedIn();
  }
  for (const [pattern, render] of ROUTES) {
    const match = pattern.exec(location.hash);
    if (match) {
      // The stream first, then the read: a change made between the two still redraws.
      followThisPage(match);
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

/** Keep the page on screen current: what changes in the views redraws it (unless the
 * chart is shown as of a past moment, which no new entry changes). */
let redraw = null;
function followThisPage(match) {
  const patient = match[1];
  const url = !streamUrl ? null
    : patient ? `${streamUrl}?patient=${encodeURIComponent(patient)}` : streamUrl;
  follow(url, () => {
    clearTimeout(redraw);
    redraw = setTimeout(async () => {
      if (viewer === null) return;
      const asOf = document.querySelector('input[name="as-of"]');
      if (asOf && asOf.value) {
        announce("New entries were recorded; clear “As of” to see them.");
        return;
      }
      // Never under the user's hands: a reply being typed, a period being chosen.
      if (document.activeElement && document.activeElement.closest("form")) {
        announce("New entries were recorded; they show when the page is next opened.");
        return;
      }
      const y = window.scrollY;
      await route({ focus: false });
      window.scrollTo(0, y);
      announce("Updated with the latest entries.");
    }, 300);
  });
}

signOutButton.addEventListener("click", async () => {
  viewer = null;
  stopFollowing();
  claim(main);
  replace(main, h("p", { class: "loading" }, "Signing out…"));
  location.assign(await session.signOut());
});

// Any answer that says the session is over (idle at the server, signed out in another tab).
window.addEventListener("careledger:signed-out", () => {
  if (viewer !== null) signedOut("ended");
});

// Automatic logoff: after the idle time without a key or a click, the session ends here
// and at the server, and the screen is cleared (the server ends it on its own too).
for (const kind of ["keydown", "pointerdown", "wheel", "touchstart"]) {
  window.addEventListener(kind, active, { passive: true });
}
setInterval(async () => {
  if (viewer === null || !idleSeconds || Date.now() - lastActive < idleSeconds * 1000) return;
  signedOut("idle");
  await session.signOut();
}, 5000);

// The skip link moves focus without touching the route in the address bar.
document.getElementById("skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});

// Why the server sent the page here signed out (`?signed-out=not-linked`): read once,
// then taken out of the address.
const params = new URLSearchParams(location.search);
let firstReason = params.get("signed-out");
if (params.has("signed-out")) history.replaceState(null, "", location.pathname + location.hash);

window.addEventListener("hashchange", () => route());
loadCatalogue().then(() => route({ focus: false }), (e) => {
  replace(main, h("h1", {}, "The page could not start"),
    h("p", { class: "error", role: "alert" }, `${e.message}; reload the page to try again.`));
});
