// vod web app: a small client-side router over the JSON API, with dash.js for playback.
import { countView } from "./views.js";
import { protect } from "./protect.js";

const $ = (sel, root = document) => root.querySelector(sel);
const main = $("#main");

// ---------- session ----------
const session = {
  get tokens() {
    try { return JSON.parse(localStorage.getItem("vod.tokens")) || null; } catch { return null; }
  },
  set tokens(t) {
    if (t) localStorage.setItem("vod.tokens", JSON.stringify(t));
    else localStorage.removeItem("vod.tokens");
  },
  get user() { return this.tokens?.user || null; },
};

let refreshing = null;
async function refresh() {
  const t = session.tokens;
  if (!t?.refresh_token) return false;
  refreshing ??= fetch("/api/v1/auth/refresh", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: t.refresh_token }),
  }).then(async (r) => {
    if (!r.ok) { session.tokens = null; return false; }
    session.tokens = await r.json();
    return true;
  }).finally(() => { refreshing = null; });
  return refreshing;
}

class APIError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
    this.fields = body?.error?.fields || {};
  }
}

async function api(path, { method = "GET", body, form, retry = true } = {}) {
  const headers = {};
  const t = session.tokens;
  if (t) headers.Authorization = `Bearer ${t.access_token}`;
  let payload;
  if (form) payload = form;
  else if (body !== undefined) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  const r = await fetch(path, { method, headers, body: payload });
  if (r.status === 401 && t && retry && await refresh()) return api(path, { method, body, form, retry: false });
  if (r.status === 204) return null;
  const data = await r.json().catch(() => null);
  if (!r.ok) throw new APIError(r.status, data);
  return data;
}

// ---------- helpers ----------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c.nodeType ? c : document.createTextNode(String(c)));
  return el;
}

function duration(sec, round = Math.floor) {
  sec = round(sec || 0);
  const hh = Math.floor(sec / 3600), mm = Math.floor((sec % 3600) / 60), ss = sec % 60;
  const p = (n) => String(n).padStart(2, "0");
  return hh ? `${hh}:${p(mm)}:${p(ss)}` : `${mm}:${p(ss)}`;
}

function page(title, ...content) {
  document.title = title ? `${title} · vod` : "vod";
  main.replaceChildren(...content);
  main.focus({ preventScroll: true });
}

function errorBox(err) {
  return h("p", { class: "error", role: "alert", "data-testid": "error" }, err.message || String(err));
}

function navigate(url, replace = false) {
  if (replace) history.replaceState(null, "", url); else history.pushState(null, "", url);
  route();
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-link]");
  if (!a || e.metaKey || e.ctrlKey || e.shiftKey || a.target) return;
  e.preventDefault();
  navigate(a.getAttribute("href"));
});
window.addEventListener("popstate", route);

function renderNav() {
  const nav = $("#nav");
  const u = session.user;
  if (!u) {
    nav.replaceChildren(h("a", { href: "/login", "data-link": true }, "Log in"), h("a", { href: "/signup", "data-link": true, class: "button" }, "Sign up"));
    return;
  }
  nav.replaceChildren(...[
    h("a", { href: "/upload", "data-link": true, class: "button" }, "Upload"),
    h("a", { href: "/me", "data-link": true }, "My videos"),
    u.role === "admin" ? h("a", { href: "/admin", "data-link": true, "data-testid": "admin-link" }, "Admin") : null,
    h("span", { class: "who", "data-testid": "username" }, u.username),
    h("button", { class: "link", onclick: async () => {
      const t = session.tokens;
      session.tokens = null;
      if (t) fetch("/api/v1/auth/logout", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ refresh_token: t.refresh_token }) });
      renderNav(); navigate("/");
    } }, "Log out"),
  ].filter(Boolean)); // replaceChildren would print a null as "null"
}

$("#search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const q = $("#search-q").value.trim();
  if (q) navigate(`/search?q=${encodeURIComponent(q)}`);
});

// On the results page, results follow typing (the API matches the last word as a prefix).
let typing;
$("#search-q").addEventListener("input", () => {
  clearTimeout(typing);
  if (location.pathname !== "/search") return;
  typing = setTimeout(() => {
    const q = $("#search-q").value.trim();
    const scope = new URLSearchParams(location.search).get("scope");
    if (q) navigate(`/search?q=${encodeURIComponent(q)}${scope ? `&scope=${encodeURIComponent(scope)}` : ""}`, true);
  }, 250);
});

// ---------- cards ----------
const plural = (n, one, many) => `${(n || 0).toLocaleString()} ${n === 1 ? one : many}`;
const viewsText = (n) => plural(n || 0, "view", "views");

// ago says when, as people say it: "3 days ago", then the date after a month.
function ago(t) {
  if (!t) return "";
  const s = (Date.now() - new Date(t).getTime()) / 1000;
  if (s < 60) return "just now";
  for (const [unit, secs] of [["day", 86400], ["hour", 3600], ["minute", 60]]) {
    if (s >= secs && (unit !== "day" || s < 30 * 86400)) return `${plural(Math.floor(s / secs), unit, `${unit}s`)} ago`;
  }
  return new Date(t).toLocaleDateString();
}

// ownerLink: a user's name always leads to their channel.
const ownerLink = (u, cls = "owner") => h("a", { href: `/u/${encodeURIComponent(u.username)}`, "data-link": true, class: cls, "data-testid": "owner-link" }, u.username);

function card(v, tag = "li") {
  const poster = v.thumbnails?.poster;
  return h(tag, { class: "card" },
    h("a", { href: `/watch/${v.id}`, "data-link": true, class: "thumb", "aria-label": v.title },
      poster ? h("img", { src: poster, alt: "", loading: "lazy" }) : h("div", { class: "noposter" }, v.status),
      v.duration_seconds ? h("span", { class: "dur" }, duration(v.duration_seconds)) : null),
    h("div", { class: "meta" },
      h("a", { href: `/watch/${v.id}`, "data-link": true, class: "title" }, v.title),
      ownerLink(v.owner),
      h("span", { class: "stats", "data-testid": "card-views" }, `${viewsText(v.views)} · ${ago(v.created_at)}`)));
}

async function listInto(grid, more, url) {
  const data = await api(url);
  grid.append(...data.items.map((v) => card(v)));
  more.hidden = !data.next_cursor;
  more.onclick = () => listInto(grid, more, url.replace(/([?&])cursor=[^&]*/, "$1").replace(/[?&]$/, "") + (url.includes("?") ? "&" : "?") + `cursor=${encodeURIComponent(data.next_cursor)}`);
  return data.items.length;
}

function sortSelect(sort, onchange) {
  const sel = h("select", { "aria-label": "Sort videos", "data-testid": "sort" },
    h("option", { value: "newest", selected: sort !== "views" }, "Newest"), h("option", { value: "views", selected: sort === "views" }, "Most viewed"));
  sel.addEventListener("change", () => onchange(sel.value));
  return h("label", { class: "sort" }, "Sort ", sel);
}

// ---------- pages ----------
async function home() {
  const sort = new URLSearchParams(location.search).get("sort") === "views" ? "views" : "newest";
  const grid = h("ul", { class: "grid", "data-testid": "grid" });
  const more = h("button", { class: "more", hidden: true }, "Load more");
  page("", h("div", { class: "head" }, h("h1", {}, sort === "views" ? "Most viewed" : "Latest videos"),
    sortSelect(sort, (x) => navigate(x === "views" ? "/?sort=views" : "/"))), grid, more);
  try {
    const n = await listInto(grid, more, `/api/v1/videos?limit=24${sort === "views" ? "&sort=views" : ""}`);
    if (!n) grid.replaceWith(h("p", { class: "empty" }, "No videos yet. ", session.user ? h("a", { href: "/upload", "data-link": true }, "Upload the first one.") : h("a", { href: "/signup", "data-link": true }, "Sign up to upload.")));
  } catch (err) { main.append(errorBox(err)); }
}

// channel: one user's public videos (their private and unlisted ones stay off it, also for them).
async function channel(username) {
  const sort = new URLSearchParams(location.search).get("sort") === "views" ? "views" : "newest";
  const grid = h("ul", { class: "grid", "data-testid": "grid" });
  const more = h("button", { class: "more", hidden: true }, "Load more");
  const base = `/u/${encodeURIComponent(username)}`;
  page(username, h("div", { class: "head channel" },
    h("span", { class: "avatar", "aria-hidden": "true" }, username.slice(0, 1).toUpperCase()),
    h("h1", { "data-testid": "channel-name" }, username),
    sortSelect(sort, (x) => navigate(x === "views" ? `${base}?sort=views` : base))), grid, more);
  try {
    const n = await listInto(grid, more, `/api/v1/videos?owner=${encodeURIComponent(username)}&visibility=public&limit=24${sort === "views" ? "&sort=views" : ""}`);
    if (!n) grid.replaceWith(h("p", { class: "empty", "data-testid": "channel-empty" }, `${username} has no public videos yet.`));
  } catch (err) { main.append(errorBox(err)); }
}

function field(label, input, hint) {
  const id = input.id || (input.id = `f-${input.name}`);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("small", {}, hint) : null, h("span", { class: "field-error", id: `${id}-error`, "aria-live": "polite" }));
}

function showFieldErrors(form, err) {
  form.querySelectorAll(".field-error").forEach((e) => (e.textContent = ""));
  form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  let first = null;
  for (const [name, why] of Object.entries(err.fields || {})) {
    const input = form.elements[name];
    if (!input) continue;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", `${input.id}-error`);
    first ??= input;
    const box = $(`#${input.id}-error`, form);
    // Whole sentences are shown as they are; fragments ("is required") after the field's name.
    const label = name.replaceAll("_", " ");
    if (box) box.textContent = /^[A-Z]/.test(why) ? why : `${label[0].toUpperCase()}${label.slice(1)} ${why}.`;
  }
  // The first field at fault comes into view with its message, wherever the form was scrolled.
  if (first) { first.focus({ preventScroll: true }); first.scrollIntoView({ block: "center" }); }
}

function authForm(kind) {
  const isSignup = kind === "signup";
  const inputs = isSignup
    ? [["Username", "username", "text", "username"], ["Email", "email", "email", "email"], ["First name (optional)", "first_name", "text", "given-name", true],
      ["Last name (optional)", "last_name", "text", "family-name", true], ["Password", "password", "password", "new-password"], ["Repeat password", "password_confirm", "password", "new-password"]]
    : [["Username or email", "credential", "text", "username"], ["Password", "password", "password", "current-password"]];
  const status = h("div", { "aria-live": "assertive" });
  const form = h("form", { class: "panel", novalidate: true },
    h("h1", {}, isSignup ? "Create your account" : "Log in"),
    ...inputs.map(([label, name, type, ac, optional]) => field(label, h("input", { name, type, autocomplete: ac, required: !optional }))),
    h("button", { type: "submit", class: "primary" }, isSignup ? "Sign up" : "Log in"),
    status,
    h("p", {}, isSignup ? h("a", { href: "/login", "data-link": true }, "Already have an account? Log in") : h("a", { href: "/signup", "data-link": true }, "No account yet? Sign up")));
  if (isSignup) {
    // The strength rule sign-up enforces (zxcvbn on the server), shown as the password is typed.
    const pw = form.elements.password;
    const meter = h("meter", { min: 0, max: 4, low: 2, high: 3, optimum: 4, value: 0, "data-testid": "strength", "aria-label": "Password strength" });
    const say = h("small", { "data-testid": "strength-text", "aria-live": "polite" });
    pw.closest(".field").append(meter, say);
    let timer = 0, seq = 0;
    pw.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const mine = ++seq;
        if (!pw.value) { meter.value = 0; say.textContent = ""; return; }
        try {
          const r = await api("/api/v1/auth/password-check", { method: "POST", body: Object.fromEntries(new FormData(form)) });
          if (mine !== seq) return;
          meter.value = r.score;
          say.textContent = r.message;
          say.className = r.acceptable ? "ok" : "error";
        } catch { /* rated again on submit */ }
      }, 250);
    });
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    status.replaceChildren();
    const body = Object.fromEntries(new FormData(form));
    try {
      if (isSignup) {
        await api("/api/v1/auth/signup", { method: "POST", body });
        session.tokens = await api("/api/v1/auth/login", { method: "POST", body: { credential: body.username, password: body.password } });
      } else {
        session.tokens = await api("/api/v1/auth/login", { method: "POST", body });
      }
      renderNav();
      navigate(new URLSearchParams(location.search).get("next") || "/");
    } catch (err) {
      if (err.code === "username_taken") err.fields = { username: "That username is taken. Choose another." };
      if (err.code === "email_taken") err.fields = { email: "An account with this email exists. Log in instead." };
      showFieldErrors(form, err);
      // The messages are by their fields; the box only says what no field does.
      status.replaceChildren(...(Object.keys(err.fields || {}).length ? [] : [errorBox(err)]));
    }
  });
  page(isSignup ? "Sign up" : "Log in", form);
  form.elements[0].focus();
}

function requireLogin() {
  if (session.user) return true;
  navigate(`/login?next=${encodeURIComponent(location.pathname)}`, true);
  return false;
}

// streamEvents reads the SSE endpoint with fetch, so that the access token travels in a header.
async function streamEvents(id, onEvent) {
  const headers = {};
  if (session.tokens) headers.Authorization = `Bearer ${session.tokens.access_token}`;
  const r = await fetch(`/api/v1/videos/${id}/events`, { headers });
  if (!r.ok) throw new APIError(r.status, await r.json().catch(() => null));
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const chunk = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = chunk.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      if (data) onEvent(JSON.parse(data));
    }
  }
}

// Plain words for the pipeline's stages, as the uploader reads them.
function stageText(ev) {
  if (ev.status === "ready") return "Ready";
  if (ev.status === "failed") return `Processing failed: ${ev.error || "unknown error"}`;
  if (ev.status === "queued") return "Waiting to be processed";
  switch (ev.stage) {
    case "probe": return "Checking the file";
    case "transcode": return `Encoding ${ev.progress} %`;
    case "store": return "Publishing";
  }
  return `Processing ${ev.progress} %`;
}

function bytes(n) {
  return n >= 1e9 ? `${(n / 1e9).toFixed(1)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.round(n / 1e3)} kB`;
}

// The message of a failed tus request: the API's error body when there is one.
function tusMessage(err) {
  const res = err.originalResponse;
  if (res) {
    try { const m = JSON.parse(res.getBody())?.error?.message; if (m) return m; } catch { /* not JSON */ }
    if (res.getStatus() === 0) return "The connection to the server was lost.";
  }
  return "The upload failed: the connection to the server was lost.";
}

// protectionSelect is the menu of a video's protection; withDefault offers the server's default.
function protectionSelect(value, attrs, withDefault) {
  const opts = [["none", "Not encrypted"], ["clearkey", "Encrypted (ClearKey)"]];
  if (withDefault) opts.unshift(["", "Server default"]);
  return h("select", attrs, ...opts.map(([x, label]) => h("option", { value: x, selected: x === value ? true : null }, label)));
}

// uploadPage sends the file with tus-js-client (resumable: a dropped connection or a reload picks up
// where the server says it stopped), then follows processing over the video's events.
function uploadPage() {
  if (!requireLogin()) return;
  const file = h("input", { type: "file", name: "file", accept: "video/*,.mkv,.mov,.mp4,.webm", required: true });
  const title = h("input", { name: "title", type: "text", maxlength: 200 });
  const desc = h("textarea", { name: "description", rows: 3, maxlength: 5000 });
  const vis = h("select", { name: "visibility" }, h("option", { value: "public" }, "Public"), h("option", { value: "unlisted" }, "Unlisted"), h("option", { value: "private" }, "Private"));
  const prot = protectionSelect("", { name: "protection", "data-testid": "upload-protection" }, true);
  const bar = h("progress", { max: 100, value: 0, "data-testid": "upload-progress", "aria-label": "Upload progress" });
  const procBar = h("progress", { max: 100, value: 0, "data-testid": "processing-progress", "aria-label": "Processing progress" });
  const state = h("p", { class: "upload-state", "data-testid": "upload-state", "aria-live": "polite" });
  const rate = h("small", { class: "muted", "data-testid": "upload-rate" });
  const pause = h("button", { type: "button", "data-testid": "upload-pause" }, "Pause");
  const cancel = h("button", { type: "button", "data-testid": "upload-cancel" }, "Cancel");
  const again = h("button", { type: "button", hidden: true, "data-testid": "upload-again" }, "Upload another");
  const status = h("div", { class: "upload-actions", "data-testid": "upload-status" });
  const submit = h("button", { type: "submit", class: "primary" }, "Upload");
  const drop = h("label", { class: "drop", for: "f-file", "data-testid": "drop-zone" }, "Drop a video here, or choose a file below");
  const interrupted = h("div", { "data-testid": "interrupted" });
  // What the uploader sees while a file goes up: status line first, so that it and the Watch
  // button stay in view on a phone without scrolling.
  const progressBox = h("section", { class: "upload-progress", hidden: true, "aria-label": "Upload" },
    state, rate, h("div", { class: "progress" }, h("label", {}, "Upload", bar), h("label", {}, "Processing", procBar)),
    h("div", { class: "upload-actions" }, pause, cancel, again), status);
  const fields = h("div", { class: "fields" }, drop, field("Video file", file), field("Title", title, "Defaults to the file name"),
    field("Description", desc), field("Visibility", vis), field("Protection", prot, "Encrypted: the key goes only to viewers allowed to watch"), submit);
  const form = h("form", { class: "panel wide", novalidate: true }, h("h1", {}, "Upload a video"), interrupted, progressBox, fields);

  let upload = null;
  let videoId = "";
  const leaving = (e) => { e.preventDefault(); e.returnValue = ""; };
  const guard = (on) => (on ? window.addEventListener("beforeunload", leaving) : window.removeEventListener("beforeunload", leaving));
  const fail = (msg) => {
    guard(false);
    state.textContent = "";
    state.dataset.status = "failed";
    rate.textContent = "";
    pause.hidden = cancel.hidden = true;
    again.hidden = false;
    status.replaceChildren(errorBox(new Error(msg)));
  };
  const reset = () => {
    upload = null; videoId = "";
    progressBox.hidden = true; fields.hidden = false;
    bar.value = procBar.value = 0;
    state.textContent = rate.textContent = "";
    delete state.dataset.status;
    status.replaceChildren();
    showFieldErrors(form, {});
  };
  again.addEventListener("click", () => { reset(); file.value = ""; });

  // Interrupted uploads this browser remembers (tus-js-client's fingerprint store): choosing the
  // same file again resumes it.
  const remembered = async () => {
    try {
      const all = await tus.defaultOptions.urlStorage.findAllUploads();
      interrupted.replaceChildren(...all.slice(0, 3).map((u) => h("p", { class: "notice" },
        `An upload of ${u.metadata?.filename || "a file"} was interrupted. Choose the same file to resume it.`)));
    } catch { /* storage unavailable */ }
  };
  if (window.tus) remembered();

  const setFile = (f) => {
    if (!title.value) title.placeholder = f.name.replace(/\.[^.]+$/, "");
    status.replaceChildren();
    showFieldErrors(form, {});
  };
  file.addEventListener("change", () => file.files[0] && setFile(file.files[0]));
  // Drag and drop anywhere on the page while it is shown.
  const over = (e) => { if (!main.contains(form)) return; e.preventDefault(); drop.classList.add("over"); };
  const dropped = (e) => {
    if (!main.contains(form)) return;
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer?.files?.length && fields.hidden === false) { file.files = e.dataTransfer.files; setFile(file.files[0]); }
  };
  document.addEventListener("dragover", over);
  document.addEventListener("dragleave", () => drop.classList.remove("over"));
  document.addEventListener("drop", dropped);

  const follow = async (id) => {
    state.textContent = "Uploaded. Checking the file";
    try {
      await streamEvents(id, (ev) => {
        procBar.value = ev.progress;
        state.textContent = stageText(ev);
        state.dataset.status = ev.status;
        // Waiting behind other uploads on a busy server: say how many are ahead.
        if (ev.queue_position > 0 && !(ev.available_seconds > 0)) {
          state.textContent += ` · ${ev.queue_position} video${ev.queue_position === 1 ? "" : "s"} ahead`;
        }
        state.dataset.queue = ev.queue_position ?? "";
        // Playable long before it is ready: the first seconds are encoded first.
        if (ev.status === "processing" && ev.available_seconds > 0) state.textContent += ` · the first ${duration(ev.available_seconds, Math.floor)} can be watched`;
        state.dataset.playable = ev.available_seconds > 0 ? "1" : "";
        if ((ev.status === "ready" || ev.available_seconds > 0) && !status.querySelector("[data-testid=watch-link]")) {
          status.replaceChildren(h("a", { href: `/watch/${id}`, "data-link": true, class: "button primary", "data-testid": "watch-link" }, "Watch now"));
        }
        if (ev.status === "failed") { status.replaceChildren(errorBox(new Error(stageText(ev)))); state.textContent = ""; }
        if (ev.status === "ready" || ev.status === "failed") again.hidden = false;
      });
    } catch (err) { status.replaceChildren(errorBox(err)); }
  };

  pause.addEventListener("click", () => {
    if (!upload) return;
    if (pause.textContent === "Pause") {
      upload.abort();
      guard(false);
      pause.textContent = "Resume";
      state.textContent = `Paused at ${bar.value} %`;
      rate.textContent = "";
    } else {
      pause.textContent = "Pause";
      guard(true);
      upload.start();
    }
  });
  cancel.addEventListener("click", async () => {
    if (!upload) return;
    const u = upload;
    guard(false);
    try { await u.abort(true); } catch { /* already gone */ }
    reset();
    state.textContent = "";
    status.replaceChildren(h("p", { class: "notice", "data-testid": "cancelled" }, "Upload cancelled."));
    progressBox.hidden = false;
    pause.hidden = cancel.hidden = true;
    again.hidden = false;
  });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    status.replaceChildren();
    showFieldErrors(form, {});
    const f = file.files[0];
    if (!f) { showFieldErrors(form, { fields: { file: "is required" } }); return; }
    if (!window.tus) { status.replaceChildren(errorBox(new Error("The upload library did not load; reload the page."))); return; }
    fields.hidden = true;
    progressBox.hidden = false;
    pause.hidden = cancel.hidden = false;
    pause.textContent = "Pause";
    again.hidden = true;
    bar.value = procBar.value = 0;
    state.textContent = "Starting the upload";
    delete state.dataset.status;
    window.scrollTo(0, 0);
    let started = 0, startBytes = 0, resumed = false;
    upload = new tus.Upload(f, {
      endpoint: "/api/v1/tus/",
      chunkSize: 8 * 1024 * 1024,
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      removeFingerprintOnSuccess: true,
      metadata: { filename: f.name, filetype: f.type || "application/octet-stream", title: title.value, description: desc.value, visibility: vis.value,
        ...(prot.value ? { protection: prot.value } : {}) },
      onBeforeRequest: async (req) => {
        if (refreshing) await refreshing;
        req.setHeader("Authorization", `Bearer ${session.tokens?.access_token || ""}`);
      },
      onAfterResponse: (req, res) => { const id = res.getHeader("Vod-Video-Id"); if (id) videoId = id; },
      onShouldRetry: (err) => {
        const st = err.originalResponse ? err.originalResponse.getStatus() : 0;
        if (st === 401) { refresh(); return true; }
        return st === 0 || st >= 500 || st === 409 || st === 423;
      },
      onProgress: (sent, total) => {
        const now = performance.now();
        if (!started) { started = now; startBytes = sent; }
        bar.value = Math.floor((100 * sent) / total);
        const secs = (now - started) / 1000, speed = secs > 0.5 ? (sent - startBytes) / secs : 0;
        state.textContent = resumed && sent - startBytes < total / 50 ? `Resuming at ${bar.value} %` : `Uploading ${bar.value} %`;
        state.dataset.status = "uploading";
        rate.textContent = speed > 0 ? `${bytes(speed)}/s · ${duration((total - sent) / speed)} left` : "";
      },
      onError: (err) => { upload = null; fail(tusMessage(err)); },
      onSuccess: () => {
        guard(false);
        upload = null;
        bar.value = 100;
        rate.textContent = "";
        pause.hidden = cancel.hidden = true;
        interrupted.replaceChildren();
        if (videoId) follow(videoId);
      },
    });
    const previous = await upload.findPreviousUploads().catch(() => []);
    if (previous.length) {
      upload.resumeFromPreviousUpload(previous[0]);
      resumed = true;
      state.textContent = "Resuming";
    }
    guard(true);
    upload.start();
  });
  page("Upload", form);
}

async function loadVTT(url) {
  const text = await (await fetch(url)).text();
  const cues = [];
  const toSec = (s) => s.split(":").reduce((acc, p) => acc * 60 + parseFloat(p), 0);
  for (const block of text.split(/\n\n+/)) {
    const m = block.match(/([\d:.]+)\s*-->\s*([\d:.]+)\s*\n(.+)/);
    if (m) cues.push({ start: toSec(m[1]), end: toSec(m[2]), text: m[3].trim() });
  }
  return cues;
}

async function watch(id) {
  let v;
  try { v = (await api(`/api/v1/videos/${id}`)).video; } catch (err) {
    if (err.status === 404) {
      // The API does not say which: a private video is "not found" for everyone but its owner.
      page("Video unavailable", h("section", { class: "panel", "data-testid": "unavailable" },
        h("h1", {}, "This video is private or does not exist"),
        h("p", {}, session.user ? "If someone shared this link with you, ask them to check it or to make the video unlisted." : "If it is yours, log in to watch it."),
        session.user ? h("a", { href: "/", "data-link": true, class: "button" }, "Go home")
          : h("a", { href: `/login?next=${encodeURIComponent(location.pathname)}`, "data-link": true, class: "button primary" }, "Log in")));
      return;
    }
    page("Error", errorBox(err));
    return;
  }
  // Resume where this browser left off (kept locally), unless the link names a moment. A position
  // in the first 3 s or the last few (up to 10 s) is not worth resuming.
  const params0 = new URLSearchParams(location.search);
  const posKey = `vod.pos.${v.id}`;
  const resumable = (pos, d) => pos >= 3 && pos < d - Math.max(1, Math.min(10, d * 0.05));
  const saved = parseFloat(localStorage.getItem(posKey)) || 0;
  const resumeAt = !params0.has("t") && resumable(saved, v.duration_seconds || 0) ? saved : 0;
  const start = parseFloat(params0.get("t")) || resumeAt;
  const video = h("video", { controls: true, playsinline: true, preload: "metadata", poster: v.thumbnails?.poster, "data-testid": "video", crossorigin: "anonymous" });
  const quality = h("select", { id: "quality", "data-testid": "quality", "aria-label": "Quality" }, h("option", { value: "auto" }, "Auto"));
  const subs = h("select", { id: "subtitles", "data-testid": "subtitles", "aria-label": "Subtitles" }, h("option", { value: "off" }, "Subtitles off"));
  const preview = h("div", { class: "preview", hidden: true, "aria-hidden": "true" }, h("div", { class: "sprite" }), h("span"));
  const scrub = h("input", { type: "range", min: 0, max: v.duration_seconds || 0, step: 0.1, value: start, class: "scrub", "aria-label": "Seek" });
  const info = h("section", { class: "info" },
    h("h1", { "data-testid": "title" }, v.title),
    h("p", { class: "owner" }, "by ", ownerLink(v.owner, "who"), ` · ${duration(v.duration_seconds)} · `,
      h("span", { "data-testid": "views" }, viewsText(v.views)), ` · ${ago(v.created_at)}`),
    v.description ? h("p", { class: "desc" }, v.description) : null,
    v.playback?.mp4 ? h("a", { href: v.playback.mp4, download: "", class: "button" }, "Download MP4") : null);
  const audioSel = h("select", { id: "audio", "data-testid": "audio", "aria-label": "Audio language" });
  const audioLabel = h("label", { hidden: true }, "Audio ", audioSel);
  const speed = h("select", { id: "speed", "data-testid": "speed", "aria-label": "Playback speed" },
    ...[0.5, 0.75, 1, 1.25, 1.5, 2].map((r) => h("option", { value: String(r), selected: r === 1 ? true : null }, r === 1 ? "Normal" : `${r}×`)));
  speed.addEventListener("change", () => (video.playbackRate = Number(speed.value)));
  video.addEventListener("ratechange", () => { if (String(video.playbackRate) !== speed.value) speed.value = String(video.playbackRate); });
  const shareBtn = h("button", { type: "button", "data-testid": "share" }, "Share");
  const controls = h("div", { class: "controls" }, h("label", {}, "Quality ", quality), audioLabel, h("label", {}, "Subtitles ", subs),
    h("label", {}, "Speed ", speed), shareBtn,
    h("span", { class: "keys" }, "Keys: space play/pause · ←/→ 5 s · f fullscreen · m mute · c captions"));
  // Share: the link (at the current moment if wanted) and the code to embed the player elsewhere.
  const shareBox = h("section", { class: "share panel wide", hidden: true, "data-testid": "share-box", "aria-label": "Share" });
  shareBtn.addEventListener("click", () => {
    if (!shareBox.hidden) { shareBox.hidden = true; return; }
    const at = Math.floor(video.currentTime || 0);
    const link = h("input", { readonly: true, "data-testid": "share-link", "aria-label": "Link", value: `${location.origin}/watch/${v.id}` });
    const withTime = h("input", { type: "checkbox", "data-testid": "share-at" });
    const setLink = () => (link.value = `${location.origin}/watch/${v.id}${withTime.checked ? `?t=${at}` : ""}`);
    withTime.addEventListener("change", setLink);
    // A private video's embed carries the signed token of its playback URLs (it expires with them).
    const tok = (v.playback?.dash || "").match(/\/media\/s\/([^/]+)\//);
    const code = h("textarea", { readonly: true, rows: 3, "data-testid": "share-embed", "aria-label": "Embed code" },
      `<iframe src="${location.origin}/embed/${v.id}${tok ? `?token=${tok[1]}` : ""}" width="640" height="360" allow="autoplay; fullscreen; encrypted-media" allowfullscreen title="${v.title.replace(/"/g, "&quot;")}"></iframe>`);
    const copy = (el) => h("button", { type: "button", onclick: () => navigator.clipboard?.writeText(el.value).catch(() => el.select()) }, "Copy");
    shareBox.replaceChildren(h("h2", {}, "Share"), h("div", { class: "row" }, link, copy(link)),
      h("label", {}, withTime, ` Start at ${duration(at, Math.floor)}`), h("h3", {}, "Embed"), code, copy(code));
    if (at > 0) { withTime.checked = true; setLink(); }
    shareBox.hidden = false;
  });
  const notice = h("p", { class: "notice", "data-testid": "processing", "aria-live": "polite", hidden: true });
  page(v.title, h("div", { class: "stage" }, video, h("div", { class: "scrubwrap" }, scrub, preview)), notice, controls, shareBox, info);
  if (resumeAt) setTimeout(() => { // after the status line is set below
    notice.hidden = false;
    notice.dataset.status = "resumed";
    notice.replaceChildren(`Resuming at ${duration(resumeAt, Math.floor)}. `,
      h("button", { type: "button", class: "link", "data-testid": "start-over", onclick: () => { video.currentTime = 0; localStorage.removeItem(posKey); notice.hidden = true; } }, "Start over"));
  }, 0);
  let lastSave = 0;
  video.addEventListener("timeupdate", () => {
    if (Date.now() - lastSave < 2000) return;
    lastSave = Date.now();
    if (resumable(video.currentTime, v.duration_seconds || 0)) localStorage.setItem(posKey, String(video.currentTime));
    else if (video.currentTime >= 3) localStorage.removeItem(posKey); // near the end: watched
  });
  video.addEventListener("ended", () => localStorage.removeItem(posKey));
  countView(video, () => api(`/api/v1/videos/${v.id}/views`, { method: "POST" })
    .then((r) => { const el = $("[data-testid=views]", info); if (el) el.textContent = viewsText(r.views); }).catch(() => {}));
  // available: how far the video can be watched; below its duration while it still processes.
  let available = v.status === "ready" ? v.duration_seconds : v.available_seconds || 0;
  const playable = (x) => x.status === "ready" || (x.status === "processing" && x.available_seconds > 0 && x.playback?.dash);
  const say = (x) => {
    notice.hidden = x.status === "ready";
    notice.dataset.status = x.status;
    if (x.status === "failed") notice.textContent = `Processing failed: ${x.error || "unknown error"}`;
    else if (x.status === "processing" && available > 0) notice.textContent = `Still processing: the first ${duration(available, Math.floor)} of ${duration(x.duration_seconds)} can be watched now, the rest follows as it is ready.`;
    else if (x.status !== "ready") notice.textContent = `This video is ${x.status}${x.progress ? ` (${x.progress}%)` : ""}. It will start here as soon as it can be watched.`;
  };
  say(v);
  let started = false;
  // complete adds what a ready video has: the subtitle menu (every track; the native text tracks
  // shown are the side-loaded ones) and the download, when the page did not have it.
  const complete = (x) => {
    x.subtitles.forEach((s, i) => subs.append(h("option", { value: String(i) }, s.label || s.lang)));
    x.subtitles.forEach((s) => video.append(h("track", { kind: "subtitles", src: s.url, srclang: s.lang.split("-x-")[0], label: s.label })));
    if (x.playback?.mp4 && !info.querySelector("a[download]")) info.append(h("a", { href: x.playback.mp4, download: "", class: "button" }, "Download MP4"));
  };
  subs.addEventListener("change", () => {
    const sel = v.subtitles[Number(subs.value)];
    for (const t of video.textTracks) {
      t.mode = sel && t.label === sel.label && t.language === sel.lang.split("-x-")[0] ? "showing" : "disabled";
    }
  });
  // A processing video: follow its events, start the player the moment it is playable, and at ready
  // only complete the page (the player goes on from the same manifest, which turns final).
  if (v.status !== "ready") {
    streamEvents(id, async (ev) => {
      if (ev.available_seconds > available) available = ev.available_seconds;
      // One read of the video when it becomes playable, and one at ready if it was playable before.
      if (!started && (ev.status === "ready" || ev.available_seconds > 0)) {
        try { v = (await api(`/api/v1/videos/${id}`)).video; } catch { return; }
        if (playable(v)) { setup(true); }
      } else if (ev.status === "ready" && started) {
        try { v = (await api(`/api/v1/videos/${id}`)).video; } catch { return; }
        available = v.duration_seconds;
        complete(v);
      }
      say({ ...v, status: ev.status, progress: ev.progress, error: ev.error });
    }).catch(() => {});
  }
  // Seeking past what exists is refused gently: back to the last available second.
  video.addEventListener("seeking", () => {
    if (available > 0 && video.currentTime > available - 0.5 && v.status !== "ready") {
      video.currentTime = Math.max(0, available - 1);
      notice.textContent = `Only the first ${duration(available, Math.floor)} can be watched yet.`;
    }
  });
  // A link to a moment (?t=, as from a search result) plays from there, like YouTube's; ?lang= turns
  // on the captions of that language (the one the search matched).
  const params = new URLSearchParams(location.search);
  const wantLang = params.get("lang");
  if (wantLang) {
    const i = v.subtitles.findIndex((s) => s.lang === wantLang);
    if (i >= 0) {
      const on = () => { subs.value = String(i); subs.dispatchEvent(new Event("change")); };
      // The side-loaded tracks exist once the page is complete; their modes apply when added.
      setTimeout(on, 0);
      video.textTracks.addEventListener("addtrack", on);
    }
  }
  if (playable(v)) setup(params.has("t") && start > 0);

  function setup(autoplay) {
    if (started) return;
    started = true;
    scrub.max = v.duration_seconds || 0;
    if (v.status === "ready") complete(v);
    let player = null;
    const useNativeHLS = !window.MediaSource && video.canPlayType("application/vnd.apple.mpegurl");
    // The viewer is told why a video does not play, once: a refused key or a browser without EME.
    const refuse = (why) => {
      notice.hidden = false;
      notice.dataset.status = "error";
      notice.replaceChildren(h("span", { class: "error", role: "alert", "data-testid": "player-error" }, why));
    };
    if (v.protection === "clearkey" && (useNativeHLS || !window.dashjs)) {
      refuse("This video is protected, and this browser cannot play protected video (it needs Encrypted Media Extensions).");
    } else if (useNativeHLS || !window.dashjs) {
      video.src = v.playback.hls;
      if (start) video.addEventListener("loadedmetadata", () => (video.currentTime = start), { once: true });
      v.renditions.forEach((r) => quality.append(h("option", { value: "auto", disabled: true }, `${r.height}p`)));
      if (autoplay) video.play().catch(() => {});
    } else {
      player = dashjs.MediaPlayer().create();
      // A processing video's MPD is dynamic: its timeline (what exists) is the window, and playback
      // starts at the beginning rather than at the "live" end.
      player.updateSettings({ streaming: { text: { defaultEnabled: false }, abr: { autoSwitchBitrate: { video: true } },
        timeShiftBuffer: { calcFromSegmentTimeline: true } } });
      protect(player, v, refuse);
      player.initialize(video, v.playback.dash, autoplay, start);
      window.vodErrors = [];
      player.on(dashjs.MediaPlayer.events.ERROR, (e) => window.vodErrors.push(e.error?.message || String(e.error?.code)));
      player.on(dashjs.MediaPlayer.events.STREAM_INITIALIZED, () => {
        const list = player.getBitrateInfoListFor("video");
        quality.replaceChildren(h("option", { value: "auto" }, "Auto"),
          ...list.map((b) => h("option", { value: String(b.qualityIndex) }, `${b.height}p · ${Math.round(b.bitrate / 1000)} kbps`)));
        // Every audio language of the video, the default first.
        const tracks = player.getTracksFor("audio");
        if (tracks.length > 1) {
          const cur = player.getCurrentTrackFor("audio");
          audioSel.replaceChildren(...tracks.map((t, i) => h("option", { value: String(i), selected: cur && cur.id === t.id ? true : null },
            (t.labels && t.labels[0] && (t.labels[0].text || t.labels[0])) || t.lang || `Audio ${i + 1}`)));
          audioSel.onchange = () => player.setCurrentTrack(tracks[Number(audioSel.value)]);
          audioLabel.hidden = false;
        }
        video.dataset.ready = "1";
      });
      quality.addEventListener("change", () => {
        const auto = quality.value === "auto";
        player.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: auto } } } });
        if (!auto) player.setQualityFor("video", Number(quality.value), true);
      });
    }
    window.vodPlayer = { video, player };
  }

  // Storyboard previews while scrubbing.
  if (v.thumbnails?.storyboard) {
    const base = v.thumbnails.storyboard.slice(0, v.thumbnails.storyboard.lastIndexOf("/") + 1);
    loadVTT(v.thumbnails.storyboard).then((cues) => {
      scrub.addEventListener("mousemove", (e) => {
        const rect = scrub.getBoundingClientRect();
        const t = ((e.clientX - rect.left) / rect.width) * (v.duration_seconds || 0);
        const cue = cues.find((c) => t >= c.start && t < c.end);
        if (!cue) return;
        const [img, xywh] = cue.text.split("#xywh=");
        const [x, y, w, hh] = xywh.split(",").map(Number);
        const sprite = $(".sprite", preview);
        Object.assign(sprite.style, { width: `${w}px`, height: `${hh}px`, backgroundImage: `url(${base}${img})`, backgroundPosition: `-${x}px -${y}px` });
        $("span", preview).textContent = duration(t);
        preview.style.left = `${Math.min(Math.max(e.clientX - rect.left - w / 2, 0), rect.width - w)}px`;
        preview.hidden = false;
      });
      scrub.addEventListener("mouseleave", () => (preview.hidden = true));
    }).catch(() => {});
  }
  scrub.addEventListener("input", () => (video.currentTime = Number(scrub.value)));
  video.addEventListener("timeupdate", () => { if (document.activeElement !== scrub) scrub.value = video.currentTime; });

  // Keyboard controls, unless typing in a field.
  document.onkeydown = (e) => {
    if (!document.contains(video) || e.target.matches("input:not([type=range]), textarea, select")) return;
    const k = e.key.toLowerCase();
    if (k === " " || k === "k") { e.preventDefault(); video.paused ? video.play() : video.pause(); }
    else if (k === "arrowright") { video.currentTime += 5; }
    else if (k === "arrowleft") { video.currentTime -= 5; }
    else if (k === "f") { document.fullscreenElement ? document.exitFullscreen() : video.requestFullscreen?.(); }
    else if (k === "m") { video.muted = !video.muted; }
    else if (k === "c") { subs.value = subs.value === "off" ? (subs.options[1]?.value || "off") : "off"; subs.dispatchEvent(new Event("change")); }
  };
}

// highlight renders a fragment from the search API (escaped text with <mark> around matches) as
// text nodes and <mark> elements, never as HTML.
function highlight(frag) {
  const entities = { "&lt;": "<", "&gt;": ">", "&amp;": "&", "&#39;": "'", "&#34;": '"', "&quot;": '"' };
  const text = (s) => s.replace(/&(lt|gt|amp|quot|#39|#34);/g, (m) => entities[m]);
  let marked = false;
  const parts = [];
  for (const p of frag.split(/(<\/?mark>)/)) {
    if (p === "<mark>" || p === "</mark>") { marked = p === "<mark>"; continue; }
    if (p) parts.push(marked ? h("mark", {}, text(p)) : text(p));
  }
  return h("p", { class: "hl", "data-testid": "highlight" }, ...parts);
}

let searchSeq = 0;

async function searchPage() {
  const params = new URLSearchParams(location.search);
  const q = params.get("q") || "";
  const scope = ["metadata", "subtitles"].includes(params.get("scope")) ? params.get("scope") : "all";
  if (document.activeElement !== $("#search-q")) $("#search-q").value = q; // never under the typist's cursor
  const seq = ++searchSeq;
  const list = h("ul", { class: "results", "data-testid": "results" });
  const more = h("button", { class: "more", hidden: true }, "Load more");
  const total = h("p", { class: "total", "data-testid": "total", "aria-live": "polite" });
  const scopes = h("nav", { class: "scopes", "aria-label": "Search in" }, ...[["all", "Everything"], ["metadata", "Titles and descriptions"], ["subtitles", "Spoken words"]].map(([value, label]) =>
    h("a", { href: `/search?q=${encodeURIComponent(q)}&scope=${value}`, "data-link": true, "aria-current": value === scope ? "page" : null }, label)));
  page(`Search: ${q}`, h("h1", {}, `Results for “${q}”`), scopes, total, list, more);
  if (!q) return;
  const load = async (cursor) => {
    const u = new URLSearchParams({ q, scope, limit: "20" });
    if (cursor) u.set("cursor", cursor);
    const data = await api(`/api/v1/search?${u}`);
    if (seq !== searchSeq) return; // a later search owns the page
    total.textContent = data.total === 1 ? "1 video" : `${data.total} videos`;
    if (!data.items.length && !cursor) list.replaceWith(h("p", { class: "empty" }, "Nothing found."));
    for (const it of data.items) {
      const v = it.video;
      list.append(h("li", { class: "result" }, card(v, "div"),
        h("div", {},
          ...(it.highlights?.title || []).concat(it.highlights?.description || []).map(highlight),
          h("ul", { class: "cues" }, ...(it.cues || []).map((c) => h("li", {},
            h("a", { href: `/watch/${v.id}?t=${c.start}&lang=${encodeURIComponent(c.lang)}`, "data-link": true, "data-testid": "cue-link" }, duration(c.start, Math.floor)), ` ${c.text}`))))));
    }
    more.hidden = !data.next_cursor;
    more.onclick = () => load(data.next_cursor).catch((err) => more.replaceWith(errorBox(err)));
  };
  try { await load(""); } catch (err) { list.replaceWith(errorBox(err)); }
}

async function myVideos() {
  if (!requireLogin()) return;
  const list = h("ul", { class: "mine-list", "data-testid": "mine" });
  page("My videos", h("div", { class: "head" }, h("h1", {}, "My videos"), h("a", { href: "/upload", "data-link": true, class: "button primary" }, "Upload")), list);
  try {
    const data = await api(`/api/v1/videos?owner=${encodeURIComponent(session.user.username)}&limit=100`);
    if (!data.items.length) list.replaceWith(h("p", { class: "empty" }, "You have not uploaded anything yet. ", h("a", { href: "/upload", "data-link": true }, "Upload a video.")));
    list.append(...data.items.map(mineItem));
  } catch (err) { main.append(errorBox(err)); }
}

// mineItem is one video of My videos: what it is (thumbnail, duration, status, date, views) and its
// editing: title, description and visibility, the thumbnail, and subtitle files. Every change
// renders the item again from the API's answer, so what is shown is what is stored.
function mineItem(v0) {
  const li = h("li", { class: "mine-item", "data-testid": "mine-item", "data-id": v0.id });
  const render = (v, said) => {
    const k = v.id.slice(0, 8);
    const msg = h("p", { class: "msg", role: "status", "data-testid": "mine-msg" }, said || "");
    const fail = (err) => { msg.textContent = err.message; msg.className = "msg error"; };
    const title = h("input", { id: `title-${k}`, name: "title", value: v.title, maxlength: 200, required: true, "data-testid": "edit-title" });
    const desc = h("textarea", { id: `desc-${k}`, name: "description", rows: 2, maxlength: 5000, "data-testid": "edit-desc" }, v.description || "");
    const vis = h("select", { id: `vis-${k}`, name: "visibility", "data-testid": "edit-vis" },
      ...["public", "unlisted", "private"].map((x) => h("option", { value: x, selected: x === v.visibility }, x[0].toUpperCase() + x.slice(1))));
    const prot = protectionSelect(v.protection, { id: `prot-${k}`, name: "protection", "data-testid": "edit-protection" }, false);
    const form = h("form", { class: "edit", onsubmit: async (e) => {
      e.preventDefault();
      try {
        const body = { title: title.value, description: desc.value, visibility: vis.value };
        // Changing the protection encodes the video again: only sent when changed.
        if (prot.value !== v.protection) body.protection = prot.value;
        const r = await api(`/api/v1/videos/${v.id}`, { method: "PATCH", body });
        render(r.video, body.protection ? "Saved. The video is being processed again with the new protection." : "Saved.");
      } catch (err) { if (err.fields && Object.keys(err.fields).length) showFieldErrors(form, err); else fail(err); }
    } }, field("Title", title), field("Description", desc), field("Visibility", vis), field("Protection", prot),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", "data-testid": "save" }, "Save"),
      h("button", { type: "button", class: "danger", "data-testid": "delete", onclick: async () => {
        if (!confirm(`Delete “${v.title}”? This cannot be undone.`)) return;
        try { await api(`/api/v1/videos/${v.id}`, { method: "DELETE" }); li.remove(); } catch (err) { fail(err); }
      } }, "Delete")));
    // The thumbnail: a JPEG or PNG of one's own, or back to the generated one.
    const custom = (v.thumbnails?.poster || "").includes("/poster/");
    const posterFile = h("input", { id: `poster-${k}`, type: "file", accept: "image/jpeg,image/png", "data-testid": "poster-file" });
    posterFile.addEventListener("change", async () => {
      const f = posterFile.files[0];
      if (!f) return;
      msg.textContent = "Uploading the thumbnail…";
      try { render((await api(`/api/v1/videos/${v.id}/poster`, { method: "PUT", form: f })).video, "Thumbnail updated."); } catch (err) { fail(err); }
    });
    // Subtitles: a WebVTT or SRT file with its language.
    const subFile = h("input", { id: `sub-${k}`, name: "file", type: "file", accept: ".vtt,.srt,text/vtt", required: true, "data-testid": "sub-file" });
    const subLang = h("input", { id: `lang-${k}`, name: "lang", required: true, maxlength: 35, placeholder: "en", size: 6, "data-testid": "sub-lang" });
    const subLabel = h("input", { id: `label-${k}`, name: "label", maxlength: 100, placeholder: "English", "data-testid": "sub-label" });
    const subForm = h("form", { class: "subform", onsubmit: async (e) => {
      e.preventDefault();
      const fd = new FormData();
      fd.append("lang", subLang.value.trim());
      fd.append("label", subLabel.value.trim());
      fd.append("file", subFile.files[0]);
      try {
        await api(`/api/v1/videos/${v.id}/subtitles`, { method: "POST", form: fd });
        render((await api(`/api/v1/videos/${v.id}`)).video, "Subtitles added.");
      } catch (err) { if (err.fields && Object.keys(err.fields).length) showFieldErrors(subForm, err); else fail(err); }
    } }, field("Subtitle file", subFile), field("Language", subLang, "A language tag such as en or pt-BR"), field("Label", subLabel),
    h("div", { class: "actions" }, h("button", { type: "submit", "data-testid": "sub-add" }, "Add subtitles")));
    const poster = v.thumbnails?.poster;
    li.replaceChildren(
      h("div", { class: "side" },
        h("a", { href: `/watch/${v.id}`, "data-link": true, class: "thumb", "aria-label": `Watch ${v.title}` },
          poster ? h("img", { src: poster, alt: "", "data-testid": "mine-poster" }) : h("div", { class: "noposter" }, v.status),
          v.duration_seconds ? h("span", { class: "dur" }, duration(v.duration_seconds)) : null),
        h("p", { class: "facts" }, h("a", { href: `/watch/${v.id}`, "data-link": true, "data-testid": "mine-title" }, v.title), h("br"),
          h("span", { "data-testid": "mine-status", class: v.status === "failed" ? "error" : null }, stageText(v)), h("br"),
          h("small", { class: "muted" }, `${new Date(v.created_at).toLocaleDateString()} · ${viewsText(v.views)} · ${v.visibility}${v.protection === "clearkey" ? " · encrypted" : ""}`))),
      h("div", { class: "body" }, form, msg,
        h("details", { class: "more-edit" }, h("summary", {}, "Thumbnail and subtitles"),
          h("div", { class: "field" }, h("label", { for: posterFile.id }, "Custom thumbnail (JPEG or PNG, up to 10 MB)"), posterFile,
            custom ? h("button", { type: "button", "data-testid": "poster-reset", onclick: async () => {
              try { render((await api(`/api/v1/videos/${v.id}/poster`, { method: "DELETE" })).video, "Back to the generated thumbnail."); } catch (err) { fail(err); }
            } }, "Use the generated thumbnail") : null),
          h("p", { class: "muted", "data-testid": "sub-list" }, v.subtitles?.length ? `Subtitles: ${v.subtitles.map((x) => x.label || x.lang).join(", ")}` : "No subtitles yet."),
          subForm)));
  };
  render(v0);
  return li;
}

const when = (t) => (t ? new Date(t).toLocaleString() : "—");

async function adminPage() {
  if (!requireLogin()) return;
  // One refusal for a non-admin, not the admin layout with an error per table.
  if (session.user.role !== "admin") {
    page("Not allowed", h("section", { class: "panel", "data-testid": "refused" }, h("h1", {}, "Administrators only"),
      h("p", {}, "Your account cannot see this page."), h("a", { href: "/", "data-link": true, class: "button primary" }, "Go home")));
    return;
  }
  const state = h("select", { "aria-label": "Job state" }, ...["", "running", "available", "retryable", "scheduled", "completed", "cancelled", "discarded"].map((x) => h("option", { value: x }, x || "any state")));
  const kind = h("input", { placeholder: "kind, e.g. transcode.chunk", "aria-label": "Job kind" });
  const jobs = h("tbody", { "data-testid": "jobs" });
  const videos = h("tbody");
  const users = h("tbody");
  const loadJobs = async () => {
    const q = new URLSearchParams({ limit: "100" });
    if (state.value) q.set("state", state.value);
    if (kind.value.trim()) q.set("kind", kind.value.trim());
    try {
      const data = await api(`/api/v1/admin/jobs?${q}`);
      jobs.replaceChildren(...data.items.map((j) => h("tr", {},
        h("td", {}, String(j.id)), h("td", {}, j.kind), h("td", {}, j.progress != null ? `${j.state} · ${j.stage || ""} ${j.progress}%` : j.state),
        h("td", {}, j.video_id ? h("a", { href: `/watch/${j.video_id}`, "data-link": true }, j.video_id.slice(0, 8)) : ""),
        h("td", {}, `${j.attempt}/${j.max_attempts}`),
        h("td", { class: "times" }, h("small", {}, `created ${when(j.created_at)}`), h("br"), h("small", {}, `attempted ${when(j.attempted_at)}`), h("br"),
          h("small", {}, `finished ${when(j.finalized_at)}`)),
        h("td", { class: "error" }, j.last_error || ""),
        // Only what applies: a finished job is retried (run again), an unfinished one cancelled.
        h("td", { class: "actions" },
          ["completed", "cancelled", "discarded", "retryable", "scheduled"].includes(j.state)
            ? h("button", { "data-testid": "job-retry", onclick: async () => { await api(`/api/v1/admin/jobs/${j.id}/retry`, { method: "POST" }); loadJobs(); } }, "Retry") : null,
          ["available", "running", "retryable", "scheduled", "pending"].includes(j.state)
            ? h("button", { class: "danger", "data-testid": "job-cancel", onclick: async () => { await api(`/api/v1/admin/jobs/${j.id}/cancel`, { method: "POST" }); loadJobs(); } }, "Cancel") : null))));
    } catch (err) { jobs.replaceChildren(h("tr", {}, h("td", { colspan: 7 }, errorBox(err)))); }
  };
  state.onchange = loadJobs;
  kind.onchange = loadJobs;
  page("Admin",
    h("h1", {}, "Administration"),
    h("h2", {}, "Jobs"), h("div", { class: "controls" }, state, kind, h("button", { onclick: loadJobs }, "Refresh")),
    h("table", { class: "mine" }, h("thead", {}, h("tr", {}, ...["ID", "Kind", "State", "Video", "Attempts", "When", "Last error", ""].map((x) => h("th", {}, x)))), jobs),
    h("h2", {}, "Videos"),
    h("table", { class: "mine" }, h("thead", {}, h("tr", {}, ...["Title", "Owner", "Status", "Visibility", "Progress", ""].map((x) => h("th", {}, x)))), videos),
    h("h2", {}, "Users"),
    h("table", { class: "mine" }, h("thead", {}, h("tr", {}, ...["Username", "Email", "Role", "State", ""].map((x) => h("th", {}, x)))), users));
  loadJobs();
  try {
    const vs = await api("/api/v1/admin/videos?limit=100");
    const videoAction = (v, label, run) => h("button", { "data-testid": `video-${label.toLowerCase()}`, class: label === "Delete" ? "danger" : null, onclick: async () => {
      if (label === "Delete" && !confirm(`Delete "${v.title}" for everyone?`)) return;
      try { await run(); adminPage(); } catch (err) { alert(err.message); }
    } }, label);
    videos.replaceChildren(...vs.items.map((v) => h("tr", {}, h("td", {}, h("a", { href: `/watch/${v.id}`, "data-link": true }, v.title)),
      h("td", {}, ownerLink(v.owner)), h("td", {}, v.status), h("td", {}, v.visibility), h("td", {}, `${v.progress}%`),
      h("td", { class: "actions" },
        v.status === "ready" || v.status === "failed" ? videoAction(v, "Reprocess", () => api(`/api/v1/videos/${v.id}/reprocess`, { method: "POST" })) : null,
        videoAction(v, "Delete", () => api(`/api/v1/videos/${v.id}`, { method: "DELETE" }))))));
    const us = await api("/api/v1/admin/users?limit=100");
    const act = (u, action) => h("button", { onclick: async () => { try { await api(`/api/v1/admin/users/${u.id}/${action}`, { method: "POST" }); adminPage(); } catch (err) { alert(err.message); } } }, action);
    users.replaceChildren(...us.items.map((u) => h("tr", {}, h("td", {}, u.username), h("td", {}, u.email), h("td", {}, u.role),
      h("td", {}, u.disabled ? "disabled" : "active"),
      // An admin cannot disable or demote themselves (the API refuses it too).
      h("td", { class: "actions" }, u.id === session.user.id ? h("small", { class: "muted" }, "you") : [act(u, u.disabled ? "enable" : "disable"), act(u, u.role === "admin" ? "demote" : "promote")]))));
  } catch (err) { main.append(errorBox(err)); }
}

function route() {
  renderNav();
  document.onkeydown = null;
  const p = location.pathname;
  let m;
  if (p === "/") return home();
  if ((m = p.match(/^\/watch\/([0-9a-f-]{36})$/))) return watch(m[1]);
  if (p === "/search") return searchPage();
  if (p === "/upload") return uploadPage();
  if (p === "/login") return authForm("login");
  if (p === "/signup") return authForm("signup");
  if (p === "/me") return myVideos();
  if (p === "/admin") return adminPage();
  if ((m = p.match(/^\/u\/([^/]+)$/))) return channel(decodeURIComponent(m[1]));
  page("Page not found", h("section", { class: "panel", "data-testid": "not-found" }, h("h1", {}, "Page not found"),
    h("p", {}, "There is nothing at this address."), h("a", { href: "/", "data-link": true, class: "button primary" }, "Go home")));
}

route();
