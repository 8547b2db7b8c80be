/* app.js: the organizers' dashboard (README "The dashboard").
 *
 * Plain JS, no library, nothing from outside. The token is kept in
 * sessionStorage (this tab only) and sent as a bearer token to the /v1
 * routes. The alert view reads GET /v1/events with fetch() and a stream
 * parser rather than EventSource, which cannot send the Authorization
 * header: the token stays out of URLs and logs. On a dropped stream it
 * says so, waits, and reconnects with Last-Event-ID, so the page catches
 * up from the last event it saw. Text from the API is only ever set as
 * textContent, never parsed as HTML. */
"use strict";
(function () {
  const S = window.PREGON_STRINGS;
  const $ = (id) => document.getElementById(id);
  const REACHED = ["delivered", "read", "replied", "clicked"];
  const FINAL = ["sent", "delivered", "read", "failed", "undelivered", "suppressed",
    "expired", "cancelled", "replied", "clicked"];
  let lang = "en";
  let stream = null;	/* the alert view's live stream */
  let pollTimer = null;

  /* ---- words ---- */

  function t(key) {
    const args = Array.prototype.slice.call(arguments, 1);
    const s = (S[lang] && S[lang][key]) || S.en[key] || key;
    return s.replace(/\{(\d)\}/g, (_, i) => String(args[i]));
  }
  function label(prefix, value) {
    const k = prefix + value;
    return (S[lang] && S[lang][k]) || S.en[k] || value;
  }
  function applyLang(l) {
    lang = S[l] ? l : "en";
    document.documentElement.lang = lang;
    $("lang").value = lang;
    document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
    document.title = "pregon · " + t("title");
    route();
  }
  function pickLang() {
    const saved = localStorage.getItem("pregon-lang");
    if (saved && S[saved]) return saved;
    const nav = (navigator.languages || [navigator.language || "en"]);
    for (const n of nav) {
      const base = String(n).toLowerCase().split("-")[0];
      if (S[base]) return base;
    }
    return "en";
  }
  function num(n) { return new Intl.NumberFormat(lang).format(n || 0); }
  function timeOf(ms) {
    return new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" }).format(new Date(ms));
  }
  function dayOf(ms) {
    return new Intl.DateTimeFormat(lang, { weekday: "long", day: "numeric", month: "long", year: "numeric" })
      .format(new Date(ms));
  }
  function duration(s) {
    if (s < 60) return s + " s";
    const m = Math.floor(s / 60), r = s % 60;
    if (m < 60) return m + " min" + (r ? " " + r + " s" : "");
    return Math.floor(m / 60) + " h " + (m % 60) + " min";
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /* ---- the API ---- */

  function token() { return sessionStorage.getItem("pregon-token"); }

  /* GET path; resolves to the JSON body, rejects with a message to show.
   * A 401 signs out: the token was revoked or mistyped. */
  async function api(path) {
    let r;
    try {
      r = await fetch(path, { headers: { Authorization: "Bearer " + token(), Accept: "application/json" },
        cache: "no-store" });
    } catch (e) {
      throw new Error(t("offline"));
    }
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (r.status === 401) {
      signOut(t("bad_token"));
      throw new Error(t("bad_token"));
    }
    if (r.status === 429) throw new Error(t("too_many"));
    if (r.status === 503 && body && body.error) throw new Error(t("api_off", body.error));
    if (r.status === 404) { const e = new Error(t("not_found", path.split("/").pop())); e.status = 404; throw e; }
    if (!r.ok) throw new Error(t("error", (body && body.error) || r.status));
    return body;
  }

  /* ---- signing in ---- */

  function signOut(why) {
    sessionStorage.removeItem("pregon-token");
    stopStream();
    showLogin(why || "");
  }
  function showLogin(msg) {
    $("login").hidden = false;
    $("app").hidden = true;
    $("logout").hidden = true;
    $("login-error").textContent = msg;
    $("token").focus();
  }
  function showApp() {
    $("login").hidden = true;
    $("app").hidden = false;
    $("logout").hidden = false;
    route();
  }
  async function signIn(ev) {
    ev.preventDefault();
    const v = $("token").value.trim();
    if (!v) return;
    sessionStorage.setItem("pregon-token", v);
    try {
      await api("/v1/jobs?limit=1");
    } catch (e) {
      if (token()) sessionStorage.removeItem("pregon-token");
      showLogin(e.message);
      return;
    }
    $("token").value = "";
    showApp();
  }

  /* ---- views ---- */

  function route() {
    if ($("app").hidden) return;
    const h = decodeURIComponent(location.hash.replace(/^#/, ""));
    const slash = h.indexOf("/");
    const view = (slash < 0 ? h : h.slice(0, slash)) || "jobs";
    const arg = slash < 0 ? "" : h.slice(slash + 1);
    const known = ["jobs", "alert", "court", "townhall"];
    const v = known.indexOf(view) >= 0 ? view : "jobs";
    known.forEach((k) => { $("view-" + k).hidden = k !== v; });
    document.querySelectorAll(".tabs a").forEach((a) => {
      if (a.dataset.view === v) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    });
    if (v !== "alert") stopStream();
    if (v !== "alert") setConn("", "");
    if (v === "jobs") loadJobs(false);
    if (v === "alert") openAlert(arg);
    if (v === "court") loadCourt(arg);
    if (v === "townhall") loadTownhall(arg);
  }

  /* Recent jobs. */
  let jobsNext = null;
  async function loadJobs(more) {
    const kind = $("jobs-kind").value;
    let q = "/v1/jobs?limit=50" + (kind ? "&kind=" + encodeURIComponent(kind) : "");
    if (more && jobsNext) q += "&cursor=" + encodeURIComponent(jobsNext);
    $("jobs-error").textContent = "";
    let page;
    try { page = await api(q); } catch (e) { $("jobs-error").textContent = e.message; return; }
    const list = $("jobs-list");
    if (!more) list.textContent = "";
    for (const j of page.jobs) list.appendChild(jobCard(j));
    if (!list.children.length) list.appendChild(el("li", "muted", t("no_jobs")));
    jobsNext = page.next;
    $("jobs-more").hidden = !page.next;
  }
  function jobCard(j) {
    const li = el("li");
    const a = el("a", "", j.id);
    a.href = "#alert/" + encodeURIComponent(j.id);
    li.appendChild(a);
    let reached = 0;
    for (const k of Object.keys(j)) {
      const m = /^c:[a-z]+:([a-z]+)$/.exec(k);
      if (m && REACHED.indexOf(m[1]) >= 0) reached += Number(j[k]) || 0;
    }
    if (j.status && REACHED.indexOf(j.status) >= 0) reached = 1;
    li.appendChild(el("span", "n", t("n_delivered", num(reached))));
    const when = Number(j.created) ? new Date(Number(j.created)).toLocaleString(lang) : "";
    const parts = [label("kind_", j.kind), when];
    if (j.messages) parts.push(t("n_messages", num(Number(j.messages))));
    if (j.event) parts.push(j.event);
    if (j["case"]) parts.push(j["case"]);
    li.appendChild(el("span", "meta", parts.filter(Boolean).join(" · ")));
    return li;
  }

  /* One alert, live. */
  let alertId = "";
  function openAlert(id) {
    $("alert-error").textContent = "";
    if (!id) {
      stopStream();
      alertId = "";
      $("alert-body").hidden = true;
      return;
    }
    $("alert-id").value = id;
    if (id === alertId && stream) { refreshAlert(); return; }
    stopStream();
    alertId = id;
    refreshAlert().then((ok) => {
      if (alertId !== id || stream) return;
      if (ok) startStream(id);
      /* Just launched, it may still wait on the queue: ask again. */
      else setTimeout(() => { if (alertId === id && !stream) { alertId = ""; openAlert(id); } }, 2000);
    });
  }
  let refreshing = false, refreshAgain = false;
  async function refreshAlert() {
    if (refreshing) { refreshAgain = true; return true; }
    refreshing = true;
    const id = alertId;
    let st = null;
    try {
      st = await api("/v1/jobs/" + encodeURIComponent(id));
    } catch (e) {
      $("alert-error").textContent = e.message;
      if (e.status === 404) $("alert-body").hidden = true;
    }
    refreshing = false;
    if (st && id === alertId) {
      $("alert-error").textContent = "";
      renderAlert(st);
    }
    if (refreshAgain) { refreshAgain = false; return refreshAlert(); }
    return st !== null;
  }
  function renderAlert(st) {
    $("alert-body").hidden = false;
    const statuses = st.statuses || {};
    let total = 0, reached = 0, done = 0;
    for (const k of Object.keys(statuses)) {
      total += statuses[k];
      if (REACHED.indexOf(k) >= 0) reached += statuses[k];
      if (FINAL.indexOf(k) >= 0) done += statuses[k];
    }
    if (st.messages && st.messages > total) total = st.messages;
    $("a-delivered").textContent = num(reached);
    $("a-delivered").dataset.n = String(reached);
    $("a-total").textContent = num(total);
    const pct = total ? Math.floor((done * 100) / total) : 0;
    $("a-bar-done").style.width = pct + "%";
    $("a-bar").setAttribute("aria-valuenow", String(pct));
    $("a-bar-label").textContent = t("done_of", num(done), num(total), pct);
    const eta = $("a-eta");
    if (st.eta) {
      eta.dataset.seconds = st.eta.seconds === null ? "" : String(st.eta.seconds);
      if (st.eta.seconds === 0) eta.textContent = t("eta_done");
      else if (st.eta.seconds === null) eta.textContent = t("eta_unknown");
      else eta.textContent = t("eta_left", duration(st.eta.seconds), timeOf(Date.parse(st.eta.last_message_at)));
    } else {
      eta.dataset.seconds = "";
      eta.textContent = "";
    }
    const au = st.audience;
    $("a-audience").textContent = au ? t("audience", num(au.expanded || 0), label("au_", au.state || "")) +
      (au.duplicates_skipped ? " · " + t("audience_dup", num(au.duplicates_skipped)) : "") : "";
    counts($("a-statuses"), statuses, "st_", "");
    channels($("a-channels"), st.channels || {});
    counts($("a-replies"), st.replies || {}, "m_", t("no_replies"));
    $("a-freetext").textContent = !st.free_text_replies ? "" :
      t(st.free_text_replies === 1 ? "free_text_one" : "free_text", num(st.free_text_replies));
    freeTexts(st.id, st.free_text_replies || 0);
    $("a-updated").textContent = new Date().toLocaleTimeString(lang);
  }
  /* What people wrote back: only an admin token may read it (the API
   * answers 403 to the others, and the count alone is shown). Read again
   * only when the count changed. */
  let freeShown = "";
  async function freeTexts(id, n) {
    const list = $("a-freetext-list");
    const key = id + ":" + n;
    if (!n) { list.textContent = ""; freeShown = key; return; }
    if (key === freeShown) return;
    freeShown = key;
    let page;
    try {
      page = await api("/v1/jobs/" + encodeURIComponent(id) + "/replies?limit=50");
    } catch (e) {
      list.textContent = "";
      return;
    }
    list.textContent = "";
    $("a-freetext").textContent = t(n === 1 ? "free_text_admin_one" : "free_text_admin", num(n));
    for (const r of page.replies.slice(-20).reverse()) {
      const li = el("li", "", "");
      li.appendChild(el("q", "", r.text));
      li.appendChild(el("span", "muted", " · " + (r.contact || "") + " · " + label("ch_", r.channel || "")));
      list.appendChild(li);
    }
  }
  function counts(dl, obj, prefix, empty) {
    dl.textContent = "";
    const keys = Object.keys(obj).sort((a, b) => obj[b] - obj[a]);
    if (!keys.length && empty) {
      dl.appendChild(el("dt", "muted", empty));
      dl.appendChild(el("dd", "", ""));
    }
    for (const k of keys) {
      const dt = el("dt", "", label(prefix, k));
      const dd = el("dd", "", num(obj[k]));
      dd.dataset.key = k;
      dd.dataset.n = String(obj[k]);
      dl.appendChild(dt);
      dl.appendChild(dd);
    }
  }
  /* Rows are statuses and columns channels: few channels, so it stays
   * narrow on a phone however many statuses there are. */
  function channels(table, chans) {
    table.textContent = "";
    const names = Object.keys(chans).sort();
    const sts = [];
    for (const c of names) for (const s of Object.keys(chans[c])) if (sts.indexOf(s) < 0) sts.push(s);
    const head = el("tr");
    head.appendChild(el("th", "", t("status")));
    for (const c of names) head.appendChild(el("th", "", label("ch_", c)));
    head.querySelectorAll("th").forEach((th) => th.setAttribute("scope", "col"));
    const thead = el("thead");
    thead.appendChild(head);
    table.appendChild(thead);
    const tbody = el("tbody");
    for (const s of sts) {
      const tr = el("tr");
      const th = el("th", "", label("st_", s));
      th.setAttribute("scope", "row");
      tr.appendChild(th);
      for (const c of names) tr.appendChild(el("td", "", num(chans[c][s] || 0)));
      tbody.appendChild(tr);
    }
    table.appendChild(tbody);
  }

  /* ---- the event stream ---- */

  function setConn(cls, text) {
    const c = $("conn");
    c.className = "conn " + cls;
    c.textContent = text;
  }
  function stopStream() {
    if (stream) { stream.stop(); stream = null; }
    if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
  }
  /* Events change counts: the state is asked again, at most every 300 ms. */
  let pending = null;
  function soon() {
    if (pending) return;
    pending = setTimeout(() => { pending = null; refreshAlert(); }, 300);
  }
  function startStream(id) {
    stream = new JobStream(id, soon);
    stream.start();
    /* The ETA moves with time even when no event comes. */
    pollTimer = setInterval(refreshAlert, 5000);
  }

  /* GET /v1/events?job=<id>, read with fetch. Reconnects after 1, 2, 4 ...
   * 15 s with Last-Event-ID, so nothing is missed. */
  function JobStream(id, onEvent) {
    this.id = id;
    this.onEvent = onEvent;
    this.last = null;
    this.stopped = false;
    this.ctl = null;
    this.delay = 1000;
    this.dropped = false;
  }
  JobStream.prototype.stop = function () {
    this.stopped = true;
    if (this.ctl) this.ctl.abort();
  };
  JobStream.prototype.start = async function () {
    while (!this.stopped) {
      if (!this.dropped) setConn("", t("conn_connecting"));
      try {
        await this.read();
      } catch (e) {
        if (this.stopped) return;
      }
      if (this.stopped) return;
      this.dropped = true;
      setConn("down", t("conn_down"));
      await new Promise((res) => setTimeout(res, this.delay));
      this.delay = Math.min(this.delay * 2, 15000);
    }
  };
  JobStream.prototype.read = async function () {
    this.ctl = new AbortController();
    const h = { Authorization: "Bearer " + token(), Accept: "text/event-stream" };
    if (this.last) h["Last-Event-ID"] = this.last;
    const r = await fetch("/v1/events?job=" + encodeURIComponent(this.id),
      { headers: h, signal: this.ctl.signal, cache: "no-store" });
    if (r.status === 401) { signOut(t("bad_token")); this.stopped = true; return; }
    if (!r.ok || !r.body) throw new Error("events: " + r.status);
    this.delay = 1000;
    if (this.dropped) {
      setConn("live", t("conn_caught_up"));
      this.dropped = false;
    } else {
      setConn("live", t("conn_live"));
    }
    /* What happened while the stream was being opened. */
    this.onEvent();
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = "", id = null, data = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error("events: closed");
      buf += dec.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, "");
        buf = buf.slice(nl + 1);
        if (line === "") {
          if (data.length) {
            if (id !== null) this.last = id;
            this.onEvent(data.join("\n"));
          }
          id = null;
          data = [];
        } else if (line.startsWith("id:")) {
          id = line.slice(3).trim();
        } else if (line.startsWith("data:")) {
          data.push(line.slice(5).replace(/^ /, ""));
        }
        /* ":" lines are heartbeats; "retry:" and "event:" are not used. */
      }
      if (buf.length > 1 << 20) throw new Error("events: line too long");
    }
  };

  /* Upcoming court reminders, per case, by day. */
  async function loadCourt(arg) {
    const saved = arg || sessionStorage.getItem("pregon-cases") || "";
    $("court-refs").value = saved;
    $("court-error").textContent = "";
    const out = $("court-days");
    out.textContent = "";
    const refs = saved.split(",").map((s) => s.trim()).filter(Boolean).slice(0, 50);
    if (!refs.length) return;
    sessionStorage.setItem("pregon-cases", refs.join(", "));
    const items = [], errors = [];
    await Promise.all(refs.map(async (ref) => {
      try {
        const c = await api("/v1/cases/" + encodeURIComponent(ref));
        for (const rcp of c.recipients)
          for (const m of rcp.messages) {
            const at = Number(m.due || m.updated || rcp.appearance || 0);
            if (at) items.push({ at: at, ref: c.id, contact: rcp.contact, m: m });
          }
      } catch (e) { errors.push(e.message); }
    }));
    $("court-error").textContent = errors.join(" ");
    const today = new Date(); today.setHours(0, 0, 0, 0);
    const upcoming = items.filter((i) => i.at >= today.getTime()).sort((a, b) => a.at - b.at);
    if (!upcoming.length) { out.appendChild(el("p", "muted", t("no_reminders"))); return; }
    let day = "", ul = null;
    for (const i of upcoming) {
      const d = dayOf(i.at);
      if (d !== day) {
        day = d;
        const sec = el("section", "day");
        sec.appendChild(el("h3", "", d));
        ul = el("ul");
        sec.appendChild(ul);
        out.appendChild(sec);
      }
      const li = el("li");
      li.appendChild(el("span", "time", timeOf(i.at)));
      const who = el("span", "");
      who.appendChild(el("strong", "", t("case") + " " + i.ref));
      who.appendChild(document.createTextNode(" · " + t("recipient") + " " + i.contact + " · " +
        label("what_", i.m.what) + " · " + label("ch_", i.m.channel)));
      li.appendChild(who);
      li.appendChild(badge(i.m.status));
      ul.appendChild(li);
    }
  }
  function badge(status) {
    const cls = REACHED.indexOf(status) >= 0 || status === "sent" ? "ok" :
      FINAL.indexOf(status) >= 0 ? "bad" : "wait";
    return el("span", "badge " + cls, label("st_", status));
  }

  /* A town hall's figures. */
  async function loadTownhall(ref) {
    $("th-ref").value = ref;
    $("th-error").textContent = "";
    const dl = $("th-figures");
    if (!ref) { dl.hidden = true; return; }
    let th;
    try { th = await api("/v1/townhalls/" + encodeURIComponent(ref)); } catch (e) {
      $("th-error").textContent = e.message;
      dl.hidden = true;
      return;
    }
    dl.textContent = "";
    const rows = [["th_registered", th.registered], ["th_confirmed", th.confirmations_delivered],
      ["th_attending", th.attending], ["th_cancelled", th.cancel], ["th_joined", th.joined]];
    for (const [k, n] of rows) {
      const d = el("div");
      d.appendChild(el("dt", "", t(k)));
      const dd = el("dd", "", num(n));
      dd.dataset.key = k;
      d.appendChild(dd);
      dl.appendChild(d);
    }
    dl.hidden = false;
    if (th.cancelled_by) $("th-error").textContent = t("th_cancelled_by", th.cancelled_by);
  }

  /* ---- wiring ---- */

  function go(view, arg) {
    const h = "#" + view + (arg ? "/" + encodeURIComponent(arg) : "");
    if (location.hash === h) route(); else location.hash = h;
  }
  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", signIn);
    $("logout").addEventListener("click", () => signOut(""));
    $("lang").addEventListener("change", () => {
      localStorage.setItem("pregon-lang", $("lang").value);
      applyLang($("lang").value);
    });
    $("jobs-kind").addEventListener("change", () => loadJobs(false));
    $("jobs-refresh").addEventListener("click", () => loadJobs(false));
    $("jobs-more").addEventListener("click", () => loadJobs(true));
    $("alert-form").addEventListener("submit", (e) => { e.preventDefault(); go("alert", $("alert-id").value.trim()); });
    $("court-form").addEventListener("submit", (e) => { e.preventDefault(); go("court", $("court-refs").value.trim()); });
    $("th-form").addEventListener("submit", (e) => { e.preventDefault(); go("townhall", $("th-ref").value.trim()); });
    window.addEventListener("hashchange", route);
    lang = pickLang();
    if (token()) showApp(); else showLogin("");
    applyLang(lang);
  });
})();
