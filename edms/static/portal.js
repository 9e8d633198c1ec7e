// Progressive enhancement of the portal's application form: every page works without it.
// A file larger than its attachment allows is refused as soon as it is chosen, before a
// long upload, with the message next to the field (the server checks again).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[type='file'][data-max-bytes]").forEach(function (input) {
      var live = document.getElementById(input.id + "-live");
      input.addEventListener("change", function () {
        var limit = parseInt(input.getAttribute("data-max-bytes"), 10);
        var tooLarge = Array.prototype.some.call(input.files || [], function (file) {
          return file.size > limit;
        });
        if (tooLarge) {
          input.value = "";
          if (live) {
            live.textContent = input.getAttribute("data-too-large");
            live.hidden = false;
          }
        } else if (live) {
          live.textContent = "";
          live.hidden = true;
        }
      });
    });
  });
})();
