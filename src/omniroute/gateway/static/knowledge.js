// omniroute agent console: the knowledge panel beside the open conversation.
// Shows what the answer bot or triage found (intent, language, slots) and the
// articles suggested for the customer's latest messages; "Insert" puts an
// article's text into the reply box. Uses console.js's `state` and `api`.
"use strict";

(function knowledgePanel() {
  const panel = document.createElement("div");
  panel.id = "kb-panel";
  panel.className = "kb-panel";
  panel.hidden = true;
  const customer = document.getElementById("customer");
  customer.after(panel);
  let shown = null;

  function node(tag, attrs, ...children) {
    const n = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k.startsWith("on")) n.addEventListener(k.slice(2), v); else n.setAttribute(k, v);
    });
    children.flat().forEach((c) => n.append(c instanceof Node ? c : document.createTextNode(c ?? "")));
    return n;
  }

  async function insert(hit) {
    const article = await api("GET", `/kb/articles/${encodeURIComponent(hit.article_id)}/${encodeURIComponent(hit.language)}`);
    const reply = document.getElementById("reply");
    reply.value = `${article.title}\n\n${article.body}`.trim();
    reply.focus();
  }

  function render(view) {
    const triage = view.triage || {};
    const slots = Object.entries(triage).filter(([k]) => k.startsWith("slot."))
      .map(([k, v]) => `${k.slice(5)}: ${v}`);
    const facts = [];
    if (triage.intent) facts.push(node("span", { "data-kb": "intent" }, `${t("kb-intent")}: ${triage.intent}`));
    if (triage.language) facts.push(node("span", { "data-kb": "language" }, ` · ${t("kb-language")}: ${triage.language}`));
    facts.push(node("span", { "data-kb": "slots" }, ` · ${t("kb-slots")}: ${slots.length ? slots.join(", ") : t("kb-none")}`));
    const items = view.articles.map((hit) => node("li", { "data-article": hit.article_id },
      node("strong", {}, hit.title), ` (${Math.round(hit.score * 100)}%) `,
      node("button", { type: "button", class: "secondary", onclick: () => insert(hit) }, t("kb-insert"))));
    panel.replaceChildren(
      node("h3", {}, t("kb-title")),
      node("div", { class: "meta", id: "kb-triage" }, ...facts),
      items.length ? node("ul", { id: "kb-suggestions" }, ...items)
        : node("p", { class: "muted" }, t("kb-no-match")));
    panel.hidden = false;
  }

  async function refresh() {
    const cid = state.open;
    if (!cid) { panel.hidden = true; shown = null; return; }
    try {
      const view = await api("GET", `/conversations/${encodeURIComponent(cid)}/suggestions`);
      if (state.open === cid) { render(view); shown = cid; }
    } catch (error) {
      panel.replaceChildren(node("p", { class: "muted" }, `${t("kb-unavailable")} ${error.message}`));
      panel.hidden = false;
    }
  }

  // renderDetail() replaces the history on every open and every 3 s: ask again only when
  // another conversation opened or the history grew.
  let seen = "";
  new MutationObserver(() => {
    const now = `${state.open}:${document.getElementById("history").childElementCount}`;
    if (now !== seen) { seen = now; refresh(); }
  }).observe(document.getElementById("history"), { childList: true });
  new MutationObserver(() => { if (document.getElementById("detail").hidden) { panel.hidden = true; shown = null; } })
    .observe(document.getElementById("detail"), { attributes: true, attributeFilter: ["hidden"] });
  window.omnirouteKnowledge = { refresh, shown: () => shown };
})();
