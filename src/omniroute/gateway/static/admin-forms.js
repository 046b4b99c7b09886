// Admin screen, its agent, pool, routing and answer-bot forms (admin.js holds the screen,
// the If-Match bookkeeping and the tables; this file is loaded before it, since FORMS names
// refillAgent and refillPool). A form loads an existing entry whenever its id field names
// one, and saves with If-Match: the version its values came from.
"use strict";

function defaultPool() {
  const name = (admin.config.routing || {}).default_pool;
  return name && entry(admin.config.pools, name) ? name : "";
}

function editAgent(id, a) {
  if ($("agent-id").value.trim() !== id) $("agent-id").value = id;
  $("agent-pool").value = a.pool;
  $("agent-capacity").value = a.capacity ?? 1;
  $("agent-caps").value = capsText(a.channels);
  $("agent-skills").value = unpairs(a.skills);
  $("agent-name").value = a.name || "";
  $("agent-auto").checked = Boolean(a.auto_accept);
  admin.agentLoaded = id;
  admin.agentPoolChosen = false;
  remember("agent", id);
  agentFormMode();
}

function clearAgentForm() {
  $("agent-capacity").value = $("agent-capacity").defaultValue;
  $("agent-caps").value = $("agent-skills").value = $("agent-name").value = "";
  $("agent-auto").checked = false;
  admin.agentLoaded = null;
  admin.agentPoolChosen = false;
}

function refillAgent() {
  // the live profile of the form's id again; if she is gone, the form starts a new agent
  const id = $("agent-id").value.trim();
  const live = entry(admin.config.agents, id);
  if (live) editAgent(id, live);
  else agentIdChanged();  // clears what another entry left in the form
}

function agentIdChanged() {
  // an existing agent's id loads her profile; a new one keeps what was typed, with the
  // default pool (or none: the browser then asks for one) unless the admin chose a pool
  if (!admin.config) return;
  const id = $("agent-id").value.trim();
  const live = entry(admin.config.agents, id);
  if (live) {
    if (admin.agentLoaded !== id) editAgent(id, live);
    return;
  }
  if (admin.agentLoaded) clearAgentForm();  // another agent's values are not this new one's
  if (!admin.agentPoolChosen) $("agent-pool").value = defaultPool();
  // a new id's values are typed, not loaded: the version is the one shown when typing began
  // (a save then fails if someone added this id since)
  const form = admin.forms.agent;
  if (form && form.base === "null") form.key = id; else remember("agent", id);
  agentFormMode();
}

function agentFormMode() {
  // Save names the agent it replaces, or says it adds one; a pool change is spelled out
  const id = $("agent-id").value.trim();
  const live = admin.config && entry(admin.config.agents, id);
  $("agent-save").textContent = live ? tfill("save-named", { name: id }) : t("add-agent");
  const pool = $("agent-pool").value;
  $("agent-note").textContent = live && pool && pool !== live.pool
    ? tfill("moves-pool", { name: id, from: live.pool, to: pool }) : "";
}

function editPool(name, p) {
  if ($("pool-name").value.trim() !== name) $("pool-name").value = name;
  $("pool-selection").value = p.selection || "";
  $("pool-offer-timeout").value = p.offer_timeout_s ?? "";
  $("pool-queue-cap").value = p.queue_cap ?? "";
  $("pool-hours").value = hoursText(p.business_hours);
  $("pool-timezone").value = p.business_hours ? p.business_hours.timezone || "" : "";
  $("pool-overflow-pool").value = p.overflow ? p.overflow.pool : "";
  $("pool-overflow-after").value = p.overflow ? p.overflow.after_s : "";
  $("pool-auto-join").checked = Boolean(p.auto_join);
  admin.poolLoaded = name;
  remember("pool", name);
  poolFormMode();
}

function clearPoolForm() {
  for (const id of ["pool-selection", "pool-offer-timeout", "pool-queue-cap", "pool-hours",
    "pool-timezone", "pool-overflow-pool", "pool-overflow-after"]) $(id).value = "";
  $("pool-auto-join").checked = false;
  admin.poolLoaded = null;
}

function refillPool() {
  // the live settings of the form's pool again; if it is gone, the form starts a new pool
  const name = $("pool-name").value.trim();
  const live = entry(admin.config.pools, name);
  if (live) editPool(name, live);
  else poolNameChanged();  // clears what another entry left in the form
}

function poolNameChanged() {
  // an existing pool's name loads its settings; a new name starts from empty settings
  if (!admin.config) return;
  const name = $("pool-name").value.trim();
  const live = entry(admin.config.pools, name);
  if (live) {
    if (admin.poolLoaded !== name) editPool(name, live);
    return;
  }
  if (admin.poolLoaded) clearPoolForm();  // another pool's settings are not this new one's
  const form = admin.forms.pool;  // a new name: the version shown when typing began
  if (form && form.base === "null") form.key = name; else remember("pool", name);
  poolFormMode();
}

function poolFormMode() {
  const name = $("pool-name").value.trim();
  $("pool-save").textContent = admin.config && entry(admin.config.pools, name)
    ? tfill("save-named", { name }) : t("add-pool");
}

for (const kind of ["input", "change"]) {
  $("agent-id").addEventListener(kind, agentIdChanged);
  $("pool-name").addEventListener(kind, poolNameChanged);
}
$("agent-pool").addEventListener("change", () => { admin.agentPoolChosen = true; agentFormMode(); });

$("agent-form").addEventListener("submit", (e) => {
  e.preventDefault();
  adminCall(() => {
    const id = $("agent-id").value.trim();
    const known = entry(admin.config.agents, id) || {};
    const body = {
      ...known,  // keeps keys this form does not show (queues)
      pool: $("agent-pool").value, capacity: Number($("agent-capacity").value || 1),
      skills: pairs($("agent-skills").value), auto_accept: $("agent-auto").checked,
      channels: withCaps(known.channels, pairs($("agent-caps").value)),
      name: $("agent-name").value.trim() || undefined,  // what customers see; empty: none
    };
    return api("PUT", `/admin/agents/${encodeURIComponent(id)}`, body, false, ifMatch("agent", id));
  }, "agent");
});

$("pool-form").addEventListener("submit", (e) => {
  e.preventDefault();
  adminCall(() => {
    const name = $("pool-name").value.trim();
    const known = entry(admin.config.pools, name) || {};
    const body = { ...known };  // keeps keys this form does not show (relaxation, SLA…)
    const set = (key, value) => { if (value === "" || value === undefined) delete body[key]; else body[key] = value; };
    set("selection", $("pool-selection").value);
    set("offer_timeout_s", $("pool-offer-timeout").value === "" ? "" : Number($("pool-offer-timeout").value));
    set("queue_cap", $("pool-queue-cap").value === "" ? "" : Number($("pool-queue-cap").value));
    set("business_hours", parseHours($("pool-hours").value, $("pool-timezone").value.trim()));
    set("overflow", $("pool-overflow-pool").value.trim()
      ? { pool: $("pool-overflow-pool").value.trim(), after_s: Number($("pool-overflow-after").value || 60) } : "");
    set("auto_join", $("pool-auto-join").checked ? true : "");
    return api("PUT", `/admin/pools/${encodeURIComponent(name)}`, body, false, ifMatch("pool", name));
  }, "pool");
});

$("routing-default").addEventListener("change", () => { admin.routingEdited = true; });
$("routing-rules").addEventListener("input", () => { admin.routingEdited = true; });

$("routing-form").addEventListener("submit", (e) => {
  e.preventDefault();
  adminCall(() => {  // the edits are kept until the save succeeds (refill)
    const rules = $("routing-rules").value.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => JSON.parse(l));
    const body = { rules };
    if ($("routing-default").value) body.default_pool = $("routing-default").value;
    return api("PUT", "/admin/routing", body, false, ifMatch("routing"));
  }, "routing");
});

for (const id of ["bot-enabled", "bot-channels", "bot-threshold"]) {
  $(id).addEventListener("input", () => { admin.botEdited = true; });
}

$("bot-form").addEventListener("submit", (e) => {
  e.preventDefault();
  adminCall(() => {
    // the settings this form does not show (hours, margin, windows) stay as they are
    const body = { ...(admin.config.bot || {}), enabled: $("bot-enabled").checked,
      threshold: Number($("bot-threshold").value || 0.4) };
    const channels = $("bot-channels").value.split(",").map((c) => c.trim()).filter(Boolean);
    if (channels.length) body.channels = channels; else delete body.channels;
    return api("PUT", "/admin/bot", body, false, ifMatch("bot"));
  }, "bot");
});
