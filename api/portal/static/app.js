// Small improvements over pages that work without JavaScript: the region picker fills its
// lists without a reload, and deadlines count down. Nothing here is needed to submit or act.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function fill(select, items) {
    var first = select.options[0];
    select.innerHTML = "";
    select.appendChild(first);
    items.forEach(function (item) {
      var option = document.createElement("option");
      option.value = item.code;
      option.textContent = item.name;
      select.appendChild(option);
    });
  }

  function wirePicker(picker) {
    picker.querySelectorAll("select[data-children]").forEach(function (parent) {
      parent.addEventListener("change", function () {
        var child = document.getElementById(parent.getAttribute("data-children"));
        var grandchild = child.getAttribute("data-children") && document.getElementById(child.getAttribute("data-children"));
        fill(child, []);
        if (grandchild) { fill(grandchild, []); }
        if (!parent.value) { return; }
        fetch("/wilayah/" + encodeURIComponent(parent.value), { headers: { Accept: "application/json" } })
          .then(function (response) { return response.ok ? response.json() : []; })
          .then(function (items) { fill(child, items); })
          .catch(function () { /* the no-JavaScript button still works */ });
      });
    });
  }

  function remaining(seconds, units) {
    var days = Math.floor(seconds / 86400), hours = Math.floor((seconds % 86400) / 3600);
    var minutes = Math.floor((seconds % 3600) / 60), parts = [];
    if (days) { parts.push(days + " " + units[0]); }
    if (days || hours) { parts.push(hours + " " + units[1]); }
    if (!days) { parts.push(minutes + " " + units[2]); }
    return parts.join(" ");
  }

  function tick() {
    document.querySelectorAll("time[data-countdown]").forEach(function (element) {
      var due = Date.parse(element.getAttribute("datetime"));
      var seconds = Math.floor((due - Date.now()) / 1000);
      var units = (element.getAttribute("data-units") || "d|h|m").split("|");
      element.textContent = seconds <= 0 ? element.getAttribute("data-passed") : remaining(seconds, units);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-region-picker]").forEach(wirePicker);
    tick();
    setInterval(tick, 30000);
  });
})();
