// Live updates: one stream of changes for the page on screen (a patient's chart, or the
// worklist), from the server's live streams. The browser reconnects on its own, sending
// the id of the last change it had (Last-Event-ID), and the server sends exactly what it
// missed. The session cookie signs the stream in; no token is in its address.

let source = null;
let following = null;

/** Follow `url` (kept open while it stays the same), calling `onChange` per change. */
export function follow(url, onChange) {
  if (url === following && source) return;
  stop();
  if (!url || !("EventSource" in window)) return;
  following = url;
  source = new EventSource(url, { withCredentials: true });
  source.addEventListener("change", (event) => onChange(JSON.parse(event.data)));
}

export function stop() {
  if (source) source.close();
  source = null;
  following = null;
}
