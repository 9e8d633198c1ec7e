// Progressive enhancement only: every page works without this file.
// Moves keyboard focus to an error summary (or a one-time message) when a page
// opens with one, so screen reader users hear it first (GOV.UK pattern).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var target = document.querySelector("[data-focus-on-load]");
    if (target) {
      target.focus();
    }
    // Links in the error summary move focus to the field, not only scroll to it.
    document.querySelectorAll(".error-summary a[href^='#']").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var field = document.getElementById(link.getAttribute("href").slice(1));
        if (field) {
          event.preventDefault();
          field.focus();
          var label = document.querySelector("label[for='" + field.id + "']");
          (label || field).scrollIntoView();
        }
      });
    });
  });
})();
