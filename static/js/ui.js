// Small DOM helpers and the page frame (who is signed in, sign-out, toasts).
import { me, signInAgain, signOut } from "./api.js";

/** Build an element: h("button", {class: "x", onclick}, "text", child). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (value === true) {
      node.setAttribute(key, "");
    } else {
      node.setAttribute(key, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replace `node`'s children, leaving out null, undefined and false as h() does (the DOM's own
 * replaceChildren would show them as the text "null"). */
export function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

/** A short message for a few seconds. */
export function toast(message) {
  const box = document.getElementById("toast");
  if (!box) return;
  box.textContent = message;
  box.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove("show"), 4000);
}

/** Start a signed-in page: shows who is signed in and wires sign-out; returns the session. */
export async function startPage() {
  let session;
  try {
    session = await me();
  } catch (error) {
    // The session ended (signed out elsewhere, or expired): sign in again and come back.
    if (error.status !== 401) throw error;
    signInAgain();
    return new Promise(() => {}); // the page is leaving; nothing more to start
  }
  const name = document.getElementById("who-name");
  if (name) name.textContent = session.user.name;
  const out = document.getElementById("sign-out");
  if (out) out.addEventListener("click", () => signOut());
  return session;
}

/** Read a form's fields into an object. */
export function formData(form) {
  return Object.fromEntries(new FormData(form).entries());
}

/** Disable a button while an action runs. */
export async function busy(button, action) {
  if (button) button.disabled = true;
  try {
    return await action();
  } finally {
    if (button) button.disabled = false;
  }
}

/** Mark the page as loaded and live (its first data shown, its streams followed). */
export function markReady() {
  document.body.dataset.ready = "true";
}
