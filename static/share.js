/* The petition page's "copy the link" button: the link is in a read-only input that works
 * without JavaScript (select it and copy); this only shows the button, which copies it in one
 * press and says so. Loaded with <script src defer>: the Content-Security-Policy allows no
 * inline script. A separate file (not live.js), as closed petitions are shared too.
 */
(function () {
  "use strict";

  var buttons = document.querySelectorAll("button[data-copy-for]");
  for (var i = 0; i < buttons.length; i += 1) enhance(buttons[i]);

  function enhance(button) {
    var input = document.getElementById(button.getAttribute("data-copy-for"));
    if (!input) return;
    input.addEventListener("focus", function () {
      input.select();
    });
    if (!navigator.clipboard || !window.isSecureContext) return; // selecting still works
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(input.value).then(function () {
        button.textContent = button.getAttribute("data-copied");
      }, function () {
        input.select();
      });
    });
  }
})();
