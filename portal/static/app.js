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

// Similar reports while the report form is filled in: the server renders the same panel as the
// no-JavaScript "check for similar reports" button, into the form's live region.
(function () {
  "use strict";
  var FIELDS = ["title", "description", "category", "province", "regency", "district", "lat", "lon"];

  function wire(form, slot) {
    var timer = null, last = "";
    function query() {
      var params = new URLSearchParams();
      FIELDS.forEach(function (name) {
        var field = form.elements[name];
        if (field && field.value) { params.set(name, name === "description" ? field.value.slice(0, 2000) : field.value); }
      });
      return params.toString();
    }
    function refresh() {
      var title = form.elements.title ? form.elements.title.value.trim() : "";
      if (title.length < 5) { return; }
      var q = query();
      if (q === last) { return; }
      last = q;
      fetch("/lapor/serupa?" + q, { headers: { Accept: "text/html" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) { if (html !== null && q === last) { slot.innerHTML = html; } })
        .catch(function () { /* the no-JavaScript button still works */ });
    }
    function later() { clearTimeout(timer); timer = setTimeout(refresh, 500); }
    FIELDS.forEach(function (name) {
      var field = form.elements[name];
      if (field) { field.addEventListener("input", later); field.addEventListener("change", later); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var slot = document.querySelector("[data-similar-slot]");
    if (slot && slot.closest("form")) { wire(slot.closest("form"), slot); }
  });
})();

// Agency fields: the shared <datalist data-agency-lookup> is filled from the public directory
// (/v1/agencies) with the bodies whose name has the typed words; the page never carries the
// whole directory. Without JavaScript the server takes an id or a name (portal/forms.py).
(function () {
  "use strict";
  function wire(input, list) {
    var timer = null, last = "";
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = input.value.trim();
        if (q.length < 3 || q === last) { return; }
        last = q;
        // With the case's region: its own governments first, other regions' marked (the region rule).
        var near = input.getAttribute("data-near-region");
        var url = "/v1/agencies?limit=20&q=" + encodeURIComponent(q) + (near ? "&near_region=" + encodeURIComponent(near) : "");
        fetch(url, { headers: { Accept: "application/json" } })
          .then(function (response) { return response.ok ? response.json() : { items: [] }; })
          .then(function (page) {
            if (q !== last) { return; }
            list.innerHTML = "";
            (page.items || []).forEach(function (agency) {
              var option = document.createElement("option");
              option.value = agency.id;
              option.textContent = agency.outside_region
                ? agency.name + " · " + (input.getAttribute("data-outside-label") || "") : agency.name;
              list.appendChild(option);
            });
          })
          .catch(function () { /* typing the id or the name still works */ });
      }, 250);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var list = document.querySelector("datalist[data-agency-lookup]");
    if (!list) { return; }
    document.querySelectorAll("input[data-agency-search]").forEach(function (input) { wire(input, list); });
  });
})();

// A form with data-confirm asks before it is sent (without JavaScript, destructive actions go
// through a confirmation page of their own instead: portal/confirm.py).
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (!question) { return; }
    if (!window.confirm(question)) { event.preventDefault(); return; }
    var field = form.querySelector("input[name=confirmed]");
    if (field) { field.value = "1"; }
  });
})();

// "Copy" beside a link (the private link on the receipt): the address to the clipboard.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button || !navigator.clipboard) { return; }
    var target = document.getElementById(button.getAttribute("data-copy"));
    navigator.clipboard.writeText(target.href || target.textContent).then(function () {
      button.textContent = button.getAttribute("data-copied");
    });
  });
})();
