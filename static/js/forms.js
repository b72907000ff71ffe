// After a failed submit, move focus to the error summary so that screen reader users
// hear what went wrong and keyboard users can follow its links to each field.
(function () {
  "use strict";
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    summary.focus();
  }
})();
