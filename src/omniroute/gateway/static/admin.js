// Admin screen: agents, pools, routing rules and default pool, the answer bot, tokens, TOML import/export,
// configuration versions (each but the live one can be restored), audit log. Every save is one call
// of the admin API: a new configuration version.
// The agent and pool forms load an existing entry whenever their id field names one (typed or
// clicked in the table), so a save changes only what the admin changed; the Save button says
// whether it replaces an entry or adds one.
// Each form remembers the configuration version its values came from and saves with
// If-Match: that version; a 412 (someone else changed the configuration meanwhile) re-reads
// the configuration, shows the form's entry as it now is and says so. Nothing is written then.
"use strict";

// agentLoaded / poolLoaded: the entry whose values the form holds; agentPoolChosen: the admin
// picked the agent's pool themselves (a new id then keeps it); forms: per form, the
// {key, version, base} its values came from (base: the entry at that version, as JSON)
const admin = { config: null, agentLoaded: null, agentPoolChosen: false, poolLoaded: null, forms: {} };

// The forms that save with If-Match: each one's entry in a configuration, how messages name it,
// and how it shows the live entry again
const FORMS = {
  agent: { entry: (c, id) => entry(c.agents, id), what: (id) => tfill("what-agent", { name: id }),
    refill: refillAgent },
  pool: { entry: (c, name) => entry(c.pools, name), what: (name) => tfill("what-pool", { name }),
    refill: refillPool },
  routing: { entry: (c) => c.routing, what: () => t("what-routing"),
    refill: () => { admin.routingEdited = false; renderAdmin(); } },
  bot: { entry: (c) => c.bot, what: () => t("what-bot"),
    refill: () => { admin.botEdited = false; renderAdmin(); } },
};

function snapshot(value) { return JSON.stringify(value ?? null); }

function remember(form, key) {
  // the form's values now come from the configuration on screen
  const c = admin.config;
  admin.forms[form] = { key, version: c.version, base: snapshot(FORMS[form].entry(c, key)) };
}

function rebase(c) {
  // a form whose entry is the same in c as where its values came from holds c's values too, so
  // the admin's own save of another form (or another admin's change elsewhere) is no conflict
  for (const [form, f] of Object.entries(admin.forms)) {
    if (f.version !== c.version && snapshot(FORMS[form].entry(c, f.key)) === f.base) f.version = c.version;
  }
}

function ifMatch(form, key) {
  // the version the form's values came from (the one on screen if it never recorded one)
  const f = admin.forms[form];
  return { "If-Match": String(f && f.key === key ? f.version : admin.config.version) };
}

function pairs(text) {
  // "email=1, sms=2" → {email: 1, sms: 2}
  const found = {};
  for (const part of (text || "").split(",").map((p) => p.trim()).filter(Boolean)) {
    const [name, value] = part.split("=").map((x) => x.trim());
    if (!name || value === undefined || !/^\d+$/.test(value)) throw new Error(`"${part}": name=NUMBER`);
    found[name] = Number(value);
  }
  return found;
}

function unpairs(map, pick) {
  return Object.entries(map || {}).map(([k, v]) => `${k}=${pick ? pick(v) : v}`).join(", ");
}

function entry(map, key) {
  // map[key] when it is the map's own ("constructor" is a valid agent id, not a profile)
  return map && Object.hasOwn(map, key) ? map[key] : undefined;
}

function capsText(channels) {
  // only the channels with a cap: a weight alone is not the form's to show (or drop)
  return unpairs(Object.fromEntries(Object.entries(channels || {}).filter(([, r]) => r.cap != null)),
    (r) => r.cap);
}

function withCaps(known, caps) {
  // the caps typed over the channels as configured: each channel's weight stays as it is
  const channels = {};
  for (const [channel, { cap, ...rest }] of Object.entries(known || {})) {
    if (Object.entries(rest).some(([k, v]) => !(k === "weight" && v === 1))) channels[channel] = rest;
  }
  for (const [channel, cap] of Object.entries(caps)) channels[channel] = { ...channels[channel], cap };
  return channels;
}

function hoursText(hours) {
  if (!hours) return "";
  const days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].filter((d) => hours[d] && hours[d].length);
  return days.map((d) => `${d} ${hours[d].join(" ")}`).join(", ");
}

function parseHours(text, timezone) {
  // "mon-fri 09:00-18:00, sat 10:00-14:00" → {timezone, mon: [...], ...}
  if (!text.trim()) return undefined;
  const week = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  const hours = { timezone: timezone || "UTC" };
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const [span, ...times] = part.split(/\s+/);
    const [from, to] = span.split("-");
    const start = week.indexOf(from);
    const end = to ? week.indexOf(to) : start;
    if (start < 0 || end < 0 || !times.length) throw new Error(`"${part}": like mon-fri 09:00-18:00`);
    for (let i = start; i <= end; i++) hours[week[i]] = times;
  }
  return hours;
}

// What a change did, and what in the result will not work as meant (a rule naming a skill no
// agent has: user run 45's refunds all went to the default pool without a word)
function showOutcome(text, outcome) {
  // worded here from their details, in the console's language (they were English in a
  // Korean console until 2026-12-07); a gateway of an older version sends only the words
  const words = outcome.warning_details
    ? outcome.warning_details.map((w) => tfill(w.kind === "rule_never_matches" ? "warn-never-matches" : "warn-no-agents", w))
    : (outcome.warnings || []);
  $("admin-result").textContent = text + words.map((w) => ` · ${t("warning")}: ${w}`).join("");
}

async function adminCall(fn, form) {
  // form: the FORMS name this call saves (shown live again after the save), {removed: what} or
  // {restored: version}
  try {
    const outcome = await fn();
    showError("admin-error", null);
    if (outcome && outcome.version !== undefined) {
      showOutcome(outcome.published ? `${t("saved")} ${outcome.version}` : t("no-change"), outcome);
    }
    await loadAdmin();
    if (typeof form === "string") FORMS[form].refill();
    return outcome;
  } catch (error) {
    if (error.status === 412 && form) await conflicted(form);
    else showError("admin-error", error);
    return null;
  }
}

async function conflicted(form) {
  // the configuration moved on since the form's version: nothing was written; show the live
  // configuration and say whether the form's own entry changed (it is then refilled from it)
  await loadAdmin();
  const version = admin.config.version;
  let text;
  if (typeof form !== "string" && form.restored !== undefined) {
    text = tfill("conflict-restore", { restored: form.restored, version });
  } else if (typeof form !== "string") {
    text = tfill("conflict-removal", { what: form.removed, version });
  } else {
    const f = admin.forms[form] || {};
    const what = FORMS[form].what(f.key);
    if (f.version === version) {
      text = tfill("conflict-elsewhere", { what, version });  // rebase: the entry is as it was
    } else {
      FORMS[form].refill();
      text = tfill("conflict-changed", { what, version });
    }
  }
  showError("admin-error", { message: text });
}

async function loadAdmin() {
  if (state.view !== "admin-view") return;
  try {
    admin.config = await api("GET", "/admin/config");
    renderAdmin();
    loadVersions();
    loadAudit();
  } catch (error) {
    showError("admin-error", error);
  }
}

function renderAdmin() {
  const c = admin.config;
  rebase(c);
  $("config-version").textContent = String(c.version);
  const pools = Object.keys(c.pools).sort();
  // an existing agent's or an explicitly chosen pool stays; a new agent's is the default pool
  const keep = (entry(c.agents, $("agent-id").value.trim()) || admin.agentPoolChosen)
    ? $("agent-pool").value : defaultPool();
  $("agent-pool").replaceChildren(el("option", { value: "" }, t("choose-pool")),
    ...pools.map((p) => el("option", { value: p }, p)));
  $("agent-pool").value = pools.includes(keep) ? keep : "";
  agentFormMode();
  poolFormMode();
  const shown = { "If-Match": String(c.version) };  // a removal is of the rows on screen
  // what the admin typed and has not saved survives a refresh (and keeps the version it was
  // typed over); otherwise the form shows the live values, of this version
  const keepDefault = admin.routingEdited ? $("routing-default").value
    : ((c.routing || {}).default_pool || "");
  $("routing-default").replaceChildren(el("option", { value: "" }, "—"), ...pools.map((p) => el("option", { value: p }, p)));
  $("routing-default").value = keepDefault;
  if (!admin.routingEdited) {
    $("routing-rules").value = ((c.routing || {}).rules || []).map((r) => JSON.stringify(r)).join("\n");
    remember("routing");
  }
  if (!admin.botEdited) {
    const bot = c.bot || {};
    $("bot-enabled").checked = Boolean(c.bot) && bot.enabled !== false;
    $("bot-channels").value = (bot.channels || []).join(", ");
    $("bot-threshold").value = String(bot.threshold ?? 0.4);
    remember("bot");
  }
  $("admin-agents").replaceChildren(heads("agent", "pool", "capacity", "channel-caps", "skills", "auto-accept", "actions"),
    ...Object.entries(c.agents).sort().map(([id, a]) => el("tr", { "data-agent": id },
      el("td", {}, el("a", { href: "#", onclick: (e) => { e.preventDefault(); editAgent(id, a); } }, id)),
      el("td", {}, a.pool), el("td", {}, String(a.capacity ?? 1)),
      el("td", {}, unpairs(a.channels, (r) => r.cap ?? "∞")), el("td", { class: "skills" }, unpairs(a.skills)),
      el("td", {}, a.auto_accept ? "✓" : ""),
      el("td", {}, el("button", { class: "secondary", onclick: () => adminCall(() =>
        api("DELETE", `/admin/agents/${encodeURIComponent(id)}`, undefined, false, shown),
      { removed: tfill("what-agent", { name: id }) }) }, t("remove"))))));
  $("admin-pools").replaceChildren(heads("pool", "selection", "queue-cap", "business-hours", "overflow", "actions"),
    ...pools.map((name) => {
      const p = c.pools[name];
      return el("tr", { "data-pool": name },
        el("td", {}, el("a", { href: "#", onclick: (e) => { e.preventDefault(); editPool(name, p); } }, name)),
        el("td", {}, p.selection || "—"), el("td", {}, p.queue_cap ?? "—"),
        el("td", {}, p.business_hours ? `${hoursText(p.business_hours)} (${p.business_hours.timezone || "UTC"})` : "—"),
        el("td", {}, p.overflow ? `${p.overflow.pool} / ${p.overflow.after_s} s` : "—"),
        el("td", {}, el("button", { class: "secondary", onclick: () => adminCall(() =>
          api("DELETE", `/admin/pools/${encodeURIComponent(name)}`, undefined, false, shown),
        { removed: tfill("what-pool", { name }) }) }, t("remove"))));
    }));
}

async function loadVersions() {
  // newest first; the live one is marked, every other one has a Restore button
  const { live, versions } = await api("GET", "/admin/config/versions?limit=20");
  $("admin-versions").replaceChildren(heads("version-col", "when", "who", "why", "pools", "agents", "actions"),
    ...versions.map((v) => el("tr", { "data-version": String(v.version) },
      el("td", {}, `v${v.version}`), el("td", {}, new Date(v.at).toLocaleString()),
      el("td", {}, v.actor), el("td", {}, v.reason || "—"), el("td", {}, v.pools.join(", ") || "—"),
      el("td", {}, String(v.agents)),
      el("td", {}, v.live ? el("span", { class: "meta" }, t("live-version"))
        : el("button", { class: "secondary", onclick: () => restoreVersion(v.version, live) }, t("restore"))))));
}

async function restoreVersion(version, live) {
  // conditional on the live version of the list on screen: a change since is a 412, not a restore
  if (!window.confirm(tfill("restore-confirm", { version, live }))) return;
  const outcome = await adminCall(() => api("POST", `/admin/config/versions/${version}/restore`, {}, false,
    { "If-Match": String(live) }), { restored: version });
  if (outcome && outcome.published) {
    showOutcome(tfill("restored", { restored: version, version: outcome.version }), outcome);
  }
}

async function loadAudit() {
  const { entries } = await api("GET", "/admin/audit?limit=30");
  $("admin-audit").replaceChildren(heads("when", "who", "what", "configuration"),
    ...entries.map((e) => el("tr", {},
      el("td", {}, new Date(e.at).toLocaleString()), el("td", {}, e.actor),
      el("td", {}, `${e.action} ${e.subject}`),
      el("td", { class: "diff" }, (e.detail.changes || []).map((c) =>
        el("div", {}, `${c.path}: ${JSON.stringify(c.before)} → ${JSON.stringify(c.after)}`)),
        e.detail.reason ? el("div", { class: "meta" }, e.detail.reason) : ""))));
}

$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  adminCall(async () => {
    const body = { agent_id: $("token-agent").value.trim(), role: $("token-role").value };
    if ($("token-expires").value.trim()) body.expires = $("token-expires").value.trim();
    const issued = await api("POST", "/admin/tokens", body);
    $("token-issued").replaceChildren(`${t("token-once")} `, el("code", { id: "issued-token" }, issued.token));
    return null;
  });
});

$("toml-export").addEventListener("click", () => adminCall(async () => {
  $("toml").value = await api("GET", "/admin/config.toml", undefined, true);
  return null;
}));
$("toml-import").addEventListener("click", () => adminCall(() =>
  api("PUT", "/admin/config.toml?reason=console%20import", $("toml").value, true)));

document.addEventListener("omniroute:view", (e) => { if (e.detail === "admin-view") loadAdmin(); });
document.addEventListener("omniroute:language", () => { if (admin.config) renderAdmin(); });
