// Supervisor board: waiting work per pool, agents by status, parked conversations, those the
// answer bot holds, and dead letters, refreshed every 2 s and at once on every assignment event.
"use strict";

const board = { timer: null, data: null, letters: [], loadFailed: false, drafts: new Map() };
// What a supervisor typed into a row's box (reassign to, re-route to), by box: the board
// re-renders every 2 s, and the boxes used to come back empty, so a click after typing sent
// an empty target (a user run's reassignment was refused, and its error cleared at once).

function cells(...values) { return el("tr", {}, values.map((v) => el("td", {}, v))); }
function heads(...keys) { return el("tr", {}, keys.map((k) => el("th", {}, t(k)))); }
function statusText(status) { return ["away", "offline"].includes(status) ? t(`status-${status}`) : t(status); }
function ago(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  return seconds < 90 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`;
}

async function loadBoard() {
  if (state.view !== "board-view") return;
  try {
    const [data, letters] = await Promise.all([api("GET", "/board"), api("GET", "/dead-letters?limit=50")]);
    board.data = data;
    board.letters = letters.dead_letters;
    renderBoard();
    if (board.loadFailed) showError("board-error", null);  // (an action's refusal stays shown)
    board.loadFailed = false;
  } catch (error) {
    board.loadFailed = true;
    showError("board-error", error);
  }
}

function boardAction(fn, draft) {
  return async () => {
    try {
      await fn();
      if (draft) board.drafts.delete(draft);
      showError("board-error", null);
      setTimeout(loadBoard, 500);
    } catch (error) { showError("board-error", error); }
  };
}

// A box that keeps its draft across re-renders (``key`` names it on the page).
function draftBox(key, placeholder, cls) {
  const box = el("input", { size: 8, placeholder, class: cls, "data-draft": key });
  box.value = board.drafts.get(key) || "";
  box.addEventListener("input", () => {
    if (box.value) board.drafts.set(key, box.value); else board.drafts.delete(key);
  });
  return box;
}

function renderBoard() {
  const active = document.activeElement;
  if (active && active.tagName === "SELECT" && $("board-view").contains(active)) return;  // open
  const focused = active && active.dataset ? active.dataset.draft : undefined;
  const caret = focused ? active.selectionStart : null;
  renderRows();
  if (focused) {
    const again = [...document.querySelectorAll("#board-view [data-draft]")].find((b) => b.dataset.draft === focused);
    if (again) { again.focus(); if (caret !== null) again.setSelectionRange(caret, caret); }
  }
}

function renderRows() {
  const d = board.data;
  $("board-at").textContent = `${new Date(d.at).toLocaleTimeString()} · ${t("configuration")} ${t("version")} ${d.config_version}`;
  $("board-counts").replaceChildren(...["online", "chatting", "away", "offline", "lost"].map((s) =>
    el("div", { class: `count ${s}`, "data-status": s }, el("strong", {}, String(d.agent_counts[s] || 0)), " ", statusText(s))));
  $("board-pools").replaceChildren(heads("pool", "waiting", "offered", "sla-missed", "oldest-wait", "by-priority"),
    ...d.pools.map((p) => el("tr", { "data-pool": p.pool },
      el("td", {}, p.pool), el("td", { class: "waiting" }, String(p.waiting)),
      el("td", { class: "offered" }, String(p.offered)),
      el("td", { class: `sla${p.sla_breached ? " missed" : ""}` }, String(p.sla_breached || 0)),
      el("td", { class: "oldest" }, ago(p.oldest_wait_s)),
      el("td", {}, Object.entries(p.by_priority).sort(([a], [b]) => b - a).map(([k, v]) => `P${k}: ${v}`).join(" · ") || "—"))));
  $("board-agents").replaceChildren(heads("agent", "status", "pool", "occupancy", "conversations", "actions"),
    ...d.agents.map(agentRow));
  $("board-waiting").replaceChildren(heads("conversations", "pool", "waiting", "offered-to", "actions"),
    ...d.waiting.map((w) => waitingRow(w, false)));
  $("board-parked").replaceChildren(heads("conversations", "pool", "reason", "actions"),
    ...d.parked.map((w) => waitingRow(w, true)));
  $("board-bot").replaceChildren(heads("conversations", "pool", "waiting"),
    ...(d.with_bot || []).map((w) => el("tr", { "data-conversation": w.conversation_id },
      el("td", {}, `${customerLabel(w.customer_name, w.customer_id, w.channel)} · ${w.channel || ""}`),
      el("td", {}, w.pool || "—"), el("td", {}, new Date(w.waiting_since).toLocaleTimeString()))));
  $("board-dlq").replaceChildren(heads("when", "error", "status", "actions"), ...board.letters.map(letterRow));
}

function agentRow(a) {
  const status = el("select", { class: "force", "aria-label": `${t("force-status")} ${a.agent_id}` },
    ["available", "busy", "away", "offline"].map((p) => el("option", { value: p }, t(p))));
  status.value = a.presence;
  const force = boardAction(() => api("POST", `/agents/${encodeURIComponent(a.agent_id)}/presence`, { presence: status.value }));
  status.addEventListener("change", () => { status.blur(); force(); });  // (renders wait while it is open)
  // each held conversation by its customer, as the waiting rows (it was its id until
  // 2026-12-07: user run 42's supervisor could not tell whom ada was chatting with)
  const held = a.held.map((c) => {
    const cid = c.conversation_id;
    const who = `${customerLabel(c.customer_name, c.customer_id, c.channel)} · ${c.channel || ""}`;
    const target = draftBox(`reassign:${cid}`, t("agent"), "reassign-to");
    const go = el("button", { class: "secondary reassign", onclick: boardAction(() =>
      api("POST", `/conversations/${encodeURIComponent(cid)}/transfer`, { target_agent_id: target.value.trim(), reason: `reassigned by ${state.me.agent_id}` }), `reassign:${cid}`) }, t("reassign"));
    return el("div", { class: "held", "data-conversation": cid },
      el("a", { href: "#", title: cid, onclick: (e) => { e.preventDefault(); showView("app"); openConversation(cid); } }, who), " ", target, go);
  });
  return el("tr", { "data-agent": a.agent_id, "data-status": a.status },
    el("td", {}, a.agent_id), el("td", { class: "status" }, statusText(a.status)), el("td", {}, a.pool || "—"),
    el("td", {}, a.occupancy === null ? "—" : `${Math.round(a.occupancy * 100)}% (${a.conversations.length}/${a.capacity})`),
    el("td", {}, held), el("td", {}, status));
}

function waitingRow(w, parked) {
  const key = `reroute:${w.conversation_id}`;
  const pool = draftBox(key, t("pool"), "reroute-pool");
  const go = el("button", { class: "secondary reroute", onclick: boardAction(() => {
    const body = pool.value.trim() ? { pool: pool.value.trim() } : {};
    return api("POST", `/conversations/${encodeURIComponent(w.conversation_id)}/reroute`, body);
  }, key) }, t("reroute"));
  return el("tr", { "data-conversation": w.conversation_id },
    el("td", {}, `${customerLabel(w.customer_name, w.customer_id, w.channel)} · ${w.channel || ""}`,
      slaMissedTag(w.sla_breached)),
    el("td", {}, w.pool || "—"),
    el("td", {}, parked ? (reasonText(w.parked_reason) || "") : new Date(w.waiting_since).toLocaleTimeString()),
    ...(parked ? [] : [el("td", { class: "offered-to" }, offeredTo(w))]),
    el("td", {}, pool, go));
}

// Whom a waiting conversation is offered to, or kept for: a conversation reassigned to an agent
// at capacity waits for a slot of theirs (user run 45's board said "—" and the supervisor
// could not tell where it went).
function offeredTo(w) {
  if (w.offered_to) return w.offered_to;
  if (!w.transferred_to) return "—";
  return tfill("held-for", { agent: w.transferred_to, time: new Date(w.pinned_until).toLocaleTimeString() });
}

function letterRow(letter) {
  const replay = el("button", { class: "replay", onclick: boardAction(async () => {
    replay.disabled = true;
    await api("POST", `/dead-letters/${encodeURIComponent(letter.event_id)}/replay`, {});
  }) }, t("replay"));
  if (letter.replayed_at) replay.disabled = true;
  return el("tr", { "data-letter": letter.event_id },
    el("td", {}, new Date(letter.occurred_at).toLocaleString()),
    el("td", { class: "letter-error" }, `${letter.processor} · ${letter.source_topic.split(".").slice(-2).join(".")} · ${letter.error}`),
    el("td", { class: "letter-state" }, letter.replayed_at ? `${t("replayed")} ${new Date(letter.replayed_at).toLocaleTimeString()}` : "—"),
    el("td", {}, replay));
}

document.addEventListener("omniroute:view", (e) => {
  clearInterval(board.timer);
  if (e.detail === "board-view") { loadBoard(); board.timer = setInterval(loadBoard, 2000); }
});
document.addEventListener("omniroute:assignment", () => { if (state.view === "board-view") loadBoard(); });
document.addEventListener("omniroute:language", () => { if (board.data) renderBoard(); });
