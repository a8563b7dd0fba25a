// Light and dark: the system's preference (prefers-color-scheme) unless the viewer chose one with
// the toggle, kept in this browser. Loaded before the style applies, so the page never flashes.
(() => {
  const root = document.documentElement;
  const saved = localStorage.getItem("vod.theme");
  if (saved === "light" || saved === "dark") root.dataset.theme = saved;
  const current = () => root.dataset.theme || (matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark");
  const label = (btn) => {
    const next = current() === "dark" ? "light" : "dark";
    btn.textContent = next === "light" ? "☀" : "☾";
    btn.setAttribute("aria-label", `Switch to the ${next} theme`);
    btn.title = `Switch to the ${next} theme`;
  };
  document.addEventListener("DOMContentLoaded", () => {
    const btn = document.getElementById("theme-toggle");
    if (!btn) return;
    label(btn);
    btn.addEventListener("click", () => {
      root.dataset.theme = current() === "dark" ? "light" : "dark";
      localStorage.setItem("vod.theme", root.dataset.theme);
      label(btn);
    });
  });
})();
