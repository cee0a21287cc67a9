// failover web UI: a little JavaScript where it helps. Every page works without it.
"use strict";

function csrf() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

// Live sections refresh themselves (dashboard, a sending message) without a full reload.
function liveRefresh() {
  const live = document.getElementById("live");
  if (!live) return;
  const seconds = Number(live.dataset.refresh || 0);
  if (!seconds) return;
  setInterval(async () => {
    if (document.hidden) return;
    try {
      const r = await fetch(location.href, { credentials: "same-origin" });
      if (!r.ok) return;
      const doc = new DOMParser().parseFromString(await r.text(), "text/html");
      const fresh = doc.getElementById("live");
      if (fresh) { live.innerHTML = fresh.innerHTML; localTimes(live); }
    } catch (e) { /* offline for a moment: try again next time */ }
  }, seconds * 1000);
}

// Time-zone selects default to the browser's zone.
function defaultZones() {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  for (const select of document.querySelectorAll("select#tz")) {
    if (!select.dataset.default && zone && [...select.options].some(o => o.value === zone)) {
      select.value = zone;
      if (select.hasAttribute("data-autosubmit") && !location.search.includes("tz=")) {
        select.form.submit();
      }
    }
    if (select.hasAttribute("data-autosubmit")) {
      select.addEventListener("change", () => select.form.submit());
    }
  }
}

// Times: shown in the reader's own zone, always with the zone's name ("2026-12-01 09:00 CET"),
// and "in 3 h" where the page asks for a hint. Without JavaScript the UI's zone is shown.
function pad(n) { return String(n).padStart(2, "0"); }

function localTime(date) {
  const parts = {};
  const fmt = new Intl.DateTimeFormat("en-GB", {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23", timeZoneName: "short",
  });
  for (const p of fmt.formatToParts(date)) parts[p.type] = p.value;
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${parts.timeZoneName}`;
}

function relative(date) {
  const s = (date.getTime() - Date.now()) / 1000, a = Math.abs(s);
  if (a < 30) return "now";
  const span = a < 90 ? `${Math.round(a)} s` : a < 5400 ? `${Math.round(a / 60)} min`
    : a < 129600 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86400)} day${Math.round(a / 86400) === 1 ? "" : "s"}`;
  return s > 0 ? `in ${span}` : `${span} ago`;
}

function localTimes(root) {
  for (const t of (root || document).querySelectorAll("time[data-when]")) {
    const date = new Date(t.getAttribute("datetime"));
    if (isNaN(date)) continue;
    t.textContent = localTime(date) + (t.hasAttribute("data-hint") ? ` (${relative(date)})` : "");
  }
}

// Compose: a per-channel preview of how the text will be fitted.
function composePreview() {
  const form = document.getElementById("compose");
  const body = document.getElementById("preview-body");
  if (!form || !body) return;
  let timer = null;
  const update = async () => {
    const payload = {
      text: form.text.value, title: form.title.value || null, link: form.link.value || null,
      route: form.route.value, overrides: {},
    };
    for (const area of form.querySelectorAll("textarea[data-override]")) {
      if (area.value.trim()) payload.overrides[area.dataset.override] = area.value;
    }
    const r = await fetch("/ui/preview", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(payload),
    });
    const data = await r.json();
    body.replaceChildren();
    if (!r.ok) {
      const p = document.createElement("p"); p.className = "error"; p.textContent = data.error;
      body.append(p); return;
    }
    for (const ch of data.channels) body.append(previewCard(ch));
  };
  form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(update, 250); });
  update();
}

function previewCard(ch) {
  const card = document.createElement("article");
  card.className = "preview-card";
  card.dataset.channel = ch.channel;
  const h = document.createElement("h3");
  h.textContent = `${ch.channel} (${ch.type || "?"}) · tier ${ch.tier + 1}`;
  const verdict = document.createElement("p");
  verdict.className = "verdict";
  const counter = ch.limit ? ` · ${ch.length}/${ch.limit} by the ${ch.rule} rule` : "";
  verdict.textContent = ch.verdict + counter + (ch.unavailable ? ` · unavailable: ${ch.unavailable}` : "");
  if (ch.limit && ch.length > ch.limit) verdict.classList.add("over");
  card.append(h, verdict);
  ch.posts.forEach((post, i) => {
    const pre = document.createElement("pre");
    pre.className = "post";
    pre.textContent = post.text;
    const small = document.createElement("small");
    small.textContent = `post ${i + 1}: ${post.length}${ch.limit ? "/" + ch.limit : ""}`;
    card.append(pre, small);
  });
  return card;
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes();
  liveRefresh();
  defaultZones();
  composePreview();
});
