// Small progressive enhancements; everything works without them.
document.addEventListener("htmx:afterSwap", (event) => {
  const status = event.detail.target.querySelector("[data-announce]");
  if (status) document.getElementById("messages")?.setAttribute("aria-busy", "false");
});
