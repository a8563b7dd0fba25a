// countView calls send once, after 5 s of actual playback of video (seeking does not count): the
// watch page and the embed page count a view the same way, and the server counts a viewer once a day.
export function countView(video, send) {
  let played = 0, last = null, sent = false;
  video.addEventListener("seeking", () => (last = null));
  video.addEventListener("timeupdate", () => {
    if (sent) return;
    const t = video.currentTime;
    if (last !== null && !video.paused && t > last && t - last < 3) played += t - last;
    last = t;
    if (played < 5) return;
    sent = true;
    send();
  });
}
