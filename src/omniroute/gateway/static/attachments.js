// omniroute agent console: a message's attachments in the history.
//
// The bytes come from GET /api/v1/conversations/{id}/messages/{message}/attachments/{position}
// with the agent's bearer token, which an <img src> cannot send: they are fetched, and shown
// through data: URLs (images) or object URLs (audio, video, downloads). The history is drawn
// again every few seconds, so what was fetched is kept per conversation (with the media
// element itself: a playing audio or video goes on playing) and released when another
// conversation opens, it closes, or the message is gone. Only what scrolls into view is
// fetched, at most PARALLEL at a time; images, audio and video whole, a file only asked for
// (its body left unread) until the agent downloads it, so its row says at once when its
// bytes were not stored.
"use strict";

const attachmentView = (() => {
  const SHOWN = new Set(["image", "sticker", "audio", "video"]);
  const PARALLEL = 4;
  const NOTES = { not_stored: "att-not-stored", media_unavailable: "att-unavailable",
    media_too_large: "att-too-large", forbidden: "att-forbidden", not_found: "att-not-found" };
  const cache = { conversation: null, entries: new Map(), used: new Set() };
  const queue = [];
  let running = 0;
  const observer = new IntersectionObserver((seen) => seen.forEach((s) => {
    if (!s.isIntersecting) return;
    observer.unobserve(s.target);
    enqueue(cache.entries.get(s.target.dataset.attachment));
  }), { rootMargin: "200px" });

  /** Forget every fetched attachment (another conversation opens, or it closes). */
  function forget() {
    observer.disconnect();
    queue.length = 0;
    cache.entries.forEach(revoke);
    cache.entries.clear();
    cache.conversation = null;
    document.querySelectorAll(".lightbox").forEach((box) => box.remove());
  }

  /** Start a render of the conversation's history. */
  function begin(conversationId) {
    if (cache.conversation !== conversationId) forget();
    cache.conversation = conversationId;
    observer.disconnect();
    cache.used.clear();
  }

  /** End a render: what it did not show any more is revoked. */
  function end() {
    for (const [key, entry] of cache.entries) {
      if (!cache.used.has(key)) { revoke(entry); cache.entries.delete(key); }
    }
  }

  function revoke(entry) {
    if (entry.url && entry.url.startsWith("blob:")) URL.revokeObjectURL(entry.url);
    entry.url = null;
    entry.element = null;
  }

  /** The message's attachments (a list node), or "" when it has none. */
  function render(message) {
    const attachments = message.attachments || [];
    if (attachments.length === 0) return "";
    return el("div", { class: "attachments" }, attachments
      .map((a, index) => ({ ...a, position: a.position ?? index }))
      .sort((a, b) => a.position - b.position)
      .map((a) => renderOne(message.message_id, a)));
  }

  function renderOne(messageId, attachment) {
    const key = `${messageId}/${attachment.position}`;
    let entry = cache.entries.get(key);
    if (!entry) {
      entry = { key, status: "idle", url: null, element: null, code: null, message: null,
        path: `/conversations/${encodeURIComponent(cache.conversation)}/messages/`
          + `${encodeURIComponent(messageId)}/attachments/${attachment.position}` };
      cache.entries.set(key, entry);
    }
    entry.attachment = attachment;
    cache.used.add(key);
    const node = el("figure", { class: `attachment ${attachment.kind}`, "data-attachment": key });
    fill(node, entry);
    if (entry.status === "idle") observer.observe(node);
    return node;
  }

  function fill(node, entry) {
    const a = entry.attachment;
    const shown = SHOWN.has(a.kind);
    let body;
    if (shown && entry.status === "ready") body = mediaOf(entry);
    else if (shown && ["idle", "queued", "loading"].includes(entry.status)) {
      body = el("div", { class: "attachment-pending" }, `${kindLabel(a.kind)} · ${t("att-loading")}`);
    } else body = fileRow(entry);
    const failed = ["failed", "unshowable"].includes(entry.status)
      ? el("div", { class: `attachment-error ${entry.code}`, title: entry.message || "" }, noteOf(entry)) : "";
    node.dataset.state = entry.status;
    node.replaceChildren(body, failed, a.caption ? el("figcaption", {}, a.caption) : "");
  }

  // the same element on every render, so a playing audio or video is not restarted; bytes
  // the browser cannot show (a HEIC photo, an AMR voice note) become a file row to download
  function mediaOf(entry) {
    if (entry.element) return entry.element;
    const a = entry.attachment;
    const alt = a.caption || a.filename || kindLabel(a.kind);
    const unshowable = () => {
      Object.assign(entry, { status: "unshowable", code: "unshowable", element: null });
      refresh(entry);
    };
    if (a.kind === "audio" || a.kind === "video") {
      entry.element = el(a.kind, { controls: "", preload: "metadata", src: entry.url, title: alt,
        onerror: unshowable });
    } else {
      entry.element = el("button", { type: "button", class: "thumb-open", title: t("att-open"),
        onclick: () => lightbox(entry.url, alt) },
      el("img", { class: "thumb", src: entry.url, alt, onerror: unshowable }));
    }
    return entry.element;
  }

  function fileRow(entry) {
    const a = entry.attachment;
    const facts = [a.filename || kindLabel(a.kind), a.content_type, sizeOf(a.size_bytes)].filter(Boolean);
    const downloadable = entry.status !== "failed";
    return el("div", { class: "attachment-file" }, `📎 ${facts.join(" · ")}`,
      downloadable ? el("button", { type: "button", class: "secondary download",
        onclick: (e) => download(entry, e.currentTarget) },
      entry.status === "loading" ? t("att-loading") : t("att-download")) : "");
  }

  // The provider's own reason when it failed or refused ("could not fetch the attachment
  // from Twilio: could not reach Twilio: …" is not "the provider no longer has this file").
  function noteOf(entry) {
    if (entry.status === "unshowable") return t("att-unshowable");
    if (entry.code === "media_unavailable" && entry.message) return entry.message;
    return NOTES[entry.code] ? t(NOTES[entry.code]) : `${t("att-failed")} ${entry.message || entry.code}`;
  }

  // "Photo", "Audio", "File": what an attachment of this kind is called
  function kindLabel(kind) {
    return SHOWN.has(kind) ? t(`att-${kind}`) : t("att-file");
  }

  function sizeOf(bytes) {
    if (bytes === null || bytes === undefined) return "";
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
    return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  }

  function enqueue(entry) {
    if (!entry || entry.status !== "idle") return;
    entry.status = "queued";
    queue.push(entry);
    pump();
  }

  function pump() {
    while (running < PARALLEL && queue.length) {
      const entry = queue.shift();
      if (cache.entries.get(entry.key) !== entry || entry.status !== "queued") continue;
      running += 1;
      fetchInto(entry, !SHOWN.has(entry.attachment.kind)).finally(() => { running -= 1; pump(); });
    }
  }

  // probe: only whether the bytes are there (a file before its download): the body is not read
  async function fetchInto(entry, probe) {
    entry.status = probe ? "probing" : "loading";
    refresh(entry);
    const abort = new AbortController();
    let outcome;
    try {
      const response = await fetch(`/api/v1${entry.path}`, {
        headers: { Authorization: `Bearer ${state.token}` }, signal: abort.signal });
      if (!response.ok) {
        const error = (await response.json().catch(() => ({}))).error || {};
        outcome = { status: "failed", code: error.code || `http_${response.status}`,
          message: error.message || `HTTP ${response.status}` };
      } else if (probe) {
        abort.abort();
        outcome = { status: "available" };
      } else {
        outcome = { status: "ready", url: await urlOf(entry.attachment.kind, await response.blob()) };
      }
    } catch (error) {
      outcome = { status: "failed", code: "network", message: error.message };
    }
    // the conversation was closed meanwhile, or the agent's download overtook the probe
    if (cache.entries.get(entry.key) !== entry || (probe && entry.status !== "probing")) {
      revoke(outcome);
      return;
    }
    Object.assign(entry, outcome);
    refresh(entry);
  }

  // An image is shown through a data: URL, which the console's Content-Security-Policy
  // allows (img-src 'self' data:); audio and video through object URLs (media-src 'self'
  // blob:), as are downloads.
  function urlOf(kind, blob) {
    if (!["image", "sticker"].includes(kind)) return Promise.resolve(URL.createObjectURL(blob));
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result);
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(blob);
    });
  }

  async function download(entry, button) {
    if (!entry.url) {
      if (button) { button.disabled = true; button.textContent = t("att-loading"); }
      await fetchInto(entry, false);
    }
    if (!entry.url) return;
    const link = el("a", { href: entry.url, download: entry.attachment.filename || "" });
    document.body.append(link);
    link.click();
    link.remove();
  }

  function refresh(entry) {
    document.querySelectorAll(`#history [data-attachment="${CSS.escape(entry.key)}"]`)
      .forEach((node) => fill(node, entry));
  }

  function lightbox(url, alt) {
    const box = el("div", { class: "lightbox", role: "dialog", "aria-label": alt, title: t("att-close"),
      onclick: () => box.remove() }, el("img", { src: url, alt }));
    document.body.append(box);
  }

  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") document.querySelectorAll(".lightbox").forEach((box) => box.remove());
  });

  return { begin, end, forget, render, kindLabel };
})();
