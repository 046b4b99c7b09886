// omniroute console texts in English and Korean. The browser's language picks one
// (navigator.languages); the header's switch overrides it (kept in localStorage).
"use strict";

const TEXTS = {
  en: {
    "sign-in": "Sign in", "sign-in-hint": "Paste the token from omniroute agents token YOUR_ID.",
    presence: "Presence", available: "Available", busy: "Busy", away: "Away", offline: "Offline",
    "tab-conversations": "Conversations", "tab-board": "Board", "tab-admin": "Admin",
    offers: "Offers", "my-conversations": "My conversations", "open-conversations": "Open conversations", "no-offers": "No offers",
    "none-yet": "None yet", placeholder: "Accept an offer or pick a conversation.",
    "canned": "Canned response…", "last-channel": "Last channel", reports: "Reports", "kb-title": "Knowledge", "kb-intent": "Intent", "kb-language": "Language", "kb-slots": "Slots", "kb-none": "none", "kb-insert": "Insert", "kb-no-match": "No article matches this conversation.", "kb-unavailable": "Knowledge unavailable:",
    "reply-placeholder": "Reply to the customer…", send: "Send",
    note: "Add as internal note", resolve: "Resolve", accept: "Accept", decline: "Decline",
    "past-conversations": "Past conversations", tags: "Tags", "add-tag": "Add tag",
    transfer: "Transfer", "transfer-agent": "to agent", "transfer-pool": "or pool",
    "read-only": "Read only: a past conversation of this customer.", back: "Back",
    rated: "Customer's rating:", "note-by": "Note by", "system-note": "omniroute:", "not-delivered": "Not delivered:", "unnamed-visitor": "Visitor", "unnamed-customer": "Customer", "erased-customer": "Erased customer", "not-sent-yet": "Not sent yet:", "act-assigned": "Assigned to", "act-unassigned": "Taken back from", "act-dequeued": "Left the queue", "act-transferred": "Transferred from", "tag-ph": "tag", "agent-ph": "agent", "pool-ph": "pool", "transfer-reason": "why (the next agent reads it)", "act-resolved-bot": "Resolved by the answer bot", "author-bot": "Answer bot", "author-auto": "Automatic", "state-queued": "queued", "state-accepted": "accepted", "state-sent": "sent", "state-delivered": "delivered", "state-read": "read", "state-failed": "failed", "act-resolved": "Resolved by", "act-resolved-plain": "Resolved", "act-reopened": "Reopened by the customer", "act-parked": "No agent pool could take it", "act-rerouted": "Moved to pool", "act-escalated": "Escalated", "act-sla": "SLA missed", "reply-not-sent": "Your reply was not sent:", "missed-offer": "You did not answer an offer in time.", "held-for": "kept for {agent} until {time}", "taken-away": "{customer} is no longer yours: {reason}.", "missed-offer-away": "You are Away now: choose Available to get new conversations.", resend: "Send again", resent: "Sent again", unverified: "Unverified sender", "unverified-hint": "This mail did not pass SPF/DKIM/DMARC: the From address may be forged. It was not joined to that address's customer.",
    "new-offer": "New offer", live: "live", reconnecting: "reconnecting…",
    refused: "The router refused", expires: "expires", shortcuts: "Shortcuts",
    "shortcut-help": "Alt+A accept · Alt+D decline · Ctrl+Enter send · Alt+R resolve · Alt+T transfer · Alt+1/2/3 views",
    pools: "Pools", pool: "Pool", waiting: "Waiting", "oldest-wait": "Oldest wait",
    offered: "Offered", "offered-to": "Offered to",
    "sla-missed": "SLA missed", "sla-missed-hint": "A service-level target of this conversation has passed",
    "sla-first_reply": "first reply", "sla-next_reply": "next reply", "sla-resolution": "resolution",
    "content-location": "Location", "content-map": "map", "content-contacts": "Shared contact",
    "content-chose": "Chose", "content-reacted": "Reacted", "content-unreacted": "Removed a reaction",
    "content-none": "(nothing omniroute can show)", "content-template": "Template", "author-proactive": "Proactive message",
    "awaiting-reply": "The customer is waiting for an answer", you: "You",
    "by-priority": "By priority", agents: "Agents", agent: "Agent", status: "Status",
    occupancy: "Occupancy", conversations: "Conversations", actions: "Actions",
    online: "online", chatting: "chatting", lost: "lost", "status-away": "away", "status-offline": "offline", parked: "Parked", "with-bot": "With the answer bot", reason: "Reason",
    "dead-letters": "Dead letters", replay: "Replay", replayed: "replayed", reroute: "Re-route",
    reassign: "Reassign", "force-status": "Set status", error: "Error", when: "When",
    configuration: "Configuration", version: "version", save: "Save", remove: "Remove",
    capacity: "Capacity", "channel-caps": "Channel caps", skills: "Skills", "display-name": "Name customers see",
    "auto-accept": "Auto-accept", "issue-token": "Issue token", role: "Role",
    expires_in: "Expires in", selection: "Selection", "queue-cap": "Queue cap",
    "offer-timeout": "Offer timeout (s)", "business-hours": "Business hours",
    timezone: "Time zone", overflow: "Overflow", "after-s": "after (s)",
    "auto-join": "Anyone with a token joins", routing: "Routing", "default-pool": "Default pool",
    "answer-bot": "Answer bot", "bot-on": "Answers customers (a switch-off hands what it holds to agents)",
    "bot-channels": "Channels (empty: all)", "bot-threshold": "Score an answer needs",
    rules: "Rules (first match wins)", "import-export": "Import / export (TOML)",
    export: "Export", import: "Import", audit: "Audit log", who: "Who", what: "What",
    saved: "Saved: version", "no-change": "No change", warning: "Warning", "warn-never-matches": "rule {rule} (skill {skill} → pool {pool}) never matches: no agent has the skill {skill}", "warn-no-agents": "pool {pool} has no agents: what the rules send there waits until one is added", "token-once": "Token (shown once):",
    "save-named": "Save {name}", "add-agent": "Add agent", "add-pool": "Add pool",
    "choose-pool": "Choose a pool…", "moves-pool": "{name} moves from pool {from} to {to}; the conversations {name} holds go along; offers not yet accepted go back to the queue of {from}",
    "what-agent": "agent {name}", "what-pool": "pool {name}", "what-routing": "the routing rules",
    "what-bot": "the answer bot's settings",
    "conflict-changed": "Someone changed the configuration since you opened {what} (now version {version}). The form shows the live values again: check them and save again.",
    "conflict-elsewhere": "Someone changed the configuration since you opened {what} (now version {version}), but not {what}: nothing was saved, your values are still in the form; save again.",
    "conflict-removal": "Someone changed the configuration since this list was shown (now version {version}); {what} was not removed. The lists show the live configuration again: check them and remove again.",
    versions: "Configuration versions", "version-col": "Version", why: "Why", "live-version": "live",
    restore: "Restore",
    "not-routed": "An admin took you out of routing: no new conversations come to you, and the ones you held went back to the queue.",
    "routed-again": "You are in routing again: new conversations come to you as your presence allows.",
    "restore-confirm": "Publish version {version} again as the live configuration? It replaces version {live}, which you can restore the same way.",
    restored: "Restored version {restored}: now version {version}",
    "conflict-restore": "Someone changed the configuration since this list was shown (now version {version}); version {restored} was not restored. Check the list and restore again.",
    "att-image": "Photo", "att-sticker": "Sticker", "att-audio": "Audio", "att-video": "Video", "att-file": "File",
    "att-loading": "Loading…", "att-download": "Download", "att-open": "Open full size", "att-close": "Close",
    "att-not-stored": "not stored: the file's bytes were not kept", "att-unavailable": "The provider did not give this file",
    "att-too-large": "Too large to show here", "att-forbidden": "You may not open this attachment",
    "att-not-found": "Attachment not found", "att-failed": "Could not load the attachment:",
    "att-unshowable": "This browser cannot show it: download it",
    // the reports page (reports.html, reports.js); a Korean supervisor read it in English
    // until 2026-12-07
    "rep-title": "Reports", "rep-back": "Back to the console",
    "rep-signin": "Sign in on the console first (supervisor token).", "rep-report": "Support report",
    "rep-from": "From", "rep-to": "To", "rep-by": "Group by", "rep-show": "Show report",
    "rep-csv": "Download CSV", "rep-computing": "Computing…", "rep-shown": "Report {from} → {to}",
    "rep-staffing": "Staffing calculator", "rep-contacts": "Contacts per interval",
    "rep-interval": "Interval (s)", "rep-aht": "Handle time (s)", "rep-sl": "Service level",
    "rep-within": "Answer within (s)", "rep-max-occ": "Max occupancy", "rep-shrinkage": "Shrinkage",
    "rep-chats": "Chats per agent", "rep-model": "Model", "rep-patience": "Patience (s)",
    "rep-calculate": "Calculate", "rep-agents": "Agents on duty", "rep-rostered": "Agents rostered",
    "rep-load": "Load (Erlangs)", "rep-eff-aht": "Effective handle time (s)", "rep-p-wait": "P(wait)",
    "rep-asa": "ASA (s)", "rep-occupancy": "Occupancy", "rep-p-abandon": "P(abandon)",
    "rep-erlang-c": "Erlang C agents",
  },
  ko: {
    "sign-in": "로그인", "sign-in-hint": "omniroute agents token 아이디 로 받은 토큰을 붙여 넣으세요.",
    presence: "상태", available: "상담 가능", busy: "바쁨", away: "자리 비움", offline: "오프라인",
    "tab-conversations": "상담", "tab-board": "현황판", "tab-admin": "관리",
    offers: "배정 제안", "my-conversations": "내 상담", "open-conversations": "진행 중인 상담", "no-offers": "제안 없음",
    "none-yet": "아직 없음", placeholder: "제안을 수락하거나 상담을 선택하세요.",
    canned: "상용구…", "last-channel": "마지막 채널", reports: "보고서", "kb-title": "지식 베이스", "kb-intent": "의도", "kb-language": "언어", "kb-slots": "슬롯", "kb-none": "없음", "kb-insert": "삽입", "kb-no-match": "이 상담에 맞는 문서가 없습니다.", "kb-unavailable": "지식 베이스를 불러올 수 없음:",
    "reply-placeholder": "고객에게 답장…", send: "보내기",
    note: "내부 메모로 추가", resolve: "해결", accept: "수락", decline: "거절",
    "past-conversations": "지난 상담", tags: "태그", "add-tag": "태그 추가",
    transfer: "이관", "transfer-agent": "상담원에게", "transfer-pool": "또는 풀",
    "read-only": "읽기 전용: 이 고객의 지난 상담입니다.", back: "돌아가기",
    rated: "고객 만족도 평가:", "note-by": "메모 작성자", "system-note": "omniroute:", "not-sent-yet": "아직 전송되지 않음:", "act-assigned": "배정:", "act-unassigned": "배정 해제:", "act-dequeued": "대기열에서 빠짐", "act-transferred": "이관:", "tag-ph": "태그", "agent-ph": "상담원", "pool-ph": "풀", "transfer-reason": "이관 사유 (받는 상담원이 봅니다)", "act-resolved-bot": "답변 봇이 해결", "author-bot": "답변 봇", "author-auto": "자동 응답", "state-queued": "대기 중", "state-accepted": "접수됨", "state-sent": "보냄", "state-delivered": "전달됨", "state-read": "읽음", "state-failed": "실패", "act-resolved": "해결:", "act-resolved-plain": "해결됨", "act-reopened": "고객이 다시 문의함", "act-parked": "받을 수 있는 상담 그룹이 없음", "act-rerouted": "상담 그룹 이동:", "act-escalated": "상향 요청", "act-sla": "SLA 미달", "reply-not-sent": "답장이 전송되지 않았습니다:", "missed-offer": "제시된 상담에 제때 응답하지 않았습니다.", "held-for": "{agent} 상담원 대기 ({time}까지)", "taken-away": "{customer} 상담이 더 이상 배정되어 있지 않습니다: {reason}.", "missed-offer-away": "지금 자리 비움 상태입니다. 새 상담을 받으려면 상담 가능을 선택하세요.", "not-delivered": "전송 실패:", "unnamed-visitor": "방문자", "unnamed-customer": "고객", "erased-customer": "삭제된 고객", resend: "다시 보내기", resent: "다시 보냄", unverified: "확인되지 않은 발신자", "unverified-hint": "이 메일은 SPF/DKIM/DMARC 인증을 통과하지 못했습니다. 보낸 사람 주소가 위조되었을 수 있어 해당 주소의 고객과 합치지 않았습니다.",
    "new-offer": "새 제안", live: "연결됨", reconnecting: "다시 연결 중…",
    refused: "라우터가 거부했습니다", expires: "만료", shortcuts: "단축키",
    "shortcut-help": "Alt+A 수락 · Alt+D 거절 · Ctrl+Enter 보내기 · Alt+R 해결 · Alt+T 이관 · Alt+1/2/3 화면",
    pools: "풀", pool: "풀", waiting: "대기", "oldest-wait": "최장 대기",
    offered: "제안 중", "offered-to": "제안 받은 상담원",
    "sla-missed": "SLA 초과", "sla-missed-hint": "이 대화의 서비스 수준 목표 시간이 지났습니다",
    "sla-first_reply": "첫 응답", "sla-next_reply": "다음 응답", "sla-resolution": "해결",
    "content-location": "위치", "content-map": "지도", "content-contacts": "공유한 연락처",
    "content-chose": "선택", "content-reacted": "반응", "content-unreacted": "반응을 취소함",
    "content-none": "(표시할 수 없는 내용)", "content-template": "템플릿", "author-proactive": "먼저 보낸 메시지",
    "awaiting-reply": "고객이 답변을 기다리고 있습니다", you: "나",
    "by-priority": "우선순위별", agents: "상담원", agent: "상담원", status: "상태",
    occupancy: "점유율", conversations: "상담", actions: "작업",
    online: "온라인", chatting: "상담 중", lost: "연결 끊김", "status-away": "자리 비움", "status-offline": "오프라인", parked: "보류", "with-bot": "답변 봇 응대 중", reason: "사유",
    "dead-letters": "처리 실패 메시지", replay: "재처리", replayed: "재처리됨", reroute: "재배정 요청",
    reassign: "다른 상담원에게", "force-status": "상태 변경", error: "오류", when: "시각",
    configuration: "설정", version: "버전", save: "저장", remove: "삭제",
    capacity: "동시 상담 수", "channel-caps": "채널별 한도", skills: "스킬", "display-name": "고객에게 보이는 이름",
    "auto-accept": "자동 수락", "issue-token": "토큰 발급", role: "역할",
    expires_in: "유효 기간", selection: "선택 방식", "queue-cap": "대기열 한도",
    "offer-timeout": "제안 제한 시간(초)", "business-hours": "영업시간",
    timezone: "시간대", overflow: "넘김", "after-s": "대기 후(초)",
    "auto-join": "토큰이 있는 누구나 참여", routing: "라우팅", "default-pool": "기본 풀",
    "answer-bot": "답변 봇", "bot-on": "고객에게 답변(끄면 진행 중인 대화를 상담원에게 넘김)",
    "bot-channels": "채널(비우면 전체)", "bot-threshold": "답변에 필요한 점수",
    rules: "규칙(먼저 맞는 규칙 적용)", "import-export": "가져오기 / 내보내기 (TOML)",
    export: "내보내기", import: "가져오기", audit: "감사 기록", who: "누가", what: "무엇을",
    saved: "저장됨: 버전", "no-change": "변경 없음", warning: "경고", "warn-never-matches": "규칙 {rule} (스킬 {skill} → 풀 {pool})은 적용되지 않습니다: {skill} 스킬을 가진 상담원이 없습니다", "warn-no-agents": "{pool} 풀에 상담원이 없습니다: 규칙이 이 풀로 보내는 상담은 상담원이 추가될 때까지 대기합니다", "token-once": "토큰(한 번만 표시):",
    "save-named": "{name} 저장", "add-agent": "상담원 추가", "add-pool": "풀 추가",
    "choose-pool": "풀 선택…", "moves-pool": "{name} 상담원이 {from} 풀에서 {to} 풀로 옮겨집니다. 맡고 있던 상담은 함께 옮겨지고, 아직 수락하지 않은 배정 제안은 {from} 풀 대기열로 돌아갑니다",
    "what-agent": "상담원 {name}", "what-pool": "{name} 풀", "what-routing": "라우팅 규칙",
    "what-bot": "답변 봇 설정",
    "conflict-changed": "{what}을(를) 연 뒤 다른 사람이 설정을 바꿨습니다(현재 버전 {version}). 양식에 현재 값을 다시 채웠습니다. 확인한 뒤 다시 저장하세요.",
    "conflict-elsewhere": "{what}을(를) 연 뒤 다른 사람이 설정을 바꿨지만(현재 버전 {version}) {what}은(는) 바뀌지 않았습니다. 아무것도 저장되지 않았고 입력한 값은 양식에 그대로 있습니다. 다시 저장하세요.",
    "conflict-removal": "목록을 표시한 뒤 다른 사람이 설정을 바꿨습니다(현재 버전 {version}). {what}은(는) 삭제되지 않았습니다. 현재 설정을 다시 표시했으니 확인한 뒤 다시 삭제하세요.",
    versions: "설정 버전", "version-col": "버전", why: "이유", "live-version": "현재 설정",
    restore: "복원",
    "not-routed": "관리자가 라우팅에서 제외했습니다. 새 상담이 배정되지 않으며, 맡고 있던 상담은 대기열로 돌아갔습니다.",
    "routed-again": "다시 라우팅에 포함되었습니다. 상태에 따라 새 상담이 배정됩니다.",
    "restore-confirm": "버전 {version}을(를) 현재 설정으로 다시 게시할까요? 버전 {live}을(를) 대체하며, 그 버전도 같은 방법으로 복원할 수 있습니다.",
    restored: "버전 {restored} 복원됨: 현재 버전 {version}",
    "conflict-restore": "목록을 표시한 뒤 다른 사람이 설정을 바꿨습니다(현재 버전 {version}). 버전 {restored}은(는) 복원되지 않았습니다. 목록을 확인한 뒤 다시 복원하세요.",
    "att-image": "사진", "att-sticker": "스티커", "att-audio": "음성", "att-video": "동영상", "att-file": "파일",
    "att-loading": "불러오는 중…", "att-download": "다운로드", "att-open": "원본 크기로 보기", "att-close": "닫기",
    "att-not-stored": "저장되지 않음: 파일 내용이 보관되지 않았습니다", "att-unavailable": "제공업체에서 이 파일을 받지 못했습니다",
    "att-too-large": "너무 커서 여기에 표시할 수 없습니다", "att-forbidden": "이 첨부 파일을 열 권한이 없습니다",
    "att-not-found": "첨부 파일을 찾을 수 없습니다", "att-failed": "첨부 파일을 불러오지 못했습니다:",
    "att-unshowable": "이 브라우저에서 표시할 수 없습니다. 다운로드하세요",
    "rep-title": "리포트", "rep-back": "콘솔로 돌아가기",
    "rep-signin": "먼저 콘솔에서 로그인하세요 (슈퍼바이저 토큰).", "rep-report": "상담 리포트",
    "rep-from": "시작", "rep-to": "끝", "rep-by": "묶음 기준", "rep-show": "리포트 보기",
    "rep-csv": "CSV 다운로드", "rep-computing": "계산 중…", "rep-shown": "리포트 {from} → {to}",
    "rep-staffing": "인력 계산기", "rep-contacts": "구간당 문의 수",
    "rep-interval": "구간 (초)", "rep-aht": "처리 시간 (초)", "rep-sl": "서비스 수준",
    "rep-within": "목표 응답 시간 (초)", "rep-max-occ": "최대 점유율", "rep-shrinkage": "비가동률",
    "rep-chats": "상담원당 동시 채팅", "rep-model": "모델", "rep-patience": "고객 인내 시간 (초)",
    "rep-calculate": "계산", "rep-agents": "필요 근무 인원", "rep-rostered": "편성 인원",
    "rep-load": "부하 (얼랭)", "rep-eff-aht": "실효 처리 시간 (초)", "rep-p-wait": "대기 확률",
    "rep-asa": "평균 응답 속도 ASA (초)", "rep-occupancy": "점유율", "rep-p-abandon": "포기 확률",
    "rep-erlang-c": "Erlang C 인원",
  },
};

// The router's and the gateway's reasons (English words in events: "customer erased",
// "reassigned by sue") in the console's language; a reason not matched (an agent's own
// words, a rule's name) is shown as written. Korean consoles showed them in English
// until 2026-12-07 (user runs 49 and 51).
const REASONS = {
  en: [[/^no pool: (.+)$/, (m) => m[1]]],  // the activity line says "No agent pool could take it"
  ko: [
    [/^customer erased$/, () => "고객 정보 삭제"],
    [/^agent removed$/, () => "상담원이 설정에서 제외됨"],
    [/^agent moved to another pool$/, () => "상담원이 다른 상담 그룹으로 이동함"],
    [/^agent went (available|busy|away|offline)$/, (m) => `상담원 상태 변경: ${t(m[1])}`],
    [/^agent set away: offer timed out$/, () => "제안에 응답하지 않아 자리 비움으로 변경됨"],
    [/^agent lost \(no heartbeat\)$/, () => "상담원 연결 끊김"],
    [/^offer timed out$/, () => "제안 응답 시간 초과"],
    [/^offer declined$/, () => "제안 거절"],
    [/^conversation canceled$/, () => "상담 취소됨"],
    [/^queue full$/, () => "대기열이 가득 참"],
    [/^queue time-to-live expired$/, () => "대기 시간 한도 초과"],
    [/^overflow timeout$/, () => "대기 시간 초과: 다른 그룹으로 넘김"],
    [/^queue cap reached: overflow$/, () => "대기열 한도 도달: 다른 그룹으로 넘김"],
    [/^routing targets exhausted$/, () => "라우팅 대상 소진"],
    [/^(.+): overflow$/, (m) => `${reasonText(m[1])}: 다른 그룹으로 넘김`],
    [/^no pool: /, () => "맞는 라우팅 규칙이나 기본 그룹이 없음"],  // (after "no pool could take it")
    [/^(.+): no further pool \(hops (\d+)\)$/, (m) => `${reasonText(m[1])}: 더 넘길 그룹 없음 (이동 ${m[2]}회)`],
    [/^reassigned by (.+)$/, (m) => `${m[1]} 님이 재배정`],
    [/^re-routed by (.+)$/, (m) => `${m[1]} 님이 재배정 요청`],
    [/^customer wrote while parked \((.*)\)$/, (m) => `보류 중 고객이 다시 문의함 (${reasonText(m[1])})`],
  ],
};

/** A system reason in the console's language (as written when it is not a known one). */
function reasonText(reason) {
  if (!reason) return reason;
  for (const [pattern, words] of REASONS[i18n.lang] || []) {
    const m = reason.match(pattern);
    if (m) return words(m);
  }
  return reason;
}

function chooseLanguage() {
  const saved = localStorage.getItem("omniroute-lang");
  if (saved && TEXTS[saved]) return saved;
  const wanted = navigator.languages || [navigator.language || "en"];
  return wanted.some((l) => l.toLowerCase().startsWith("ko")) ? "ko" : "en";
}

const i18n = { lang: chooseLanguage() };

function t(key) { return (TEXTS[i18n.lang] && TEXTS[i18n.lang][key]) || TEXTS.en[key] || key; }

/** t(key) with its {placeholders} filled: tfill("save-named", {name: "ada"}) → "Save ada". */
function tfill(key, values) { return t(key).replace(/\{(\w+)\}/g, (all, name) => values[name] ?? all); }

function translatePage() {
  document.documentElement.lang = i18n.lang;
  document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((node) => { node.placeholder = t(node.dataset.i18nPlaceholder); });
  document.querySelectorAll("[data-i18n-title]").forEach((node) => { node.title = t(node.dataset.i18nTitle); });
}

function setLanguage(lang) {
  i18n.lang = TEXTS[lang] ? lang : "en";
  localStorage.setItem("omniroute-lang", i18n.lang);
  translatePage();
  document.dispatchEvent(new CustomEvent("omniroute:language"));
}
