// Progressive touches only: every page works without this file.
// Buttons of forms that change records are disabled once pressed, so a double click posts once.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.method && form.method.toLowerCase() === "post") {
    for (const button of form.querySelectorAll("button")) {
      setTimeout(() => { button.disabled = true; }, 0);
    }
  }
});
