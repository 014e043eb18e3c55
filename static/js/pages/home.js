// The landing page: sign in, sign up, demo sign-ins.
import { api, showProblem } from "../api.js";
import { formData } from "../ui.js";

const HOME = { customer: "/customer", owner: "/owner", rider: "/rider", admin: "/admin" };

/**
 * Where to go after signing in: back to `next` when it is a page of this site in the role's own
 * part (a relative path resolving to this origin), else the role's home. Nothing else is
 * followed: no other origin, no scheme-relative `//host`, no backslash tricks.
 */
function destination(role) {
  const home = HOME[role] || "/";
  const next = new URLSearchParams(location.search).get("next");
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.includes("\\")) return home;
  let url;
  try {
    url = new URL(next, location.origin);
  } catch {
    return home;
  }
  if (url.origin !== location.origin) return home;
  if (url.pathname !== home && !url.pathname.startsWith(`${home}/`)) return home;
  return url.pathname + url.search + url.hash;
}

async function signIn(email, password, problemBox) {
  try {
    const result = await api("POST", "/api/auth/login", { body: { email, password } });
    location.assign(destination(result.user.role));
  } catch (error) {
    showProblem(problemBox, error);
  }
}

const signinForm = document.getElementById("signin-form");
signinForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const { email, password } = formData(signinForm);
  await signIn(email, password, signinForm.querySelector(".problem"));
});

const signupForm = document.getElementById("signup-form");
signupForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = formData(signupForm);
  const problemBox = signupForm.querySelector(".problem");
  try {
    await api("POST", "/api/auth/signup", { body: data });
  } catch (error) {
    showProblem(problemBox, error);
    return;
  }
  await signIn(data.email, data.password, problemBox);
});

for (const button of document.querySelectorAll(".demo-signin")) {
  button.addEventListener("click", () =>
    signIn(button.dataset.email, button.dataset.password, signinForm.querySelector(".problem")),
  );
}
document.body.dataset.ready = "true";
