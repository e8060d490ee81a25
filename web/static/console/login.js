import { api, ApiError, rememberCsrf } from "./api.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  const body = { user: form.user.value.trim(), password: form.password.value };
  try {
    const { data } = await api("/session", { method: "POST", body });
    rememberCsrf(data.csrf_token);
    const next = new URLSearchParams(location.search).get("next") || "/";
    location.assign(next.startsWith("/") && !next.startsWith("//") ? next : "/");
  } catch (err) {
    error.textContent = err instanceof ApiError ? err.message : String(err);
    form.password.select();
  }
});
