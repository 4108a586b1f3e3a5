// Sign-in and sign-out: a token is asked for when the API answers 401 (one is needed) or 403 (it was refused);
// the token is kept in sessionStorage for this tab only; the header's sign-out forgets it.
import { type ApiError, token } from "./api.ts";
import { h } from "./dom.ts";

let shown = false;

export function askForToken(err: ApiError): void {
  if (shown) return;
  shown = true;
  const refused = err.status === 403;
  const input = h("input", {
    type: "password",
    name: "token",
    autocomplete: "current-password",
    "aria-label": "read token",
    placeholder: "read token",
    required: true,
  });
  const form = h(
    "form",
    { class: "signin" },
    h("h2", {}, refused ? "Token refused" : "Sign in"),
    h(
      "p",
      {},
      refused
        ? `The server refused the token: ${err.message}. Enter another one.`
        : "This server needs a read token to show its logs (auth.read_tokens in its configuration). Ask its operator for one.",
    ),
    input,
    h("button", { type: "submit" }, "Sign in"),
    h("p", { class: "muted" }, "The token is kept in this tab only (sessionStorage) and sent as a header."),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const t = input.value.trim();
    if (t === "") return;
    token.set(t);
    location.reload();
  });
  if (refused) token.clear();
  const dialog = h("div", { class: "modal", role: "dialog", "aria-modal": "true" }, form);
  document.body.append(dialog);
  input.focus();
}

/** The sign-out button of the page header, when a token is kept. */
export function signOut(): HTMLElement | null {
  if (token.get() === null) return null;
  return h(
    "button",
    {
      type: "button",
      class: "signout",
      onclick: () => {
        token.clear();
        location.reload();
      },
    },
    "sign out",
  );
}
