// The console's sign-in token, kept per tab (sessionStorage, gone when the tab closes) and
// lent on request to this origin's other tabs through a BroadcastChannel: Reports opened in
// a new tab (middle click, "Open in new tab") starts with an empty sessionStorage and
// asked the supervisor to sign in again (a user run, 2026-12-05). Only pages of the same
// origin can join the channel, and those can run the console's code anyway.
"use strict";

const session = (() => {
  const KEY = "omniroute-token";
  const channel = "BroadcastChannel" in window ? new BroadcastChannel("omniroute-session") : null;
  let lending = false;

  function saved() { return sessionStorage.getItem(KEY); }

  // Keep the token for this tab and lend it to tabs of this origin that ask for it.
  function remember(token) {
    sessionStorage.setItem(KEY, token);
    if (!channel || lending) return;
    lending = true;
    channel.addEventListener("message", (event) => {
      const current = saved();
      if (event.data && event.data.want === "token" && current) channel.postMessage({ token: current });
    });
  }

  // This tab's token, else one lent by another signed-in tab within `wait` ms, else null.
  function borrow(wait = 1500) {
    const own = saved();
    if (own || !channel) return Promise.resolve(own);
    return new Promise((resolve) => {
      const timer = setTimeout(() => { channel.removeEventListener("message", take); resolve(null); }, wait);
      function take(event) {
        if (!event.data || typeof event.data.token !== "string") return;
        clearTimeout(timer);
        channel.removeEventListener("message", take);
        sessionStorage.setItem(KEY, event.data.token);
        resolve(event.data.token);
      }
      channel.addEventListener("message", take);
      channel.postMessage({ want: "token" });
    });
  }

  return { saved, remember, borrow };
})();
