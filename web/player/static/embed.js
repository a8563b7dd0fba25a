// The player-only page other sites frame (/embed/{id}): the video with its quality and subtitle
// menus and a link back to the watch page. It tells the framing page how playback goes with
// postMessage ({vod: "play" | "timeupdate" | "pause" | "waiting" | "ended", id, time}), as embed
// APIs do ("waiting": playback stopped for data).
import { countView } from "./views.js";
import { protect } from "./protect.js";

const root = document.getElementById("player");
const id = location.pathname.split("/").pop();
const h = (tag, attrs = {}, ...kids) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined && v !== false) el.setAttribute(k, v === true ? "" : v);
  el.append(...kids.filter((k) => k !== null && k !== undefined));
  return el;
};
const tell = (kind, video) => window.parent !== window && window.parent.postMessage({ vod: kind, id, time: video.currentTime }, "*");

(async () => {
  // A private video's embed code carries the signed token of its playback URLs.
  const token = new URLSearchParams(location.search).get("token");
  const r = await fetch(`/api/v1/videos/${id}${token ? `?token=${encodeURIComponent(token)}` : ""}`);
  if (!r.ok) { root.append(h("p", { class: "msg" }, "This video is private or does not exist.")); return; }
  const v = (await r.json()).video;
  if (v.status !== "ready" || !v.playback?.dash) { root.append(h("p", { class: "msg" }, "This video is not ready yet.")); return; }
  const video = h("video", { controls: true, playsinline: true, preload: "metadata", poster: v.thumbnails?.poster, crossorigin: "anonymous", "aria-label": v.title });
  const quality = h("select", { "aria-label": "Quality" }, h("option", { value: "auto" }, "Auto"));
  const subs = h("select", { "aria-label": "Subtitles" }, h("option", { value: "off" }, "Subtitles off"),
    ...v.subtitles.map((s, i) => h("option", { value: String(i) }, s.label || s.lang)));
  v.subtitles.forEach((s) => video.append(h("track", { kind: "subtitles", src: s.url, srclang: s.lang.split("-x-")[0], label: s.label })));
  root.append(video, h("div", { class: "bar" }, h("a", { href: `/watch/${id}`, target: "_blank", rel: "noopener" }, v.title), quality, subs));
  subs.addEventListener("change", () => {
    const sel = v.subtitles[Number(subs.value)];
    for (const t of video.textTracks) t.mode = sel && t.label === sel.label ? "showing" : "disabled";
  });
  const start = parseFloat(new URLSearchParams(location.search).get("t")) || 0;
  const player = dashjs.MediaPlayer().create();
  player.updateSettings({ streaming: { text: { defaultEnabled: false } } });
  protect(player, v, (why) => root.append(h("p", { class: "msg", role: "alert", "data-testid": "player-error" }, why)));
  player.initialize(video, v.playback.dash, new URLSearchParams(location.search).has("autoplay"), start);
  player.on(dashjs.MediaPlayer.events.STREAM_INITIALIZED, () => {
    const list = player.getBitrateInfoListFor("video");
    quality.replaceChildren(h("option", { value: "auto" }, "Auto"), ...list.map((b) => h("option", { value: String(b.qualityIndex) }, `${b.height}p`)));
  });
  quality.addEventListener("change", () => {
    const auto = quality.value === "auto";
    player.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: auto } } } });
    if (!auto) player.setQualityFor("video", Number(quality.value), true);
  });
  let last = 0;
  let ended = false;
  video.addEventListener("play", () => { ended = false; tell("play", video); });
  video.addEventListener("pause", () => tell("pause", video));
  video.addEventListener("waiting", () => tell("waiting", video));
  // dash.js's PLAYBACK_ENDED, not the element's "ended": when the element stops a frame short of the
  // end with the stream not yet closed, dash.js ends playback itself (pauses the element, which then
  // never fires "ended"; seen in a loaded browser). It fires on the element's "ended" too: tell once.
  player.on(dashjs.MediaPlayer.events.PLAYBACK_ENDED, () => { if (!ended) { ended = true; tell("ended", video); } });
  video.addEventListener("timeupdate", () => { if (Date.now() - last > 500) { last = Date.now(); tell("timeupdate", video); } });
  countView(video, () => fetch(`/api/v1/videos/${id}/views`, { method: "POST" }).catch(() => {}));
  window.vodPlayer = { video, player };
})();
