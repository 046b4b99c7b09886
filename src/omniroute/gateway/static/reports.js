// Reports screen: the supervisor's report (rendered by the gateway as one HTML page with
// inline SVG charts, shown in a sandboxed frame), CSV download, and the staffing calculator.
// Words in the console's language (i18n.js); the report is rendered in it too (`lang`).
"use strict";

const $ = (id) => document.getElementById(id);
let token = session.saved();

function authorized(path) {
  return fetch(path, { headers: { Authorization: `Bearer ${token}` } });
}

function isoOf(input) {
  return input.value ? `${input.value}:00+00:00` : "";
}

function reportQuery(format) {
  const q = new URLSearchParams({ from: isoOf($("from")), to: isoOf($("to")), by: $("by").value.trim(), format,
    lang: i18n.lang });
  return `/api/v1/reports?${q}`;
}

async function problem(response) {
  try { return (await response.json()).error.message; } catch { return `HTTP ${response.status}`; }
}

async function showReport(event) {
  event.preventDefault();
  $("report-status").textContent = t("rep-computing");
  const response = await authorized(reportQuery("html"));
  if (!response.ok) { $("report-status").textContent = await problem(response); return; }
  $("report-frame").srcdoc = await response.text();
  $("report-status").textContent = tfill("rep-shown", { from: $("from").value, to: $("to").value });
}

async function downloadCsv() {
  const response = await authorized(reportQuery("csv"));
  if (!response.ok) { $("report-status").textContent = await problem(response); return; }
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = "omniroute-report.csv";
  link.click();
}

const STAFFING = ["contacts", "interval", "aht", "service_level", "answer_within", "max_occupancy",
  "shrinkage", "concurrency", "model", "patience"];
const SHOWN = [["agents", "rep-agents"], ["rostered", "rep-rostered"], ["load", "rep-load"],
  ["effective_aht_s", "rep-eff-aht"], ["p_wait", "rep-p-wait"], ["service_level", "rep-sl"],
  ["asa_s", "rep-asa"], ["occupancy", "rep-occupancy"], ["p_abandon", "rep-p-abandon"], ["erlang_c_agents", "rep-erlang-c"]];

async function calculate(event) {
  event.preventDefault();
  const q = new URLSearchParams();
  for (const name of STAFFING) { if ($(name).value !== "") q.set(name, $(name).value); }
  const response = await authorized(`/api/v1/staffing?${q}`);
  const table = $("staffing-result");
  table.replaceChildren();
  if (!response.ok) { table.insertRow().insertCell().textContent = await problem(response); return; }
  const result = await response.json();
  for (const [key, label] of SHOWN) {
    if (result[key] === undefined || result[key] === null) continue;
    const row = table.insertRow();
    row.insertCell().textContent = t(label);
    const value = result[key];
    row.insertCell().textContent = Number.isInteger(value) ? String(value) : Number(value).toFixed(4);
    row.dataset.key = key;
  }
}

function defaults() {
  const now = new Date();
  const start = new Date(now.getTime() - 7 * 86400000);
  const local = (d) => d.toISOString().slice(0, 16);
  $("from").value = local(start);
  $("to").value = local(now);
}

// a tab opened on its own borrows the sign-in of a console open in another tab
session.borrow().then(async (lent) => {
  token = lent;
  if (!token) { $("signin-needed").hidden = false; return; }
  session.remember(token);
  const me = await authorized("/api/v1/me");
  if (me.ok) { const who = await me.json(); $("who").textContent = `${who.agent_id} (${who.role})`; }
});
translatePage();  // the console's language (its switch, else the browser's)
defaults();
$("report-form").addEventListener("submit", showReport);
$("download-csv").addEventListener("click", downloadCsv);
$("staffing-form").addEventListener("submit", calculate);
