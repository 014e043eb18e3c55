// The session, the CSRF header and problem+json errors, shared by every page.

let session = null;

/** An API error carrying the problem+json body. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.code = problem.code || "unknown";
  }
}

/** The signed-in user and CSRF token (GET /api/me), fetched once per page. */
export async function me() {
  if (!session) {
    session = await api("GET", "/api/me");
  }
  return session;
}

/** A fresh random key (crypto.randomUUID needs a secure context, this does not). */
export function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// Problems on screen, each with when it was shown: a later successful action clears them.
const shown = new Map();
let shownCount = 0;

/**
 * Call the API; JSON in and out; throws ApiError with the problem on failure. A successful
 * change (any method but GET and HEAD) clears the problems shown before it started, unless
 * `quiet` (background work the person did not ask for, like a rider's position).
 */
export async function api(method, path, { body, form, headers = {}, quiet = false } = {}) {
  const startedAfter = shownCount;
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD" && session && session.csrf_token) {
    init.headers["X-CSRF-Token"] = session.csrf_token;
  }
  if (form !== undefined) {
    init.body = form;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, { code: "network", title: "Network problem", detail: "The server could not be reached. Try again." });
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (response.status === 401 && !path.startsWith("/api/auth/") && location.pathname !== "/") {
    // The session ended (expired, signed out elsewhere, or the server lost it on a restart):
    // off to sign in, and back here after; the caller waits for nothing more.
    signInAgain();
    return new Promise(() => {});
  }
  if (!response.ok) {
    const problem = data && typeof data === "object" ? data : { title: `HTTP ${response.status}`, detail: "The server answered unexpectedly." };
    if (response.status === 404 && !problem.code) {
      problem.code = "not-found";
      problem.detail = "This feature is not available on this server yet.";
    }
    throw new ApiError(response.status, problem);
  }
  if (!quiet && method !== "GET" && method !== "HEAD") clearProblemsShownBefore(startedAfter);
  return data;
}

/** Go to the sign-in page, which brings the person back to this page (path, query, hash). */
export function signInAgain() {
  if (signInAgain.leaving) return;
  signInAgain.leaving = true;
  session = null;
  location.assign(`/?next=${encodeURIComponent(location.pathname + location.search + location.hash)}`);
}

function clearProblemsShownBefore(count) {
  for (const [container, at] of [...shown]) {
    if (at <= count) showProblem(container, null);
  }
}

/** Set the session after sign-in (the login answer carries the CSRF token). */
export function setSession(value) {
  session = value;
}

/** Sign out and go to the landing page. */
export async function signOut() {
  signInAgain.leaving = true; // the socket refused after this is no reason to ask for sign-in
  try {
    await api("POST", "/api/auth/logout");
  } finally {
    session = null;
    location.assign("/");
  }
}

// The messages put next to fields, per problem container, to take away with the problem.
const besideFields = new Map();

function fieldNamed(scope, path) {
  if (!scope || !path) return null;
  const name = path.split(".").pop().replace(/\[\d+\]$/, "");
  return (
    scope.querySelector(`[data-field="${CSS.escape(path)}"]`) ||
    scope.querySelector(`[data-field="${CSS.escape(name)}"]`) ||
    scope.querySelector(`[name="${CSS.escape(name)}"]:not([type=hidden])`)
  );
}

function clearBesideFields(container) {
  for (const [input, note] of besideFields.get(container) || []) {
    note.remove();
    input.removeAttribute("aria-invalid");
    input.removeAttribute("aria-describedby");
  }
  besideFields.delete(container);
}

/**
 * Show an error (a problem or any exception) in a container meant for people; null clears it.
 * Each field error's sentence also goes next to its field in `form` (by default the form the
 * container is in): an input whose `data-field` is the field's path or name, or whose `name`
 * is the name. `fields` maps problem codes that concern one field to it
 * (`{"insufficient-points": "use_points"}`).
 */
export function showProblem(container, error, { form = null, fields = {} } = {}) {
  if (!container) return;
  container.replaceChildren();
  clearBesideFields(container);
  if (!error) {
    container.hidden = true;
    shown.delete(container);
    return;
  }
  const problem = error instanceof ApiError ? error.problem : { title: "Something went wrong", detail: String(error.message || error) };
  const title = document.createElement("strong");
  title.textContent = problem.title || "Something went wrong";
  container.append(title);
  const detailText = problem.detail && problem.detail !== problem.title ? problem.detail : "";
  if (detailText) {
    const detail = document.createElement("span");
    detail.textContent = ` ${detailText}`;
    container.append(detail);
  }
  const scope = form || container.closest("form");
  const errors = Array.isArray(problem.errors) ? [...problem.errors] : [];
  if (!errors.length && fields[problem.code]) errors.push({ field: fields[problem.code], message: detailText });
  const placed = [];
  const rest = [];
  for (const item of errors) {
    const input = fieldNamed(scope, item.field);
    if (input && item.message) {
      const note = document.createElement("p");
      note.className = "field-error";
      note.id = `${input.id || item.field.replace(/\W+/g, "-")}-error`;
      note.textContent = item.message;
      input.insertAdjacentElement("afterend", note);
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", note.id);
      placed.push([input, note]);
    } else if (item.message && !detailText.includes(item.message)) {
      rest.push(item.message);
    }
  }
  if (placed.length) besideFields.set(container, placed);
  if (rest.length) {
    const list = document.createElement("ul");
    for (const message of rest) {
      const li = document.createElement("li");
      li.textContent = message;
      list.append(li);
    }
    container.append(list);
  }
  container.hidden = false;
  shown.set(container, ++shownCount);
}

const wonFormat = new Intl.NumberFormat("ko-KR", { style: "currency", currency: "KRW" });
/** Money as people read it: ₩12,000. */
export function won(amount) {
  return wonFormat.format(amount || 0);
}

/** A time in the viewer's zone. */
export function clock(at) {
  if (!at) return "";
  return new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** A date and time in the viewer's zone. */
export function when(at) {
  if (!at) return "";
  return new Date(at).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}
