/*
 * Opens a learning content's survey right after the learner completes it.
 *
 * Include once per page (the {% lms_surveys_after_completion %} tag writes this tag with its URLs):
 *   <script src=".../lms_surveys/after-completion.js" data-api="/surveys/api/" data-page="/surveys/0/" defer></script>
 * The lesson's front end, once lms_core has recorded the completion, announces it:
 *   document.dispatchEvent(new CustomEvent("lms:content-completed", {detail: {content: 12}}));
 * If that content has an open survey the learner has not answered, the page moves to the survey, which
 * comes back here afterwards (?next=).
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var api = script.getAttribute("data-api");
  var page = script.getAttribute("data-page");

  function surveyPage(id) {
    var back = window.location.pathname + window.location.search;
    return page.replace(/0\/$/, encodeURIComponent(id) + "/") + "?next=" + encodeURIComponent(back);
  }

  document.addEventListener("lms:content-completed", function (event) {
    var content = event.detail && event.detail.content;
    if (content === undefined || content === null) return;
    fetch(api + "contents/" + encodeURIComponent(content) + "/surveys/", {
      credentials: "same-origin",
      headers: {Accept: "application/json"}
    }).then(function (response) {
      return response.ok ? response.json() : [];
    }).then(function (surveys) {
      var survey = surveys[0];
      if (survey && survey.is_open && survey.my_response === null) {
        window.location.assign(surveyPage(survey.id));
      }
    }).catch(function () { /* no survey: the learner simply stays */ });
  });
})();
