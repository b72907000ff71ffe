// Testimonial carousel, after the WAI-ARIA Authoring Practices carousel pattern.
// Without this script every testimonial stays visible as a list.
(function () {
  "use strict";
  var INTERVAL_MS = 7000;
  var root = document.querySelector("[data-carousel]");
  if (!root) {
    return;
  }
  var slides = root.querySelectorAll(".carousel__slide");
  if (slides.length < 2) {
    return;
  }
  var list = root.querySelector(".carousel__slides");
  var controls = root.querySelector(".carousel__controls");
  var rotationButton = root.querySelector("[data-carousel-rotation]");
  var previousButton = root.querySelector("[data-carousel-previous]");
  var nextButton = root.querySelector("[data-carousel-next]");
  var position = root.querySelector("[data-carousel-position]");
  var reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
  // The words, in the page's language: from the page, English when it gives none.
  function text(name, english) {
    return root.getAttribute("data-text-" + name) || english;
  }

  var current = 0;
  var timer = null;
  // Rotation is the visitor's to stop: paused from the start when they prefer less motion.
  var stoppedByVisitor = reducedMotion.matches;
  // Hover and keyboard focus pause it for as long as they last.
  var hovering = false;
  var focused = false;

  function show(index) {
    current = (index + slides.length) % slides.length;
    for (var i = 0; i < slides.length; i += 1) {
      slides[i].hidden = i !== current;
    }
    position.textContent = text("position", "Testimonial {n} of {total}")
      .replace("{n}", current + 1).replace("{total}", slides.length);
  }

  function update() {
    var rotate = !stoppedByVisitor && !hovering && !focused;
    if (rotate && timer === null) {
      timer = window.setInterval(function () { show(current + 1); }, INTERVAL_MS);
    } else if (!rotate && timer !== null) {
      window.clearInterval(timer);
      timer = null;
    }
    // Announce slide changes only when the visitor makes them.
    list.setAttribute("aria-live", rotate ? "off" : "polite");
    rotationButton.textContent = stoppedByVisitor ? text("play", "Play") : text("pause", "Pause");
    root.setAttribute("data-rotating", rotate ? "true" : "false");
  }

  rotationButton.addEventListener("click", function () {
    stoppedByVisitor = !stoppedByVisitor;
    update();
  });
  // Moving through the slides by hand stops rotation until the visitor presses Play.
  function step(offset) {
    stoppedByVisitor = true;
    show(current + offset);
    update();
  }
  previousButton.addEventListener("click", function () { step(-1); });
  nextButton.addEventListener("click", function () { step(1); });
  root.addEventListener("mouseenter", function () { hovering = true; update(); });
  root.addEventListener("mouseleave", function () { hovering = false; update(); });
  root.addEventListener("focusin", function () { focused = true; update(); });
  root.addEventListener("focusout", function (event) {
    focused = root.contains(event.relatedTarget);
    update();
  });
  reducedMotion.addEventListener("change", function () {
    if (reducedMotion.matches) {
      stoppedByVisitor = true;
      update();
    }
  });

  root.classList.add("carousel--enhanced");
  controls.hidden = false;
  show(0);
  update();
})();
