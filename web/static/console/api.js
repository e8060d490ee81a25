// The one way the console talks to the server: /api/v1 with the session cookie and its CSRF token.
// The API decides everything; a refusal is shown to the user as the API words it.

const CSRF_KEY = "streetwatch.csrf";

export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

export function rememberCsrf(token) {
  localStorage.setItem(CSRF_KEY, token);
}

export function forgetCsrf() {
  localStorage.removeItem(CSRF_KEY);
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = localStorage.getItem(CSRF_KEY) || "";
  const response = await fetch(`/api/v1${path}`, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const isJson = (response.headers.get("Content-Type") || "").includes("json");
  const data = isJson ? await response.json() : null;
  if (response.status === 401 && path !== "/session") {
    location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
  }
  if (!response.ok) throw new ApiError(response.status, data?.message || response.statusText, data?.field);
  return { status: response.status, data };
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const one of [].concat(value)) if (one !== "" && one !== null && one !== undefined) search.append(key, one);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
