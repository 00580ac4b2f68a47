// The two APIs the page talks to. Who the page signs in as lives in an HttpOnly session
// cookie no script can read; the page keeps no token anywhere (storage, URL, memory after
// sign-in). What changes state carries the session's CSRF token, held in memory only.

let csrf = null;

async function answered(response) {
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(body.detail || `the server answered ${response.status}`,
                       body.code || "HTTP", response.status);
  }
  return body;
}

export const session = {
  /** Who this page's session signs in as: {signedIn, role, csrf, idleSeconds, signIn}. */
  async current() {
    let response;
    try {
      response = await fetch("/app/session", { credentials: "same-origin", cache: "no-store" });
    } catch {
      throw new ApiError("the server could not be reached", "NETWORK", 0);
    }
    const body = await answered(response);
    csrf = body.signedIn ? body.csrf : null;
    return body;
  },
  /** Sign in with a CareLedger token (no identity provider: the demo and the tests);
   * the token is sent once, and the page forgets it. */
  async withToken(token) {
    const body = await answered(await fetch("/app/session", {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ token }),
    }));
    csrf = body.csrf;
    return body;
  },
  /** End the session here; answers where to go to end it at the provider too. */
  async signOut() {
    const sent = csrf;
    csrf = null;
    try {
      const body = await answered(await fetch("/app/sign-out", {
        method: "POST", credentials: "same-origin", cache: "no-store",
        headers: { Accept: "application/json", ...(sent ? { "X-CSRF-Token": sent } : {}) },
      }));
      return body.then || "/app/";
    } catch {
      return "/app/";
    }
  },
};

/** Tell the page its session ended (idle, signed out elsewhere, or expired). */
function ended() {
  csrf = null;
  window.dispatchEvent(new CustomEvent("careledger:signed-out"));
}

/** An error the server explained: its message is safe to show (it names no patient data). */
export class ApiError extends Error {
  constructor(message, code, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

function headers(extra = {}) {
  return { Accept: "application/json", ...(csrf ? { "X-CSRF-Token": csrf } : {}), ...extra };
}

/** Run a GraphQL query; `minPosition` waits until the views hold a command's result. */
export async function graphql(query, variables = {}, { minPosition } = {}) {
  const extra = { "Content-Type": "application/json" };
  if (minPosition) extra["CareLedger-Min-Position"] = String(minPosition);
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST", headers: headers(extra), body: JSON.stringify({ query, variables }),
      credentials: "same-origin", cache: "no-store",
    });
  } catch {
    throw new ApiError("the server could not be reached", "NETWORK", 0);
  }
  if (response.status === 401) ended();
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`the server answered ${response.status}`, "HTTP", response.status);
  }
  if (!response.ok && !(body.errors && body.errors.length)) {
    // Refused before GraphQL ran (a budget, the CSRF token, the service): a problem.
    throw new ApiError(body.detail || `the server answered ${response.status}`,
                       body.code || "HTTP", response.status);
  }
  if (body.errors && body.errors.length) {
    const first = body.errors[0];
    if ((first.extensions || {}).code === "UNAUTHENTICATED") ended();
    throw new ApiError(first.message, (first.extensions || {}).code || "ERROR", response.status);
  }
  return body.data;
}

/** Issue a command (POST /api/v1/...); answers {id, version, position} or throws its problem. */
export async function command(path, payload, { idempotencyKey } = {}) {
  const extra = { "Content-Type": "application/json" };
  if (idempotencyKey) extra["Idempotency-Key"] = idempotencyKey;
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method: "POST", headers: headers(extra), body: JSON.stringify(payload),
      credentials: "same-origin", cache: "no-store",
    });
  } catch {
    throw new ApiError("the server could not be reached", "NETWORK", 0);
  }
  if (response.status === 401) ended();
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(body.detail || `the server answered ${response.status}`,
                       body.code || "HTTP", response.status);
  }
  return body;
}
