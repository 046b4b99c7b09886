/* omniroute web chat widget: <script src="https://HOST/webchat/widget.js" async></script>
 *
 * Optional attributes on the script tag: data-site, data-identifier,
 * data-identity-hash (hex HMAC-SHA256 of the identifier with the workspace secret,
 * computed by YOUR backend), data-name, data-email, data-open="true",
 * data-lang (help articles' language and the widget's own, English or Korean; default the
 * page's, and for the widget's words then the browser's), data-proactive (a prompt
 * shown after data-proactive-delay ms, default 15000, offering the help search).
 * Or data-identity-token (a JWT signed HS256 by YOUR backend: sub, exp, email, name).
 * Or set window.OmnirouteChat = {site, identityToken | identifier+identityHash, name, email, lang}.
 * The help search (top of the panel) finds knowledge-base articles before a chat.
 * The paperclip sends a photo or a PDF: POST /webchat/uploads, then a message naming it.
 * On a page with a Content-Security-Policy, allow this host in connect-src (socket and
 * uploads) and blob: in img-src (the visitor's own thumbnails; else the file name shows).
 * Plain JavaScript, no dependencies, no build step.
 */
(function () {
  "use strict";
  if (window.__omnirouteChat) return;
  var script = document.currentScript || document.querySelector('script[src*="/webchat/widget.js"]');
  var base = new URL(script.src, location.href);
  var wsUrl = (base.protocol === "https:" ? "wss://" : "ws://") + base.host + "/webchat/ws";
  var cfg = window.OmnirouteChat || {};
  var data = script.dataset || {};
  var opts = {
    site: cfg.site || data.site || "default",
    identifier: cfg.identifier || data.identifier,
    identityHash: cfg.identityHash || data.identityHash,
    identityToken: cfg.identityToken || data.identityToken,
    name: cfg.name || data.name,
    email: cfg.email || data.email,
    lang: cfg.lang || data.lang || (document.documentElement.lang || "").slice(0, 2) || null,
    proactive: cfg.proactive || data.proactive,
    proactiveDelay: +(cfg.proactiveDelay || data.proactiveDelay || 15000)
  };
  // The widget's own words in the visitor's language: the site's (cfg.lang, data-lang, the
  // page's lang) or else the browser's; English for any other (user run 43: a Korean visitor
  // got the bot's answer in Korean inside English buttons and placeholders).
  var TEXTS = {
    en: {
      chat: "Chat", chatWithUs: "Chat with us", connecting: "Connecting…", type: "Type a message…",
      message: "Message", attachTitle: "Send a photo or a PDF", attachLabel: "Attach a photo or file",
      send: "Send", offline: "Nobody is available right now. Leave a message and we will email you.",
      yourEmail: "Your email", yourMessage: "Your message", searchHelp: "Search help articles…",
      searchHelpLabel: "Search help articles", search: "Search", back: "← Back to results",
      stillNeedHelp: "Still need help? Write to us below.",
      noArticle: "No article found. Write to us below.", searchDown: "Search is unavailable right now.",
      up401: "Could not send the file: the chat is still connecting. Try again in a moment.",
      up413: "This file is too large to send.",
      up415: "Only photos (JPEG, PNG, GIF, WebP) and PDF files can be sent.",
      up429: "Too many files sent from here for now. Try again later.",
      up503: "Files cannot be sent right now. Try again in a moment.",
      upFailed: "Could not send the file. Try again.", uploading: "Uploading {name}…",
      away: "We are away", typing: "{who} is typing…", agent: "Agent", error: "Error: {detail}",
      reconnecting: "Reconnecting…", bot: "Answer bot"
    },
    ko: {
      chat: "채팅", chatWithUs: "상담하기", connecting: "연결 중…", type: "메시지를 입력하세요…",
      message: "메시지", attachTitle: "사진이나 PDF 보내기", attachLabel: "사진이나 파일 첨부",
      send: "보내기", offline: "지금은 상담할 수 있는 직원이 없습니다. 메시지를 남겨 주시면 이메일로 답해 드리겠습니다.",
      yourEmail: "이메일 주소", yourMessage: "메시지", searchHelp: "도움말 검색…",
      searchHelpLabel: "도움말 검색", search: "검색", back: "← 검색 결과로",
      stillNeedHelp: "도움이 더 필요하신가요? 아래에 메시지를 남겨 주세요.",
      noArticle: "맞는 문서가 없습니다. 아래에 메시지를 남겨 주세요.", searchDown: "지금은 검색할 수 없습니다.",
      up401: "파일을 보내지 못했습니다. 채팅이 아직 연결 중입니다. 잠시 후 다시 시도해 주세요.",
      up413: "파일이 너무 커서 보낼 수 없습니다.",
      up415: "사진(JPEG, PNG, GIF, WebP)과 PDF 파일만 보낼 수 있습니다.",
      up429: "이곳에서 보낸 파일이 너무 많습니다. 나중에 다시 시도해 주세요.",
      up503: "지금은 파일을 보낼 수 없습니다. 잠시 후 다시 시도해 주세요.",
      upFailed: "파일을 보내지 못했습니다. 다시 시도해 주세요.", uploading: "{name} 올리는 중…",
      away: "지금은 상담 시간이 아닙니다", typing: "{who} 님이 입력하고 있습니다…", agent: "상담원", error: "오류: {detail}",
      reconnecting: "다시 연결하는 중…", bot: "답변 봇"
    }
  };
  var uiLang = String(opts.lang || navigator.language || "en").slice(0, 2).toLowerCase();
  function tr(key, values) {
    var text = (TEXTS[uiLang] || TEXTS.en)[key] || TEXTS.en[key];
    return text.replace(/\{(\w+)\}/g, function (all, name) { return values && name in values ? values[name] : all; });
  }
  var kbBase = base.protocol + "//" + base.host + "/webchat/kb";
  var uploadUrl = base.protocol + "//" + base.host + "/webchat/uploads";
  var ACCEPT = "image/jpeg,image/png,image/gif,image/webp,application/pdf";
  var VISITOR_KEY = "omniroute.webchat.visitor";
  var TOKEN_KEY = "omniroute.webchat.token";
  var OUTBOX_KEY = "omniroute.webchat.outbox";
  var ws = null, backoff = 500, available = true, shown = {}, unread = [], previews = {};

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text) node.textContent = text;
    return node;
  }
  function load(key, fallback) {
    try { return JSON.parse(localStorage.getItem(key)) || fallback; } catch (e) { return fallback; }
  }
  function save(key, value) { try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) {} }
  function newId() {
    var a = new Uint8Array(12); (window.crypto || {}).getRandomValues ? crypto.getRandomValues(a) : 0;
    return "c" + Date.now().toString(36) + Array.prototype.map.call(a, function (b) { return (b % 36).toString(36); }).join("");
  }

  var css = "#omniroute-chat{position:fixed;right:16px;bottom:16px;z-index:2147483000;font:14px/1.4 system-ui,sans-serif}" +
    "#omniroute-chat .or-panel{width:320px;height:420px;background:#fff;border:1px solid #ccd;border-radius:10px;display:flex;flex-direction:column;box-shadow:0 4px 20px rgba(0,0,0,.15)}" +
    "#omniroute-chat .or-log{flex:1;overflow:auto;padding:8px}" +
    "#omniroute-chat .or-msg{margin:4px 0;padding:6px 9px;border-radius:8px;max-width:80%;white-space:pre-wrap;word-wrap:break-word}" +
    "#omniroute-chat .or-author{display:block;font-size:11px;font-weight:600;opacity:.7;margin-bottom:2px}" +
    "#omniroute-chat .or-visitor{background:#2563eb;color:#fff;margin-left:auto}" +
    "#omniroute-chat .or-agent{background:#eef}" +
    "#omniroute-chat .or-pending{opacity:.6}" +
    "#omniroute-chat form{display:flex;gap:4px;padding:8px;border-top:1px solid #eee;flex-wrap:wrap}" +
    "#omniroute-chat input,#omniroute-chat textarea{flex:1;min-width:0;padding:6px;border:1px solid #ccd;border-radius:6px}" +
    "#omniroute-chat .or-status{font-size:12px;color:#666;padding:0 8px}" +
    "#omniroute-chat .or-help{padding:8px;border-bottom:1px solid #eee}" +
    "#omniroute-chat .or-help form{padding:0;border:0}" +
    "#omniroute-chat .or-help-body{max-height:190px;overflow:auto}" +
    "#omniroute-chat .or-result{display:block;width:100%;text-align:left;background:none;border:0;border-bottom:1px solid #eee;padding:5px 2px;cursor:pointer;color:#1d4ed8}" +
    "#omniroute-chat .or-article{white-space:pre-wrap;font-size:13px}" +
    "#omniroute-chat .or-prompt{display:block;margin-bottom:8px;padding:8px 12px;border-radius:10px;background:#fff;border:1px solid #ccd;cursor:pointer;box-shadow:0 2px 10px rgba(0,0,0,.1)}" +
    "#omniroute-chat .or-thumb{display:block;max-width:100%;max-height:160px;border-radius:6px;margin-top:4px}" +
    "#omniroute-chat .or-file{display:block;margin-top:4px;font-size:13px}" +
    "#omniroute-chat .or-choices{display:flex;flex-wrap:wrap;gap:4px;margin:4px 0}" +
    "#omniroute-chat .or-choice{border:1px solid #2563eb;color:#2563eb;background:#fff;border-radius:14px;padding:3px 10px;font:inherit;font-size:13px;cursor:pointer}" +
    "#omniroute-chat .or-attach{padding:0 8px;background:none;border:1px solid #ccd;border-radius:6px;cursor:pointer}" +
    "#omniroute-chat .or-toggle{float:right;border-radius:20px;padding:8px 14px;background:#2563eb;color:#fff;border:0;cursor:pointer}";
  document.head.appendChild(el("style", {}, css));

  var root = el("div", { id: "omniroute-chat" });
  var toggle = el("button", { "class": "or-toggle", type: "button", "aria-label": tr("chat") }, tr("chat"));
  var panel = el("div", { "class": "or-panel", role: "dialog", "aria-label": tr("chatWithUs") });
  var log = el("div", { "class": "or-log", "aria-live": "polite" });
  var status = el("div", { "class": "or-status" }, tr("connecting"));
  var chatForm = el("form", { "class": "or-chat" });
  var input = el("textarea", { name: "text", rows: "2", placeholder: tr("type"), "aria-label": tr("message") });
  var fileInput = el("input", { type: "file", accept: ACCEPT, hidden: "hidden", "aria-hidden": "true" });
  var attach = el("button", { "class": "or-attach", type: "button", title: tr("attachTitle"), "aria-label": tr("attachLabel") }, "\uD83D\uDCCE");
  chatForm.appendChild(input);
  chatForm.appendChild(fileInput); chatForm.appendChild(attach);
  chatForm.appendChild(el("button", { type: "submit" }, tr("send")));
  var offForm = el("form", { "class": "or-offline" });
  offForm.appendChild(el("div", { "class": "or-status" }, tr("offline")));
  var offEmail = el("input", { name: "email", type: "email", placeholder: tr("yourEmail"), required: "required" });
  var offText = el("textarea", { name: "text", rows: "2", placeholder: tr("yourMessage"), required: "required" });
  offForm.appendChild(offEmail); offForm.appendChild(offText);
  offForm.appendChild(el("button", { type: "submit" }, tr("send")));
  var help = el("div", { "class": "or-help" });
  var helpForm = el("form", { "class": "or-help-form", role: "search" });
  var helpInput = el("input", { name: "q", type: "search", placeholder: tr("searchHelp"), "aria-label": tr("searchHelpLabel") });
  helpForm.appendChild(helpInput);
  helpForm.appendChild(el("button", { type: "submit" }, tr("search")));
  var helpBody = el("div", { "class": "or-help-body", "aria-live": "polite" });
  help.appendChild(helpForm); help.appendChild(helpBody);
  panel.appendChild(help);
  panel.appendChild(log); panel.appendChild(status); panel.appendChild(chatForm); panel.appendChild(offForm);
  root.appendChild(panel); root.appendChild(toggle);
  panel.style.display = data.open === "true" || cfg.open ? "flex" : "none";
  toggle.onclick = function () { panel.style.display = panel.style.display === "none" ? "flex" : "none"; markRead(); };
  (document.body || document.documentElement).appendChild(root);

  function visitor() {
    var id = load(VISITOR_KEY, null);
    if (!id) { id = newId(); save(VISITOR_KEY, id); }
    return id;
  }
  function kbUrl(path, params) {
    var url = new URL(kbBase + path);
    params.visitor = visitor();
    if (opts.lang) params.lang = opts.lang;
    for (var k in params) url.searchParams.set(k, params[k]);
    return url.toString();
  }
  function showArticle(id) {
    fetch(kbUrl("/articles/" + encodeURIComponent(id), {})).then(function (r) { return r.json(); }).then(function (a) {
      if (a.error) { helpBody.textContent = a.error.message; return; }
      var back = el("button", { type: "button", "class": "or-result" }, tr("back"));
      back.onclick = function () { helpForm.onsubmit(); };
      helpBody.replaceChildren(back, el("strong", { "class": "or-article-title" }, a.title),
        el("div", { "class": "or-article", "data-article": a.article_id }, a.body),
        el("div", { "class": "or-status" }, tr("stillNeedHelp")));
    });
  }
  helpForm.onsubmit = function (e) {
    if (e) e.preventDefault();
    var q = helpInput.value.trim(); if (!q) return;
    fetch(kbUrl("/search", { q: q })).then(function (r) { return r.json(); }).then(function (found) {
      var hits = found.articles || [];
      if (!hits.length) { helpBody.replaceChildren(el("div", { "class": "or-status" }, tr("noArticle"))); return; }
      helpBody.replaceChildren.apply(helpBody, hits.map(function (hit) {
        var b = el("button", { type: "button", "class": "or-result", "data-article": hit.article_id }, hit.title);
        b.onclick = function () { showArticle(hit.article_id); };
        return b;
      }));
    }).catch(function () { helpBody.textContent = tr("searchDown"); });
  };
  if (opts.proactive) {
    setTimeout(function () {
      if (panel.style.display !== "none") return;
      var prompt = el("button", { type: "button", "class": "or-prompt" }, opts.proactive);
      var post = function (kind) {
        fetch(kbBase + "/events", { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ kind: kind, visitor: visitor(), campaign: "widget" }) }).catch(function () {});
      };
      prompt.onclick = function () { post("proactive_opened"); prompt.remove(); panel.style.display = "flex"; helpInput.focus(); };
      root.insertBefore(prompt, panel);
      post("proactive_sent");
    }, opts.proactiveDelay);
  }

  // The buttons an agent message offers (its choices: the survey's 1-5), under the latest
  // message only: any message after it takes them away, a tap sends its title and payload.
  function offer(frame) {
    var old = log.querySelector(".or-choices");
    if (old) old.remove();
    if (frame.direction !== "agent" || !(frame.choices || []).length) return;
    var bar = el("div", { "class": "or-choices" });
    frame.choices.forEach(function (c) {
      var button = el("button", { type: "button", "class": "or-choice" }, c.title);
      button.onclick = function () {
        bar.remove();
        queue({ type: "message", client_message_id: newId(), text: c.title,
                choice: { payload: c.payload, title: c.title } });
      };
      bar.appendChild(button);
    });
    log.appendChild(bar);
  }
  function render(frame, pending) {
    var key = frame.event_id || frame.client_message_id;
    var node = shown[frame.client_message_id] || shown[key];
    if (!node) {
      node = el("div", { "class": "or-msg or-" + frame.direction });
      log.appendChild(node);
      offer(frame);  // a new message: the buttons are its own, or none
    }
    node.textContent = "";
    if (frame.direction === "agent" && frame.author) {  // the agent's name, when an admin set one
      // the answer bot (a bot with a name) in the visitor's language: user run 46's Korean
      // visitor read "Answer bot" above its Korean answers
      var who = frame.author_kind === "bot" ? tr("bot") : frame.author;
      node.appendChild(el("span", { "class": "or-author" }, who));
    }
    node.appendChild(document.createTextNode(frame.text || ""));
    (frame.attachments || []).forEach(function (a, i) {
      var local = (previews[frame.client_message_id] || [])[i];
      var name = a.filename || (a.content_type === "application/pdf" ? "document.pdf" : "file");
      if (local && /^image\//.test(a.content_type || "")) {
        var img = el("img", { "class": "or-thumb", src: local, alt: name });
        img.onerror = function () { img.replaceWith(el("span", { "class": "or-file" }, "\uD83D\uDCCE " + name)); };
        node.appendChild(img);
      } else {
        node.appendChild(el("span", { "class": "or-file" }, "\uD83D\uDCCE " + name));
      }
    });
    node.classList.toggle("or-pending", !!pending);
    if (frame.event_id) node.setAttribute("data-event-id", frame.event_id);
    if (frame.client_message_id) shown[frame.client_message_id] = node;
    if (frame.event_id) shown[frame.event_id] = node;
    if (frame.direction === "agent" && frame.event_id && !frame.read) unread.push(frame.event_id);
    log.scrollTop = log.scrollHeight;
  }
  function markRead() {
    if (!unread.length || panel.style.display === "none" || document.hidden) return;
    send({ type: "read", event_ids: unread.splice(0, 100) });
  }
  function showForms() {
    chatForm.style.display = available ? "flex" : "none";
    offForm.style.display = available ? "none" : "flex";
  }
  function send(frame) {
    if (ws && ws.readyState === 1) { ws.send(JSON.stringify(frame)); return true; }
    return false;
  }
  function queue(frame) {
    var outbox = load(OUTBOX_KEY, []);
    outbox.push(frame); save(OUTBOX_KEY, outbox);
    render({ direction: "visitor", text: frame.text, client_message_id: frame.client_message_id, attachments: frame.attachments }, true);
    send(frame);
  }
  function flush() {
    load(OUTBOX_KEY, []).forEach(function (frame) {
      render({ direction: "visitor", text: frame.text, client_message_id: frame.client_message_id, attachments: frame.attachments }, true);
      send(frame);
    });
  }
  function acked(clientId, eventId) {
    save(OUTBOX_KEY, load(OUTBOX_KEY, []).filter(function (f) { return f.client_message_id !== clientId; }));
    var node = shown[clientId];
    if (node) { node.classList.remove("or-pending"); node.setAttribute("data-event-id", eventId); shown[eventId] = node; }
  }

  chatForm.onsubmit = function (e) {
    e.preventDefault();
    var text = input.value.trim(); if (!text) return;
    input.value = "";
    queue({ type: "message", client_message_id: newId(), text: text });
  };
  // Enter sends (Shift+Enter: a new line), as in every chat; not while an input method is
  // composing (Korean, Japanese: Enter there confirms the syllable, not the message)
  input.onkeydown = function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault(); chatForm.onsubmit(e);
    }
  };
  offForm.onsubmit = function (e) {
    e.preventDefault();
    var text = offText.value.trim(); if (!text) return;
    queue({ type: "offline_form", client_message_id: newId(), text: text, email: offEmail.value.trim(), name: opts.name });
    offText.value = "";
  };
  var UPLOAD_ERRORS = {
    401: tr("up401"), 413: tr("up413"), 415: tr("up415"), 429: tr("up429"), 503: tr("up503")
  };
  function uploadFailed(xhr) {
    var detail = "";
    try { detail = JSON.parse(xhr.responseText).error.message; } catch (e) {}
    var known = UPLOAD_ERRORS[xhr.status] || tr("upFailed");
    status.textContent = xhr.status === 413 && detail ? known + " (" + detail + ")" : known;
  }
  // XMLHttpRequest, not fetch: it reports upload progress. The token goes as a form
  // field (a simple cross-origin request: no preflight on the customer's page).
  function upload(file) {
    var token = load(TOKEN_KEY, null);
    if (!token) { status.textContent = UPLOAD_ERRORS[401]; return; }
    var form = new FormData();
    form.append("visitor_token", token);
    form.append("file", file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", uploadUrl);
    attach.disabled = true; status.textContent = tr("uploading", { name: file.name });
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) status.textContent = tr("uploading", { name: file.name }) + " " + Math.round(100 * e.loaded / e.total) + "%";
    };
    xhr.onload = function () {
      attach.disabled = false;
      if (xhr.status !== 200) { uploadFailed(xhr); return; }
      var up = JSON.parse(xhr.responseText), id = newId(), text = input.value.trim();
      status.textContent = ""; input.value = "";
      previews[id] = [URL.createObjectURL(file)];
      var frame = { type: "message", client_message_id: id, attachments: [{ upload_id: up.upload_id, filename: up.filename || file.name, content_type: up.content_type }] };
      if (text) frame.text = text;
      queue(frame);
    };
    xhr.onerror = function () { attach.disabled = false; status.textContent = UPLOAD_ERRORS[503]; };
    xhr.send(form);
  }
  attach.onclick = function () { fileInput.click(); };
  fileInput.onchange = function () {
    var file = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    if (file) upload(file);
  };
  var typingSent = false;
  input.oninput = function () {
    if (!typingSent) { typingSent = true; send({ type: "typing", state: true });
      setTimeout(function () { typingSent = false; send({ type: "typing", state: false }); }, 3000); }
  };
  document.addEventListener("visibilitychange", markRead);

  function connect() {
    ws = new WebSocket(wsUrl);
    ws.onopen = function () {
      var hello = { type: "hello", visitor_token: load(TOKEN_KEY, null), site: opts.site };
      if (opts.identityToken) hello.identity_token = opts.identityToken;
      else if (opts.identifier) { hello.identifier = opts.identifier; hello.identity_hash = opts.identityHash; }
      if (opts.name) hello.name = opts.name;
      if (opts.email) hello.email = opts.email;
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = function (event) {
      var frame = JSON.parse(event.data);
      if (frame.type === "welcome") {
        backoff = 500;
        save(TOKEN_KEY, frame.visitor_token);
        (frame.history || []).forEach(function (m) { m.read = true; render(m, false); });
        available = frame.agents_available; showForms();
        status.textContent = available ? "" : tr("away");
        flush();
      } else if (frame.type === "ack") {
        acked(frame.client_message_id, frame.event_id);
      } else if (frame.type === "message") {
        render(frame, false);
        if (frame.direction === "agent") { send({ type: "delivered", event_ids: [frame.event_id] }); status.textContent = ""; }
        markRead();
      } else if (frame.type === "presence") {
        available = frame.agents_available; showForms();
        status.textContent = available ? "" : tr("away");
      } else if (frame.type === "typing") {
        status.textContent = frame.state ? tr("typing", { who: frame.author || tr("agent") }) : "";
      } else if (frame.type === "error") {
        status.textContent = tr("error", { detail: frame.detail });
        if (frame.code === "unavailable") setTimeout(flush, backoff);
      }
    };
    ws.onclose = function () {
      status.textContent = tr("reconnecting");
      setTimeout(connect, backoff); backoff = Math.min(backoff * 2, 15000);
    };
  }
  window.__omnirouteChat = { send: function (text) { queue({ type: "message", client_message_id: newId(), text: text }); } };
  showForms();
  connect();
})();
