// Live updates: one stream of changes for the page on screen (a patient's chart, or the
// worklist), from the server's live streams. The browser reconnects on its own, sending
// the id of the last change it had (Last-Event-ID), and the server sends exactly what it
// missed. The session cookie signs the stream in; no token is in its address.

let source = null;
let following = null;
let retry = null;
let backoff = 2000;

/** Follow `url` (kept open while it stays the same), calling `onChange` per change. */
export function follow(url, onChange) {
  if (url === following && source) return;
  stop();
  if (!url || !("EventSource" in window)) return;
  following = url;
  open(url, onChange);
}

function open(url, onChange) {
  source = new EventSource(url, { withCredentials: true });
  source.addEventListener("open", () => { backoff = 2000; });
  source.addEventListener("change", (event) => onChange(JSON.parse(event.data)));
  // The browser retries a dropped stream by itself, but gives up for good on an answer
  // that is not a stream (503 when the server is full, 429, a proxy's 502): open it
  // again, later each time, and read the page again then, for what came meanwhile.
  source.addEventListener("error", () => {
    if (source.readyState !== EventSource.CLOSED || following !== url) return;
    retry = setTimeout(() => {
      if (following !== url) return;
      open(url, onChange);
      onChange(null);
    }, backoff);
    backoff = Math.min(backoff * 2, 60000);
  });
}

export function stop() {
  clearTimeout(retry);
  if (source) source.close();
  source = null;
  following = null;
}
