// A lesson page announces a completed content ("lms:content-completed", which opens its survey): right after
// "Mark as complete", or when the learner has just passed every exercise on the page.
(function () {
  "use strict";
  const footer = document.querySelector(".lesson__progress");
  if (!footer) return;
  const content = Number(footer.dataset.content);
  const exercises = Number(footer.dataset.exercises);
  const announce = () =>
    document.dispatchEvent(new CustomEvent("lms:content-completed", { detail: { content } }));

  const just = JSON.parse(document.getElementById("lesson-just-completed").textContent || "[]");
  if (just.includes(content)) window.addEventListener("load", announce);

  document.addEventListener("lms:exercise-checked", (event) => {
    if (!event.detail.passed || !event.detail.saved || !exercises) return;
    const passed = document.querySelectorAll('.lms-jupyter-check[data-passed="true"]').length;
    if (passed >= exercises) announce();
  });
})();
