// omniroute agent console: plain JavaScript over the gateway's API (no build step, no CDN).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { token: null, me: null, offers: new Map(), open: null, socket: null, timers: [] };

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

async function api(method, path, body) {
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${state.token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data.error ? data.error.message : `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

function showError(id, error) { $(id).textContent = error ? error.message : ""; }

async function signIn(token) {
  state.token = token;
  try {
    state.me = await api("GET", "/me");
  } catch (error) {
    showError("signin-error", error);
    return;
  }
  sessionStorage.setItem("omniroute-token", token);
  $("who").textContent = `${state.me.agent_id} (${state.me.role})`;
  $("signin-view").hidden = true;
  $("app").hidden = false;
  $("presence-box").hidden = false;
  connect();
  loadCanned();
  state.timers.push(setInterval(() => api("POST", "/heartbeat").catch(() => {}), 20000));
  state.timers.push(setInterval(() => state.open && openConversation(state.open, true), 3000));
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/v1/stream?token=${encodeURIComponent(state.token)}`);
  state.socket = socket;
  socket.onopen = () => { $("link").textContent = "live"; };
  socket.onclose = () => {
    $("link").textContent = "reconnecting…";
    setTimeout(connect, 2000);
  };
  socket.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "snapshot") {
      state.offers = new Map(data.offers.map((o) => [o.offer_id, o]));
      renderOffers();
      renderConversations(data.conversations);
    } else if (data.type === "assignment") {
      onAssignment(data.event);
    }
  };
}

function onAssignment(event) {
  if (event.agent_id !== state.me.agent_id) return refreshConversations();
  if (event.kind === "offered") {
    state.offers.set(event.offer_id, event);
  } else {
    if (event.offer_id) state.offers.delete(event.offer_id);
    if (event.kind === "assigned") waitAndOpen(event.conversation_id, 20);
    if (["revoked", "completed"].includes(event.kind) && state.open === event.conversation_id) {
      closeConversation();
    }
    refreshConversations();
  }
  renderOffers();
}

function renderOffers() {
  const list = $("offers");
  list.replaceChildren();
  if (state.offers.size === 0) list.append(el("li", { class: "muted empty" }, "No offers"));
  for (const offer of state.offers.values()) {
    const accept = el("button", { class: "accept", onclick: () => answer(offer, "accept", accept) }, "Accept");
    const decline = el("button", { class: "secondary decline", onclick: () => answer(offer, "decline", decline) }, "Decline");
    list.append(el("li", { class: "offer", "data-offer": offer.offer_id },
      el("div", {}, el("span", { class: "channel" }, offer.channel || ""), offer.conversation_id),
      el("div", { class: "meta" }, offer.expires_at ? `expires ${new Date(offer.expires_at).toLocaleTimeString()}` : ""),
      el("div", { class: "row" }, accept, decline)));
  }
}

async function answer(offer, verb, button) {
  button.disabled = true;
  button.textContent = verb === "accept" ? "Accepting…" : "Declining…";
  try {
    await api("POST", `/offers/${encodeURIComponent(offer.offer_id)}/${verb}`, { conversation_id: offer.conversation_id });
  } catch (error) {
    button.disabled = false;
    button.textContent = verb;
    alert(error.message);
  }
}

async function refreshConversations() {
  try { renderConversations((await api("GET", "/conversations")).conversations); } catch (_) { /* next event retries */ }
}

function renderConversations(conversations) {
  const list = $("conversations");
  list.replaceChildren();
  if (conversations.length === 0) list.append(el("li", { class: "muted empty" }, "None yet"));
  for (const c of conversations) {
    list.append(el("li", {
      class: `conversation${c.conversation_id === state.open ? " active" : ""}`,
      "data-conversation": c.conversation_id,
      onclick: () => openConversation(c.conversation_id),
    }, el("span", { class: "channel" }, c.channel || ""), c.customer_name || c.customer_id,
    el("div", { class: "meta" }, c.conversation_id)));
  }
}

async function waitAndOpen(conversationId, tries) {
  // The sink writes the assignment to history a moment after it is on Kafka.
  for (let i = 0; i < tries; i++) {
    if (await openConversation(conversationId)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function openConversation(conversationId, quiet) {
  let view;
  try {
    view = await api("GET", `/conversations/${encodeURIComponent(conversationId)}`);
  } catch (error) {
    if (!quiet) showError("action-error", error);
    return false;
  }
  showError("action-error", null);
  if (state.open !== conversationId) { state.open = conversationId; refreshConversations(); }
  $("placeholder").hidden = true;
  $("detail").hidden = false;
  renderDetail(view);
  return true;
}

function closeConversation() {
  setTyping(false);
  state.open = null;
  $("detail").hidden = true;
  $("placeholder").hidden = false;
}

function renderDetail(view) {
  const customer = view.customer || {};
  $("customer").replaceChildren(
    el("h2", {}, customer.display_name || view.conversation.customer_id),
    el("div", { class: "meta" }, view.addresses.map((a) => `${a.channel}: ${a.address}`).join(" · ")),
    el("div", { class: "meta" }, `conversation ${view.conversation.conversation_id} · ${view.conversation.status}`));
  const items = [
    ...view.messages.map((m) => ({ at: m.created_at, node: el("li", { class: `message ${m.direction}`, "data-message": m.message_id },
      el("span", { class: "channel" }, m.channel), m.text || "[attachment]",
      el("div", { class: "meta" }, `${new Date(m.created_at).toLocaleString()}${m.delivery_state ? " · " + m.delivery_state : ""}`)) })),
    ...view.notes.map((n) => ({ at: n.created_at, node: el("li", { class: "message note" },
      `Note by ${n.agent_id}: ${n.note}`) })),
  ].sort((a, b) => a.at.localeCompare(b.at));
  $("history").replaceChildren(...items.map((i) => i.node));
  const channels = [...new Set(view.addresses.map((a) => a.channel))];
  const picked = $("channel").value;
  $("channel").replaceChildren(el("option", { value: "" }, "Last channel"),
    ...channels.map((c) => el("option", { value: c }, c)));
  $("channel").value = channels.includes(picked) ? picked : "";
  $("past").replaceChildren(...view.past_conversations.map((p) =>
    el("li", { class: "meta" }, `${p.opened_at.slice(0, 10)} · ${p.channel || ""} · ${p.status}`)));
}

async function loadCanned() {
  const { canned_responses: canned } = await api("GET", "/canned-responses");
  $("canned").replaceChildren(el("option", { value: "" }, "Canned response…"),
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

async function act(fn) {
  try { await fn(); showError("action-error", null); } catch (error) { showError("action-error", error); }
}

$("signin-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value.trim()); });
$("presence").addEventListener("change", () => act(() => api("POST", "/presence", { presence: $("presence").value })));
$("reply").addEventListener("input", () => {
  if (typing.on && typing.conversation !== state.open) setTyping(false);
  setTyping(true);
  typing.timer = setTimeout(() => setTyping(false), 3000);
});
$("canned").addEventListener("change", () => { if ($("canned").value) $("reply").value = $("canned").value; $("canned").value = ""; });
$("reply-form").addEventListener("submit", (e) => {
  e.preventDefault();
  setTyping(false);
  const body = { text: $("reply").value, client_id: `c${Date.now()}${Math.random().toString(36).slice(2, 8)}` };
  if ($("channel").value) body.channel = $("channel").value;
  act(async () => {
    await api("POST", `/conversations/${encodeURIComponent(state.open)}/replies`, body);
    $("reply").value = "";
    setTimeout(() => openConversation(state.open, true), 700);
  });
});
$("note").addEventListener("click", () => act(async () => {
  await api("POST", `/conversations/${encodeURIComponent(state.open)}/notes`, { text: $("reply").value });
  $("reply").value = "";
}));
$("resolve").addEventListener("click", () => act(() =>
  api("POST", `/conversations/${encodeURIComponent(state.open)}/resolve`, {})));

const saved = sessionStorage.getItem("omniroute-token");
if (saved) signIn(saved);
