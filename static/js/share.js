// The personal link: a copy button and the device's share sheet, where the browser
// offers them. Without this script the link stays selectable text.
(function () {
  "use strict";
  var box = document.querySelector("[data-share]");
  if (!box) {
    return;
  }
  var url = box.querySelector("[data-share-url]");
  var copyButton = box.querySelector("[data-share-copy]");
  var shareButton = box.querySelector("[data-share-native]");
  var status = box.querySelector("[data-share-status]");

  // The words, in the page's language: from the page, English when it gives none.
  function text(name, english) {
    return box.getAttribute("data-text-" + name) || english;
  }

  function say(message) {
    status.textContent = message;
  }

  if (navigator.clipboard && window.isSecureContext) {
    copyButton.hidden = false;
    copyButton.addEventListener("click", function () {
      navigator.clipboard.writeText(url.value).then(
        function () { say(text("copied", "Link copied. You can paste it into a message.")); },
        function () { url.select(); say(text("copy-by-hand", "Press Ctrl+C (or Cmd+C) to copy the selected link.")); }
      );
    });
  }

  if (navigator.share) {
    shareButton.hidden = false;
    shareButton.addEventListener("click", function () {
      navigator.share({
        title: box.getAttribute("data-share-title"),
        text: box.getAttribute("data-share-text"),
        url: url.value
      }).catch(function () { /* the visitor closed the share sheet */ });
    });
  }

  url.addEventListener("focus", function () { url.select(); });
})();
