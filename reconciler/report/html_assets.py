"""The dashboard's stylesheet, script and icon, inlined into the page (it loads nothing else).

The stylesheet follows the reader's light or dark preference and narrows to a phone's width (wide
tables scroll sideways inside their box). The script is only on the page `orc watch` serves: it
re-reads the page every few seconds and swaps in the fresh sections (no markup is built in the
browser, so escaping stays in one place, on the server), and runs the Test chat, showing the
streamed reply with `textContent` only. The webhook token typed into the page stays in its
password field: it is never stored, in a cookie or anywhere else.
"""

from __future__ import annotations

# The SVG namespace is percent-encoded so that the page holds no URL at all, even inside a data URL.
ICON = (
    "data:image/svg+xml,%3Csvg xmlns='http%3A%2F%2Fwww.w3.org%2F2000%2Fsvg' viewBox='0 0 16 16'%3E"
    "%3Ccircle cx='8' cy='8' r='7' fill='%232f7d5b'/%3E%3C/svg%3E"
)

CSS = """
:root {
  color-scheme: light dark;
  --bg: #f7f7f5; --fg: #1d1f21; --muted: #5f6368; --card: #ffffff; --line: #dcdcd6;
  --good: #1e7a46; --good-bg: #e3f3e8; --warn: #8a5a00; --warn-bg: #fdf0d5;
  --bad: #b3261e; --bad-bg: #fbe3e1; --mute-bg: #ececea; --accent: #2f6fb3;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #15171a; --fg: #e6e6e3; --muted: #a0a4aa; --card: #1e2125; --line: #33373d;
    --good: #7fd49d; --good-bg: #1b3a28; --warn: #f0c060; --warn-bg: #3d3014;
    --bad: #ff8a80; --bad-bg: #46201d; --mute-bg: #2a2e33; --accent: #8ab4f8;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; padding: 1rem; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
main { display: grid; grid-template-columns: minmax(0, 1fr); gap: 1rem; }
header, section { min-width: 0; }
header, section {
  background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 0.75rem 1rem;
}
header { margin-bottom: 1rem; }
h1 { margin: 0 0 0.4rem; font-size: 1.35rem; }
h1 .fleet { color: var(--accent); }
h2 { margin: 0 0 0.5rem; font-size: 1.1rem; }
h3 { margin: 0.9rem 0 0.35rem; font-size: 0.95rem; }
.chips { display: flex; flex-wrap: wrap; gap: 0.35rem; margin: 0.25rem 0; }
.badge, .chip {
  display: inline-block; padding: 0.05rem 0.45rem; border-radius: 999px; font-size: 0.8rem;
  white-space: nowrap; background: var(--mute-bg);
}
.chip { border: 1px solid var(--line); }
.good { background: var(--good-bg); color: var(--good); }
.warn { background: var(--warn-bg); color: var(--warn); }
.bad { background: var(--bad-bg); color: var(--bad); }
.mute { background: var(--mute-bg); color: var(--muted); }
.meta, .url, .empty { color: var(--muted); font-size: 0.8rem; }
.url { white-space: nowrap; font-weight: normal; }
p.meta.good, p.meta.bad { background: none; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; width: 100%; }
th, td {
  text-align: left; vertical-align: top; padding: 0.35rem 0.5rem;
  border-bottom: 1px solid var(--line);
}
td { white-space: nowrap; }
td.wide { white-space: normal; min-width: 16rem; }
thead th { font-size: 0.78rem; color: var(--muted); font-weight: 600; white-space: nowrap; }
tbody th { font-weight: 600; }
code { font: 0.85rem ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.spark { color: var(--accent); display: block; }
.diagnostics { margin: 0.4rem 0 0; padding-left: 1.2rem; color: var(--bad); }
.live { float: right; font-size: 0.8rem; }
#chat form { display: grid; gap: 0.5rem; max-width: 48rem; }
fieldset { border: 0; padding: 0; margin: 0; display: grid; gap: 0.5rem; }
label { display: grid; gap: 0.2rem; font-size: 0.85rem; color: var(--muted); }
select, input, textarea, button {
  font: inherit; color: var(--fg); background: var(--bg); border: 1px solid var(--line);
  border-radius: 6px; padding: 0.4rem 0.5rem;
}
textarea { min-height: 4rem; resize: vertical; }
button { background: var(--accent); color: var(--card); border: 0; font-weight: 600; }
button:disabled, fieldset:disabled { opacity: 0.55; }
#chat-reply {
  white-space: pre-wrap; word-break: break-word; min-height: 2.5rem; margin: 0.5rem 0 0;
  padding: 0.5rem; background: var(--bg); border: 1px solid var(--line); border-radius: 6px;
  font: 0.9rem/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
}
footer { color: var(--muted); font-size: 0.75rem; margin-top: 1rem; text-align: center; }
@media (max-width: 640px) {
  body { padding: 0.5rem; font-size: 13px; }
  header, section { padding: 0.5rem 0.6rem; }
  th, td { padding: 0.3rem 0.35rem; }
  .live { float: none; display: block; }
}
"""

SCRIPT = """
(() => {
  "use strict";
  const every = Number(document.body.dataset.refresh || "0") * 1000;
  const live = document.getElementById("live");
  const SECTIONS = ["summary", "health", "models", "activity"];

  async function refresh() {
    try {
      const reply = await fetch("./", {cache: "no-store", headers: {"Accept": "text/html"}});
      if (!reply.ok) throw new Error("HTTP " + reply.status);
      const fresh = new DOMParser().parseFromString(await reply.text(), "text/html");
      for (const id of SECTIONS) {
        const next = fresh.getElementById(id), now = document.getElementById(id);
        if (next && now) now.replaceWith(document.importNode(next, true));
      }
      live.textContent = "live, updated " + new Date().toLocaleTimeString();
      live.className = "live chip good";
    } catch (err) {
      live.textContent = "cannot reach orc watch (" + err.message + "), retrying";
      live.className = "live chip bad";
    }
  }
  if (every > 0) setInterval(refresh, every);

  const form = document.getElementById("chat-form");
  if (!form || form.dataset.access === "off") return;
  const reply = document.getElementById("chat-reply");
  const meta = document.getElementById("chat-meta");
  const button = form.querySelector("button");

  function ms(value) { return value == null ? "-" : Math.round(value) + " ms"; }

  function show(event) {
    if (event.type === "chunk") {
      reply.append(event.content);
      meta.textContent = "streaming from " + event.instance + "...";
    } else if (event.type === "done") {
      const m = event.metrics || {};
      const speed = m.tokens_per_second == null ? "-" : m.tokens_per_second + " tokens/s";
      const moved = (event.failovers || []).map((f) => f.instance + ": " + f.reason);
      meta.textContent = "via " + event.instance + " (priority " + event.priority + ")" +
        " · first token " + ms(m.time_to_first_token_ms) + " · total " + ms(m.total_ms) +
        " · " + speed + (moved.length ? " · failed over from " + moved.join(", ") : "");
      meta.className = "meta good";
    } else if (event.type === "error") {
      meta.textContent = "chat failed: " + event.error;
      meta.className = "meta bad";
    }
  }

  async function stream(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      let end;
      while ((end = buffer.indexOf("\\n")) >= 0) {
        const line = buffer.slice(0, end).trim();
        buffer = buffer.slice(end + 1);
        if (line) show(JSON.parse(line));
      }
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = form.elements.token ? form.elements.token.value : "";
    const headers = {"Content-Type": "application/json"};
    if (token) headers["Authorization"] = "Bearer " + token;
    const asked = {model: form.elements.model.value, prompt: form.elements.prompt.value};
    const body = JSON.stringify(asked);
    reply.textContent = "";
    meta.textContent = "choosing an instance...";
    meta.className = "meta";
    button.disabled = true;
    try {
      const response = await fetch("chat", {method: "POST", headers, body, cache: "no-store"});
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        throw new Error(problem.error || "HTTP " + response.status);
      }
      await stream(response);
    } catch (err) {
      meta.textContent = "chat failed: " + err.message;
      meta.className = "meta bad";
    } finally {
      button.disabled = false;
    }
  });
})();
"""
