// The two APIs the page talks to, both with the bearer token in the Authorization header.
// The token lives in this tab's sessionStorage only: never in a URL, a cookie or a log.

const TOKEN_KEY = "careledger.token";

export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** An error the server explained: its message is safe to show (it names no patient data). */
export class ApiError extends Error {
  constructor(message, code, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

function headers(extra = {}) {
  const token = session.token();
  if (!token) throw new ApiError("sign in first", "UNAUTHENTICATED", 401);
  return { Authorization: `Bearer ${token}`, Accept: "application/json", ...extra };
}

/** Run a GraphQL query; `minPosition` waits until the views hold a command's result. */
export async function graphql(query, variables = {}, { minPosition } = {}) {
  const extra = { "Content-Type": "application/json" };
  if (minPosition) extra["CareLedger-Min-Position"] = String(minPosition);
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST", headers: headers(extra), body: JSON.stringify({ query, variables }),
      credentials: "omit", cache: "no-store",
    });
  } catch {
    throw new ApiError("the server could not be reached", "NETWORK", 0);
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`the server answered ${response.status}`, "HTTP", response.status);
  }
  if (body.errors && body.errors.length) {
    const first = body.errors[0];
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
      credentials: "omit", cache: "no-store",
    });
  } catch {
    throw new ApiError("the server could not be reached", "NETWORK", 0);
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(body.detail || `the server answered ${response.status}`,
                       body.code || "HTTP", response.status);
  }
  return body;
}
