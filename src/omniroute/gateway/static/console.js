// omniroute agent console: plain JavaScript over the gateway's API (no build step, no CDN).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { token: null, me: null, offers: new Map(), open: null, socket: null, timers: [],
  readOnly: false, current: null, view: "app",
  // conversations the router took from this agent (resolved, revoked): history lists them
  // until the sink has written it, so a list read right after the event is not trusted
  gone: new Set(),
  // the conversations last listed (by id), and those this console transferred away itself
  listed: new Map(), handedOn: new Set(),
  // what the agent typed and did not send, per conversation (in this tab)
  drafts: new Map() };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  });
  children.flat().forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(c ?? "")));
  return node;
}

// headers: extra request headers (the admin screen's If-Match)
async function api(method, path, body, raw, headers) {
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${state.token}`, "Content-Type": raw ? "application/toml" : "application/json",
      ...headers },
    body: body === undefined ? undefined : (raw ? body : JSON.stringify(body)),
  });
  if (raw && response.ok && method === "GET") return response.text();
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data.error ? data.error.message : `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

// What went wrong, and for what: a refusal of the agent's action stays until their next action
// or another conversation; a refresh clears only a load error of its own (user run 42: a reply
// refused during a database outage lost its error at the open conversation's next refresh,
// 3 s later, and the unsent text looked like a draft).
function showError(id, error, from = "action") {
  $(id).textContent = error ? error.message : "";
  $(id).dataset.from = error ? from : "";
}

async function signIn(token) {
  state.token = token;
  try {
    state.me = await api("GET", "/me");
  } catch (error) {
    showError("signin-error", error);
    return;
  }
  session.remember(token);
  $("who").textContent = `${state.me.agent_id} (${state.me.role})`;
  $("signin-view").hidden = true;
  $("app").hidden = false;
  showPresence(state.me.presence);
  // set away for an offer she let time out before this console opened (a reload, another
  // computer): the event that says so came and went (it said nothing until 2026-12-07)
  if (state.me.away_reason === "offer timed out") notify(`${t("missed-offer")} ${t("missed-offer-away")}`, "missed");
  const supervisor = ["supervisor", "admin"].includes(state.me.role);
  $("tabs").hidden = !supervisor;
  $("tab-board").hidden = !supervisor;
  $("tab-admin").hidden = state.me.role !== "admin";
  // supervisors are listed every open conversation, not only their own
  $("conversations-title").dataset.i18n = supervisor ? "open-conversations" : "my-conversations";
  $("conversations-title").textContent = t($("conversations-title").dataset.i18n);
  connect();
  loadCanned();
  // only someone the router routes to has a presence and heartbeats: a supervisor in no
  // pool got "The router refused: unknown agent" every 20 s (a user run, 2026-12-05)
  state.timers.push(setInterval(() => state.me.routed && api("POST", "/heartbeat").catch(() => {}),
    20000));
  state.timers.push(setInterval(refreshPresence, 10000));
  state.timers.push(setInterval(() => state.open && openConversation(state.open, true), 3000));
  // the list's last messages, who waits and missed SLAs change without an assignment event;
  // so does what an offered customer wrote last, and on which channel (a user run, 2026-12-06:
  // an offer kept "SMS" after the customer wrote again on WhatsApp)
  state.timers.push(setInterval(() => {
    if (state.view !== "app") return;
    refreshConversations();
    if (state.offers.size) describeOffers(null, 1);
  }, 5000));
}

// The menu shows the presence the server recorded (a supervisor may change it too); it is
// hidden for someone in no routing pool (a supervisor who only supervises).
function showPresence(presence) {
  $("presence-box").hidden = !state.me.routed;
  if (presence && document.activeElement !== $("presence")) $("presence").value = presence;
}

async function refreshPresence() {
  try {
    const me = await api("GET", "/me");
    const was = state.me.routed;
    state.me.routed = me.routed;
    showPresence(me.presence);
    // an admin took her out of routing or put her back: say so (the presence menu went and
    // came back without a word, a user run's agent sat before an empty list; 2026-12-06).
    // "in routing again" goes with the router's next word to her, like a refusal
    if (was !== undefined && was !== me.routed) {
      notify(t(me.routed ? "routed-again" : "not-routed"), me.routed ? "refused" : "not-routed");
    }
  } catch (_) { /* next tick */ }
}

function showView(view) {
  state.view = view;
  document.querySelectorAll("main.view").forEach((m) => { m.hidden = m.id !== view; });
  document.querySelectorAll("#tabs .tab").forEach((b) => b.classList.toggle("active", b.dataset.view === view));
  document.dispatchEvent(new CustomEvent("omniroute:view", { detail: view }));
}

// The notice line holds one message; `state.notice` says what kind, so that what ends one
// kind leaves another standing: "refused" (the router refused an event of hers, or she is in
// routing again: its next word ends it), "missed" (an offer timed out: a presence or a new
// offer ends it), "not-routed", "error".
function notify(text, kind = "error") {
  $("notice").textContent = text;
  $("notice").hidden = !text;
  state.notice = text ? kind : null;
}

function clearNotice(kind) {
  if (state.notice === kind) notify("");
}

// New offers: a short tone and a blinking title until the console has focus again.
const title = { base: document.title, timer: null };
function announceOffer() {
  try {
    const audio = new (window.AudioContext || window.webkitAudioContext)();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.value = 0.08;
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.25);
  } catch (_) { /* no audio device */ }
  state.announced = (state.announced || 0) + 1;
  clearInterval(title.timer);
  let on = true;
  const show = () => { document.title = on ? `(${state.offers.size}) ${t("new-offer")} — omniroute` : title.base; on = !on; };
  show();
  title.timer = setInterval(show, 1000);
}
window.addEventListener("focus", () => { clearInterval(title.timer); document.title = title.base; });

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  // the token rides as a subprotocol, out of the URL (proxy logs, history); a token a
  // subprotocol cannot carry (not one omniroute issues) falls back to ?token=
  const url = `${scheme}://${location.host}/api/v1/stream`;
  const socket = /^[A-Za-z0-9._~-]+$/.test(state.token)
    ? new WebSocket(url, ["omniroute.v1", `bearer.${state.token}`])
    : new WebSocket(`${url}?token=${encodeURIComponent(state.token)}`);
  state.socket = socket;
  socket.onopen = () => { $("link").textContent = t("live"); $("link").dataset.state = "live"; };
  socket.onclose = () => {
    $("link").textContent = t("reconnecting");
    $("link").dataset.state = "reconnecting";
    setTimeout(connect, 2000);
  };
  socket.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "snapshot") {
      showPresence(data.presence);
      state.offers = new Map(data.offers.map((o) => [o.offer_id, o]));
      renderOffers();
      renderConversations(data.conversations);
    } else if (data.type === "assignment") {
      onAssignment(data.event);
    }
  };
}

function onAssignment(event) {
  document.dispatchEvent(new CustomEvent("omniroute:assignment", { detail: event }));
  if (event.agent_id !== state.me.agent_id) return refreshConversations();
  if (["rejected", "refused"].includes(event.kind)) {
    notify(`${t("refused")}: ${reasonText(event.reason) || event.kind}`, "refused");
    return;
  }
  // the router routes to this agent again (after a rollback put her back, say): its
  // refusal no longer holds (a user run, 2026-12-06, kept "unknown agent" up while she chatted)
  clearNotice("refused");
  if (event.kind === "rescinded" && event.reason === "offer timed out") missedOffer();
  if (event.kind === "offered") {
    clearNotice("missed");
    state.offers.set(event.offer_id, event);
    announceOffer();
    describeOffers(event.offer_id, 8);
  } else {
    if (event.offer_id) state.offers.delete(event.offer_id);
    if (event.kind === "assigned") {
      state.gone.delete(event.conversation_id);
      waitAndOpen(event.conversation_id, 20);
    }
    if (["revoked", "completed"].includes(event.kind)) {
      if (event.kind === "revoked" && !state.handedOn.has(event.conversation_id)) takenAway(event);
      state.gone.add(event.conversation_id);
      if (state.open === event.conversation_id) closeConversation();
      if (event.kind === "completed") state.drafts.delete(event.conversation_id);
    }
    refreshConversations();
  }
  renderOffers();
}

// A conversation taken from this agent by someone else (a supervisor's reassignment, the
// router's requeue of a lost agent's work): it vanished from her list and screen unexplained
// in user run 45, her draft with it.
function takenAway(event) {
  const c = state.listed.get(event.conversation_id);
  const customer = c ? customerLabel(c.customer_name, c.customer_id, c.channel) : event.conversation_id;
  notify(tfill("taken-away", { customer, reason: reasonText(event.reason) || event.kind }), "taken");
}

// Who wrote an outgoing message: an agent (her id), the answer bot, or automation (the
// acknowledgement, the survey, a rule's reply); the history did not say (user run 43: the
// bot's answers and ada's replies looked alike after a hand-off).
function authorLabel(m) {
  const author = (m.content && m.content.author) || {};
  if (m.author_id === "answer-bot") return t("author-bot");  // the bot's Author (bot/machine.py)
  // a message the business started (automation send, the API): by the system or an agent
  if (m.content && m.content.proactive) return m.author_id ? `${m.author_id} · ${t("author-proactive")}` : t("author-proactive");
  // automation writes as a bot without an id
  return author.kind !== "agent" || !m.author_id ? t("author-auto") : m.author_id;
}

// A line of the conversation's activity (who held it, transfers, resolutions, reopenings, the
// router's parking and moves, escalations, missed SLA targets), among its messages.
function activityText(a) {
  const why = a.reason && !["transferred", "offer accepted", "resolved by agent"].includes(a.reason)
    ? `: ${reasonText(a.reason)}` : "";
  const who = (id) => id ? ` ${id}` : "";
  switch (a.kind) {
    case "assigned": return `${t("act-assigned")}${who(a.agent_id)}${a.pool ? ` (${a.pool})` : ""}`;
    // no agent: it was waiting (a merge folded it, the customer was erased), held by nobody
    case "unassigned": return `${a.agent_id ? `${t("act-unassigned")}${who(a.agent_id)}` : t("act-dequeued")}${why}`;
    case "transferred": return `${t("act-transferred")}${who(a.from_agent)}${a.agent_id ? ` → ${a.agent_id}` : a.to_pool ? ` → ${a.to_pool}` : ""}${why}`;
    case "resolved": return a.reason === "bot_resolved" ? t("act-resolved-bot")
      : `${a.agent_id ? `${t("act-resolved")} ${a.agent_id}` : t("act-resolved-plain")}${why}`;
    case "reopened": return t("act-reopened");
    case "parked": return `${t("act-parked")}${why}`;
    case "rerouted": return `${t("act-rerouted")}${a.pool ? ` ${a.pool}` : ""}${why}`;
    case "escalated": return `${t("act-escalated")}${why}`;
    case "sla_breached": return `${t("act-sla")}${why}`;
    default: return a.kind;
  }
}

// An offer the agent let time out: the router sets her away when her pool says so (user run
// 42: ada missed one while typing, sat away for 15 minutes with 12 customers waiting, and
// nothing but the presence menu said so). Say it, with the presence the router now holds
// (history has the rescinded offer a moment later); choosing a presence clears it.
async function missedOffer() {
  notify(t("missed-offer"), "missed");
  for (let i = 0; i < 10 && state.notice === "missed"; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const me = await api("GET", "/me").catch(() => null);
    if (me && me.presence === "away" && state.notice === "missed") {
      showPresence(me.presence);
      notify(`${t("missed-offer")} ${t("missed-offer-away")}`, "missed");
      return;
    }
  }
}

// An offer from the stream names only its conversation: the customer's name, their latest
// message and its channel (the stream's is the one the work was routed on, which may be
// one the customer has left) come from history (GET /offers), once the sink stored the offer.
async function describeOffers(offerId, tries) {
  try {
    for (const o of (await api("GET", "/offers")).offers) {
      const known = state.offers.get(o.offer_id);
      if (known) state.offers.set(o.offer_id, { ...known, channel: o.channel, customer_id: o.customer_id, customer_name: o.customer_name,
        preview: o.preview, preview_attachments: o.preview_attachments, preview_content: o.preview_content, opening: o.opening });
    }
    renderOffers();
    const offer = state.offers.get(offerId);
    if (!offer || "preview" in offer) return; // answered meanwhile, or described
  } catch (_) { /* try again below */ }
  if (tries > 1) setTimeout(() => describeOffers(offerId, tries - 1), 1000);
}

// "Photo", "Photo, File": what a latest message without text carried.
function previewOfAttachments(kinds) {
  return (kinds || []).map(attachmentView.kindLabel).join(", ");
}

// "SLA missed: first reply, resolution": the tag of a conversation that missed targets
// (the agent's list and the supervisor's board); "" when it missed none.
function slaMissedTag(targets) {
  const missed = (targets || []).map((target) => t(`sla-${target}`)).join(", ");
  return missed ? el("span", { class: "tag sla-missed", title: t("sla-missed-hint") }, `${t("sla-missed")}: ${missed}`) : "";
}

function renderOffers() {
  const list = $("offers");
  list.replaceChildren();
  if (state.offers.size === 0) list.append(el("li", { class: "muted empty" }, t("no-offers")));
  for (const offer of state.offers.values()) {
    const accept = el("button", { class: "accept", onclick: () => answer(offer, "accept", accept) }, t("accept"));
    const decline = el("button", { class: "secondary decline", onclick: () => answer(offer, "decline", decline) }, t("decline"));
    const preview = offer.preview || previewOfAttachments(offer.preview_attachments) || contentLabel(offer.preview_content || {});
    list.append(el("li", { class: "offer", "data-offer": offer.offer_id },
      el("div", {}, el("span", { class: "channel" }, offer.channel || ""), customerLabel(offer.customer_name, offer.customer_id, offer.channel) || offer.conversation_id),
      // what the customer came with, when they said more since ("no" to the bot, say)
      offer.opening ? el("div", { class: "preview opening" }, offer.opening) : "",
      preview ? el("div", { class: "preview" }, offer.opening ? `… ${preview}` : preview) : "",
      el("div", { class: "meta" }, offer.expires_at ? `${t("expires")} ${new Date(offer.expires_at).toLocaleTimeString()}` : ""),
      el("div", { class: "row" }, accept, decline)));
  }
}

async function answer(offer, verb, button) {
  button = button || el("button");
  button.disabled = true;
  button.textContent = `${t(verb)}…`;
  try {
    await api("POST", `/offers/${encodeURIComponent(offer.offer_id)}/${verb}`, { conversation_id: offer.conversation_id });
  } catch (error) {
    button.disabled = false;
    button.textContent = t(verb);
    notify(error.message);
  }
}

async function refreshConversations() {
  try { renderConversations((await api("GET", "/conversations")).conversations); } catch (_) { /* next event retries */ }
}

function renderConversations(conversations) {
  const list = $("conversations");
  list.replaceChildren();
  conversations = conversations.filter((c) => !state.gone.has(c.conversation_id));
  state.listed = new Map(conversations.map((c) => [c.conversation_id, c]));
  if (conversations.length === 0) list.append(el("li", { class: "muted empty" }, t("none-yet")));
  for (const c of conversations) {
    // what was said last (the customer's, or "You:" an answer), whether the customer waits
    // for an answer, and the SLA targets it missed: what an agent picks the next one by
    const said = c.last_text || previewOfAttachments(c.last_attachments) || contentLabel(c.last_content || {});
    list.append(el("li", {
      class: `conversation${c.conversation_id === state.open ? " active" : ""}${c.awaiting_reply ? " awaiting" : ""}`,
      "data-conversation": c.conversation_id,
      onclick: () => openConversation(c.conversation_id),
    }, el("span", { class: "channel" }, c.channel || ""), customerLabel(c.customer_name, c.customer_id, c.channel),
    c.awaiting_reply ? el("span", { class: "awaiting-dot", title: t("awaiting-reply") }, " ●") : "",
    slaMissedTag(c.sla_breached),
    said ? el("div", { class: "last" }, `${c.last_direction === "outbound" ? (c.last_author === state.me.agent_id ? t("you") : c.last_author) + ": " : ""}${said}`) : "",
    el("div", { class: "meta" }, `${c.last_at ? new Date(c.last_at).toLocaleTimeString() + " · " : ""}${c.conversation_id}`)));
  }
}

async function waitAndOpen(conversationId, tries) {
  // The sink writes the assignment to history a moment after it is on Kafka: the gateway
  // answers 403 until then, which is no news to the agent (only the last try's error shows)
  for (let i = 0; i < tries; i++) {
    if (await openConversation(conversationId, i < tries - 1)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function openConversation(conversationId, quiet) {
  let view;
  try {
    view = await api("GET", `/conversations/${encodeURIComponent(conversationId)}`);
  } catch (error) {
    if (!quiet) showError("action-error", error, "load");
    return false;
  }
  if (state.open !== conversationId || $("action-error").dataset.from === "load") {
    showError("action-error", null);
  }
  if (state.open !== conversationId) {
    switchDraft(conversationId);
    state.open = conversationId;
    refreshConversations();
  }
  state.readOnly = view.holder !== state.me.agent_id && !["supervisor", "admin"].includes(state.me.role);
  if (!state.readOnly) state.current = conversationId;
  $("placeholder").hidden = true;
  $("detail").hidden = false;
  renderDetail(view);
  return true;
}

// The reply box holds the open conversation's draft: one conversation's unsent words never
// show under another's customer. User run 48: the box kept ada's "Yes! The blue kettle is
// back, shall I reserve one" for Xan after his conversation was taken from her, and showed
// it, ready to send, when she opened Uma's; switching conversations carried it along too.
function switchDraft(conversationId) {
  if (state.open) {
    const typed = $("reply").value;
    if (typed) state.drafts.set(state.open, typed); else state.drafts.delete(state.open);
  }
  $("reply").value = (conversationId && state.drafts.get(conversationId)) || "";
}

function closeConversation() {
  setTyping(false);
  switchDraft(null);
  state.open = null;
  attachmentView.forget();
  $("detail").hidden = true;
  $("placeholder").hidden = false;
}

// What a message without text or attachments carried: a location, shared contacts, a
// button or list choice, a reaction (the history keeps them in `content`); "" for nothing.
function contentLabel(content) {
  const place = content.location;
  if (place) {
    const where = [place.name, place.address].filter(Boolean).join(", ");
    return `${t("content-location")}: ${where ? where + " " : ""}(${place.latitude}, ${place.longitude})`;
  }
  if ((content.contacts || []).length) {
    return `${t("content-contacts")}: ` + content.contacts.map((c) =>
      [c.name, ...(c.phones || []), ...(c.emails || [])].filter(Boolean).join(" · ")).join("; ");
  }
  if (content.interactive) return `${t("content-chose")}: ${content.interactive.title || content.interactive.id || ""}`;
  if (content.reaction) return content.reaction.emoji ? `${t("content-reacted")} ${content.reaction.emoji}` : t("content-unreacted");
  // a WhatsApp template (what a proactive message outside the 24 h window goes as): its name
  // and parameters are all history has of its text
  if (content.template) {
    const { name, parameters } = content.template;
    return `${t("content-template")} ${name}${(parameters || []).length ? ` (${parameters.join(", ")})` : ""}`;
  }
  return "";
}

function contentView(content) {
  const label = contentLabel(content);
  if (!label) return el("span", { class: "content muted" }, t("content-none"));
  const place = content.location;
  if (!place) return el("span", { class: "content" }, label);
  const map = `https://www.openstreetmap.org/?mlat=${place.latitude}&mlon=${place.longitude}#map=17/${place.latitude}/${place.longitude}`;
  return el("span", { class: "content location" }, `${label} `,
    el("a", { href: map, target: "_blank", rel: "noopener noreferrer" }, t("content-map")));
}

// The name agents see: the customer's, else "Visitor 9F3A" (web chat) or "Customer 7B21"
// (a Messenger, Instagram, LINE or Telegram user whose profile gave no name, whose address
// is an opaque id): agents saw "cus_f72525af23079ab9ee760e34" in user runs 37-39. The
// letters are the start of the customer id, the same on every screen.
function customerLabel(name, customerId, channel) {
  if (name) return name;
  if (!customerId) return "";
  // an erased customer's conversations keep an anonymous "erased-…" id (user run 42 showed
  // "Customer ERAS"): they are nobody now
  if (customerId.startsWith("erased-")) return t("erased-customer");
  const short = customerId.replace(/^cus_/, "").slice(0, 4).toUpperCase();
  return `${t(channel === "webchat" ? "unnamed-visitor" : "unnamed-customer")} ${short}`;
}

function renderDetail(view) {
  const customer = view.customer || {};
  $("customer").replaceChildren(
    el("h2", { id: "customer-name", title: view.conversation.customer_id },
      customerLabel(customer.display_name, view.conversation.customer_id, view.conversation.channel)),
    el("ul", { id: "addresses", class: "addresses" }, view.addresses.map((a) =>
      el("li", { class: "address" }, el("span", { class: "channel" }, a.channel), a.address,
        a.display_name ? ` (${a.display_name})` : ""))),
    el("div", { class: "meta" }, `${view.conversation.conversation_id} · ${view.conversation.status}` +
      (view.holder ? ` · ${view.holder}` : "")));
  $("read-only").hidden = !state.readOnly;
  $("reply-form").hidden = state.readOnly;
  $("tags").replaceChildren(...(view.conversation.tags || []).map((tag) => el("span", { class: "tag" }, tag)));
  attachmentView.begin(view.conversation.conversation_id);
  const items = [
    ...view.messages.map((m, i) => ({ at: m.created_at, node: el("li", { class: `message ${m.direction}`, "data-message": m.message_id },
      el("span", { class: "channel" }, m.channel),
      m.direction === "outbound" ? el("span", { class: "author" }, authorLabel(m)) : "",
      m.direction === "inbound" && m.content && m.content.email_auth && m.content.email_auth !== "pass"
        ? el("span", { class: "tag unverified", title: t("unverified-hint") }, t("unverified")) : "",
      m.text || ((m.attachments || []).length ? "" : contentView(m.content || {})),
      attachmentView.render(m),
      el("div", { class: "meta" }, `${new Date(m.created_at).toLocaleString()}${m.delivery_state ? " · " + t(`state-${m.delivery_state}`) : ""}`),
      m.delivery_state === "failed" ? el("div", { class: "undelivered" }, `${t("not-delivered")} ${m.delivery_error || ""}`,
        !m.author_id || !m.text || state.readOnly ? ""
          : sentAgain(view.messages, i) ? el("span", { class: "resent" }, t("resent"))
            : el("button", { type: "button", class: "resend", onclick: () => resend(m) }, t("resend")))
        : m.delivery_state === "queued" ? el("div", { class: "queued" }, `${t("not-sent-yet")} ${m.delivery_error || ""}`) : "") })),
    ...view.notes.map((n) => ({ at: n.created_at, node: el("li", { class: "message note" },
      n.agent_id ? `${t("note-by")} ${n.agent_id}: ${n.note}` : `${t("system-note")} ${n.note}`) })),
    ...(view.activity || []).map((a) => ({ at: a.occurred_at, node: el("li", { class: `activity ${a.kind}` },
      activityText(a), el("span", { class: "meta" }, ` · ${new Date(a.occurred_at).toLocaleString()}`)) })),
    ...(view.ratings || []).map((r) => ({ at: r.rated_at, node: el("li", { class: "message rating" },
      `${t("rated")} ${r.score}/5${r.comment ? ` · “${r.comment}”` : ""}`,
      el("div", { class: "meta" }, new Date(r.rated_at).toLocaleString())) })),
  ].sort((a, b) => a.at.localeCompare(b.at));
  $("history").replaceChildren(...items.map((i) => i.node));
  attachmentView.end();
  const channels = [...new Set(view.addresses.map((a) => a.channel))];
  const picked = $("channel").value;
  $("channel").replaceChildren(el("option", { value: "" }, t("last-channel")),
    ...channels.map((c) => el("option", { value: c }, c)));
  $("channel").value = channels.includes(picked) ? picked : "";
  $("past").replaceChildren(...view.past_conversations.map((p) =>
    el("li", { class: "past", "data-conversation": p.conversation_id, onclick: () => openConversation(p.conversation_id) },
      `${p.opened_at.slice(0, 10)} · ${p.channel || ""} · ${p.status}${(p.tags || []).length ? " · " + p.tags.join(", ") : ""}`)));
}

async function loadCanned() {
  const { canned_responses: canned } = await api("GET", "/canned-responses");
  $("canned").replaceChildren(el("option", { value: "" }, t("canned")),
    ...canned.map((c) => el("option", { value: c.text }, `/${c.shortcut}`)));
}

// Typing indicator for the customer: "typing" on the first keystroke, "stopped" after
// 3 s without one or on send; one request per change, never one per keystroke.
const typing = { on: false, conversation: null, timer: null };
function setTyping(on) {
  clearTimeout(typing.timer);
  const conversation = on ? state.open : typing.conversation;
  if (!conversation || typing.on === on) return;
  typing.on = on;
  typing.conversation = conversation;
  api("POST", `/conversations/${encodeURIComponent(conversation)}/typing`, { typing: on }).catch(() => {});
}

async function act(fn, failed = "") {
  try {
    await fn();
    showError("action-error", null);
    clearNotice("taken");  // she has moved on
  } catch (error) {
    showError("action-error", failed ? new Error(`${failed} ${error.message}`) : error);
  }
}

$("signin-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value.trim()); });
$("presence").addEventListener("change", () => {
  clearNotice("missed");
  act(() => api("POST", "/presence", { presence: $("presence").value }));
});
$("reply").addEventListener("input", () => {
  if (typing.on && typing.conversation !== state.open) setTyping(false);
  setTyping(true);
  typing.timer = setTimeout(() => setTyping(false), 3000);
});
$("canned").addEventListener("change", () => { if ($("canned").value) $("reply").value = $("canned").value; $("canned").value = ""; });
// The idempotency key of the reply (note, tag) being sent: kept while the agent sends the same
// text to the same conversation again after a failure (a 503 may hide a write Kafka did take),
// so the retry is the same reply, sent to the customer once; a new one once it was taken.
const unsent = { reply: null, note: null, tag: null };

function keyFor(kind, conversation, text, channel) {
  const last = unsent[kind];
  if (!(last && last.conversation === conversation && last.text === text && last.channel === channel)) {
    unsent[kind] = { conversation, text, channel,
      clientId: `c${Date.now()}${Math.random().toString(36).slice(2, 8)}` };
  }
  return unsent[kind].clientId;
}

$("reply-form").addEventListener("submit", (e) => {
  e.preventDefault();
  setTyping(false);
  const conversation = state.open;
  const text = $("reply").value;
  const channel = $("channel").value;
  const body = { text, client_id: keyFor("reply", conversation, text, channel) };
  if (channel) body.channel = channel;
  act(async () => {
    await api("POST", `/conversations/${encodeURIComponent(conversation)}/replies`, body);
    unsent.reply = null;
    state.drafts.delete(conversation);
    if (state.open === conversation) $("reply").value = "";
    setTimeout(() => openConversation(conversation, true), 700);
  }, t("reply-not-sent"));
});
// "Send again" under an agent's reply the provider did not take (a provider outage outlasted
// delivery's retries): the same text on the same channel, as a new reply. Its key derives from
// the failed message, so a double click (or a retry after a 503) sends it once. Once the
// same text followed from the same agent, the failed one says "Sent again" instead.
function sentAgain(messages, i) {
  const m = messages[i];
  return messages.slice(i + 1).some((o) => o.direction === "outbound" && o.author_id === m.author_id && o.text === m.text);
}
function resend(m) {
  const conversation = state.open;
  const clientId = `resend:${m.message_id}`.replace(/[^A-Za-z0-9._:-]/g, "_").slice(0, 100);
  act(async () => {
    await api("POST", `/conversations/${encodeURIComponent(conversation)}/replies`,
      { text: m.text, channel: m.channel, client_id: clientId });
    setTimeout(() => openConversation(conversation, true), 700);
  });
}
$("note").addEventListener("click", () => act(async () => {
  const conversation = state.open;
  const text = $("reply").value;
  await api("POST", `/conversations/${encodeURIComponent(conversation)}/notes`,
    { text, client_id: keyFor("note", conversation, text, "") });
  unsent.note = null;
  state.drafts.delete(conversation);
  if (state.open === conversation) $("reply").value = "";
}));
$("resolve").addEventListener("click", () => act(() =>
  api("POST", `/conversations/${encodeURIComponent(state.open)}/resolve`, {})));
$("tag-add").addEventListener("click", () => act(async () => {
  const tag = $("tag-input").value.trim();
  if (!tag) return;
  const conversation = state.open;
  await api("POST", `/conversations/${encodeURIComponent(conversation)}/tags`,
    { tags: [tag], client_id: keyFor("tag", conversation, tag, "") });
  unsent.tag = null;
  $("tag-input").value = "";
  $("tags").append(el("span", { class: "tag pending" }, tag));
}));
$("transfer").addEventListener("click", () => act(async () => {
  const body = {};
  if ($("transfer-agent").value.trim()) body.target_agent_id = $("transfer-agent").value.trim();
  if ($("transfer-pool").value.trim()) body.target_pool = $("transfer-pool").value.trim();
  // why, for the agent who gets it: the conversation's activity shows it ("Transferred from
  // jun → billing: wants a refund"); a run's transfer reached bo with no word of why
  if ($("transfer-reason").value.trim()) body.reason = $("transfer-reason").value.trim();
  const conversation = state.open;
  state.handedOn.add(conversation);  // before the call: the router's answer can come first
  try {
    await api("POST", `/conversations/${encodeURIComponent(conversation)}/transfer`, body);
  } catch (error) {
    state.handedOn.delete(conversation);
    throw error;
  }
  $("transfer-agent").value = "";
  $("transfer-pool").value = "";
  $("transfer-reason").value = "";
}));
$("back").addEventListener("click", () => state.current && openConversation(state.current));
$("lang").addEventListener("change", () => setLanguage($("lang").value));
document.querySelectorAll("#tabs .tab").forEach((b) => b.addEventListener("click", () => showView(b.dataset.view)));
document.addEventListener("omniroute:language", () => { renderOffers(); refreshConversations(); });

// Keyboard shortcuts for the common actions (Alt+key so typing a reply never triggers them).
document.addEventListener("keydown", (e) => {
  if (!state.me) return;
  const first = state.offers.values().next().value;
  if (e.ctrlKey && e.key === "Enter" && document.activeElement === $("reply")) {
    e.preventDefault();
    $("reply-form").requestSubmit();
  } else if (e.altKey && !e.ctrlKey) {
    const actions = {
      a: () => first && answer(first, "accept", document.querySelector(`[data-offer="${first.offer_id}"] .accept`)),
      d: () => first && answer(first, "decline", document.querySelector(`[data-offer="${first.offer_id}"] .decline`)),
      r: () => state.open && $("resolve").click(),
      t: () => state.open && $("transfer-agent").focus(),
      1: () => showView("app"),
      2: () => !$("tab-board").hidden && showView("board-view"),
      3: () => !$("tab-admin").hidden && showView("admin-view"),
    };
    const action = actions[e.key.toLowerCase()] || actions[e.code.replace(/^(Key|Digit)/, "").toLowerCase()];
    if (action) { e.preventDefault(); action(); }
  }
});

$("lang").value = i18n.lang;
translatePage();

const saved = session.saved();
if (saved) signIn(saved);
