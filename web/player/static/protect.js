// Protected videos (protection "clearkey"): their segments are encrypted with Common Encryption and
// the browser's ClearKey CDM gets the key from the video's licence URL (which carries a signed token
// for a private video). protect configures a dash.js player for that and calls fail once with a
// sentence for the viewer when the key is refused or the browser cannot decrypt, so that the page
// shows why instead of a player that never starts.
export function protect(player, v, fail) {
  if (v.protection !== "clearkey") return true;
  if (!window.MediaSource || !navigator.requestMediaKeySystemAccess || !v.playback?.license) {
    fail("This video is protected, and this browser cannot play protected video (it needs Encrypted Media Extensions).");
    return false;
  }
  const url = new URL(v.playback.license, location.href).href;
  player.setProtectionData({ "org.w3.clearkey": { serverURL: url } });
  let failed = false;
  const once = (why) => { if (!failed) { failed = true; fail(why); } };
  const E = dashjs.MediaPlayer.events;
  player.on(E.LICENSE_REQUEST_COMPLETE || "public_licenseRequestComplete", (e) => {
    if (e.error) once("This video is protected, and its key was refused: you may not be allowed to watch it, or the link has expired.");
  });
  player.on(E.KEY_ERROR || "public_keyError", () => once("This video is protected, and it could not be decrypted in this browser."));
  player.on(E.KEY_SYSTEM_SELECTED || "public_keySystemSelected", (e) => {
    if (e.error) once("This video is protected, and this browser has no ClearKey support.");
  });
  return true;
}
