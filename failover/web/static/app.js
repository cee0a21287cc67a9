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

// The zone's usual abbreviation: en-US knows EST/PST, en-GB knows CET/BST; else "GMT+9".
function zoneName(date) {
  let fallback = "";
  for (const locale of ["en-US", "en-GB"]) {
    const part = new Intl.DateTimeFormat(locale, { timeZoneName: "short" })
      .formatToParts(date).find(p => p.type === "timeZoneName");
    const name = part ? part.value : "";
    if (name && !/^(GMT|UTC)[+-]/.test(name)) return name;
    fallback = fallback || name;
  }
  return fallback;
}

function localTime(date) {
  const parts = {};
  const fmt = new Intl.DateTimeFormat("en-GB", {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23",
  });
  for (const p of fmt.formatToParts(date)) parts[p.type] = p.value;
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${zoneName(date)}`;
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

// A per-channel preview of how the text will be fitted: the compose form's, and the incident
// forms' (their server end renders the state prefix, then asks the same intake preview).
function livePreview(form, url, payload, drafted) {
  const body = document.getElementById("preview-body");
  if (!body) return;
  let timer = null;
  const update = async () => {
    const r = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(payload()),
    });
    const data = await r.json();
    body.replaceChildren();
    if (!r.ok) {
      const p = document.createElement("p"); p.className = "error"; p.textContent = data.error;
      body.append(p); return;
    }
    for (const ch of data.channels) body.append(previewCard(ch, drafted()));
  };
  const soon = () => { clearTimeout(timer); timer = setTimeout(update, 250); };
  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  update();
}

function composePreview() {
  const form = document.getElementById("compose");
  if (!form) return;
  livePreview(form, "/ui/preview", () => {
    const payload = {
      text: form.text.value, title: form.title.value || null, link: form.link.value || null,
      route: form.route.value, overrides: {},
    };
    for (const area of form.querySelectorAll("textarea[data-override]")) {
      if (area.value.trim()) payload.overrides[area.dataset.override] = area.value;
    }
    return payload;
  }, draft);
}

// Incidents and maintenance: the message has no title, link or image of its own.
function incidentPreview() {
  const form = document.querySelector("form[data-preview]");
  if (!form) return;
  const value = name => (form.elements.namedItem(name) || {}).value || "";
  livePreview(form, form.dataset.preview, () => ({
    incident: form.dataset.incident || null, title: value("title"), body: value("body"),
    state: value("state") || form.dataset.state, impact: value("impact") || form.dataset.impact,
    route: value("route") || null,
  }), () => ({ title: "", link: "", cw: "", alt: "", image: null }));
}

// Preview cards that look like the platform: X's counter and thread numbering, Mastodon's
// content warning and alt text, Bluesky's link and tag facets, an email's subject and
// preheader, a Slack message, the status page item. A channel that is not connected still
// shows how its post would look.
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function channelLabel(name) {
  const span = document.querySelector(`#channel-labels [data-channel="${CSS.escape(name)}"]`);
  return span ? span.textContent : name;
}

function draft() {
  const form = document.getElementById("compose");
  const file = form.image && form.image.files[0];
  if (file && (!draft.file || draft.file !== file)) {
    if (draft.url) URL.revokeObjectURL(draft.url);
    draft.file = file; draft.url = URL.createObjectURL(file);
  }
  return {
    title: form.title.value.trim(), link: form.link.value.trim(),
    cw: form.content_warning.value.trim(), alt: form.alt.value.trim(),
    image: file ? draft.url : null,
  };
}

// Links, #tags and @mentions as the platform marks them (Bluesky calls these facets).
function withFacets(text) {
  const p = el("p", "post-body");
  const re = /(https?:\/\/[^\s]+|#[\p{L}\p{N}_]+|@[\w.-]+\.[\w.-]+)/gu;
  let last = 0;
  for (const m of text.matchAll(re)) {
    p.append(text.slice(last, m.index));
    const tok = m[0];
    const a = el("a", tok.startsWith("#") ? "facet tag" : tok.startsWith("@") ? "facet mention" : "facet link", tok);
    if (tok.startsWith("http")) { a.href = tok; a.rel = "noopener nofollow"; a.target = "_blank"; }
    p.append(a);
    last = m.index + tok.length;
  }
  p.append(text.slice(last));
  return p;
}

function image(d, withAlt) {
  if (!d.image) return null;
  const fig = el("figure", "media");
  const img = el("img");
  img.src = d.image; img.alt = d.alt;
  fig.append(img);
  if (withAlt) {
    const badge = el("span", "alt-badge", "ALT");
    badge.title = d.alt || "no alt text: add one for people who cannot see the image";
    if (!d.alt) badge.classList.add("missing");
    fig.append(badge);
  }
  return fig;
}

function textEl(post) { return el("pre", "post", post.text); }

const PLATFORMS = {
  x(ch, d, body) {
    ch.posts.forEach((post, i) => {
      const tweet = el("div", "tweet");
      tweet.append(el("div", "who", "Your account · now"), textEl(post));
      if (i === 0 && image(d)) tweet.append(image(d));
      const foot = el("div", "counter");
      foot.textContent = (ch.posts.length > 1 ? `${i + 1}/${ch.posts.length} · ` : "") +
        `${post.length}/${ch.limit || "?"}`;
      if (ch.limit && post.length > ch.limit) foot.classList.add("over");
      tweet.append(foot);
      body.append(tweet);
    });
  },
  mastodon(ch, d, body) {
    ch.posts.forEach((post, i) => {
      const toot = el("div", "toot");
      toot.append(el("div", "who", "Your account · now"));
      const content = el("div", "content");
      content.append(textEl(post));
      if (i === 0 && image(d, true)) content.append(image(d, true));
      if (d.cw) {
        const det = el("details", "cw");
        det.append(el("summary", null, `CW: ${d.cw} — show more`), content);
        toot.append(det);
      } else toot.append(content);
      body.append(toot);
    });
  },
  bluesky(ch, d, body) {
    ch.posts.forEach((post, i) => {
      const sky = el("div", "skeet");
      sky.append(el("div", "who", "Your account · now"));
      const text = textEl(post);
      text.replaceChildren(...withFacets(post.text).childNodes);
      sky.append(text);
      if (i === 0 && image(d, true)) sky.append(image(d, true));
      if (i === 0 && d.link) sky.append(el("div", "link-card", d.link));
      sky.append(el("div", "counter", `${post.length}/${ch.limit || 300}`));
      body.append(sky);
    });
  },
  email(ch, d, body) {
    const text = ch.posts.map(p => p.text).join("\n\n");
    const mail = el("div", "email");
    const first = text.split("\n")[0];
    mail.append(el("div", "subject", d.title || first.slice(0, 78)));
    mail.append(el("div", "preheader", text.replace(/\s+/g, " ").slice(0, 90)));
    mail.append(el("pre", "post", text));
    if (image(d)) mail.append(image(d));
    body.append(mail);
  },
  slack(ch, d, body) {
    const msg = el("div", "slack-msg");
    msg.append(el("div", "who", "failover APP · now"));
    if (d.title) msg.append(el("strong", "title", d.title));
    for (const post of ch.posts) {
      const t = textEl(post);
      t.replaceChildren(...withFacets(post.text).childNodes);
      msg.append(t);
    }
    body.append(msg);
  },
  feed(ch, d, body) {
    const item = el("div", "status-item");
    item.append(el("div", "who", "Status page · now"));
    if (d.title) item.append(el("h4", null, d.title));
    for (const post of ch.posts) item.append(textEl(post));
    if (d.link) item.append(el("a", "facet link", d.link));
    if (image(d)) item.append(image(d));
    body.append(item);
  },
};

function previewCard(ch, d) {
  const card = el("article", `preview-card platform-${ch.type || "other"}`);
  card.dataset.channel = ch.channel;
  const head = el("header");
  head.append(el("h3", null, channelLabel(ch.channel)));
  head.append(el("small", "order", ch.tier === 0 ? "first choice" : "fallback, if the channels before it cannot take it"));
  const verdict = el("p", "verdict");
  const counter = ch.limit ? ` · ${ch.length}/${ch.limit} by the ${ch.rule} rule` : "";
  verdict.textContent = ch.verdict + counter;
  if (ch.limit && ch.length > ch.limit) verdict.classList.add("over");
  card.append(head, verdict);
  if (ch.unavailable) {
    const note = el("p", "not-connected", `${channelLabel(ch.channel)} is not connected; this is how it would look.`);
    card.append(note);
  }
  const body = el("div", "platform-body");
  const render = PLATFORMS[ch.type];
  if (render && ch.posts.length) render(ch, d, body);
  else for (const post of ch.posts) body.append(textEl(post));
  card.append(body);
  return card;
}

// Calendar: drop a message on another day to move it there, at the same time of day. The
// server checks the CSRF token, the role and the time exactly as for the edit form.
function calendarMoves() {
  const table = document.querySelector("table.calendar");
  if (!table) return;
  const error = document.getElementById("calendar-error");
  for (const entry of table.querySelectorAll(".entry[draggable=true]")) {
    entry.addEventListener("dragstart", e => {
      e.dataTransfer.setData("text/plain", entry.dataset.id);
      e.dataTransfer.effectAllowed = "move";
    });
  }
  for (const cell of table.querySelectorAll("td[data-drop]")) {
    cell.addEventListener("dragover", e => { e.preventDefault(); cell.classList.add("drop-target"); });
    cell.addEventListener("dragleave", () => cell.classList.remove("drop-target"));
    cell.addEventListener("drop", async e => {
      e.preventDefault();
      cell.classList.remove("drop-target");
      const id = e.dataTransfer.getData("text/plain");
      const entry = table.querySelector(`.entry[data-id="${CSS.escape(id)}"]`);
      if (!entry || entry.closest("td") === cell) return;
      const body = new URLSearchParams({ date: cell.dataset.date, time: entry.dataset.time, tz: table.dataset.tz });
      const r = await fetch(`/ui/messages/${id}/move`, {
        method: "POST", credentials: "same-origin", body,
        headers: { "X-CSRF-Token": csrf(), "Accept": "application/json" },
      });
      if (r.ok) { location.reload(); return; }
      let said = `Message ${id} was not moved (${r.status}).`;
      try { said = (await r.json()).error || said; } catch (err) { /* not JSON: keep the status */ }
      error.textContent = said;
      error.hidden = false;
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes();
  liveRefresh();
  defaultZones();
  composePreview();
  incidentPreview();
  calendarMoves();
});
