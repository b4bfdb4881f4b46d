// drover console: small helpers without inline scripts (the pages send a strict CSP).
document.addEventListener("change", function (e) {
  // "tick all on this page" box of a list
  if (e.target.matches("input[data-tick-all]")) {
    var name = e.target.getAttribute("data-tick-all");
    document.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (b) {
      b.checked = e.target.checked;
    });
  }
});
document.addEventListener("click", function (e) {
  var b = e.target.closest("button[data-confirm]");
  if (b && !window.confirm(b.getAttribute("data-confirm"))) {
    e.preventDefault();
  }
});
