// The maps of the portal, over pages that work without them: the public list's map (its pins
// clustered, with the list's filters) and the report form's pin picker, which fills the latitude
// and longitude fields. Leaflet and leaflet.markercluster are served by the app (npm ci); the tile
// server and its attribution are settings (MAP_TILE_URL, MAP_ATTRIBUTION). Without tiles the pins
// still show; without this script, the list, the region picker and the coordinate fields remain.
(function () {
  "use strict";
  var INDONESIA = [-2.5, 118], WHOLE = 4;

  function escapeHtml(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }

  function baseMap(element) {
    var map = L.map(element, { scrollWheelZoom: false });
    L.tileLayer(element.getAttribute("data-tiles"), {
      maxZoom: 19,
      attribution: escapeHtml(element.getAttribute("data-attribution") || "")
    }).addTo(map);
    return map;
  }

  function popup(point, statusLabel) {
    var box = document.createElement("div");
    var link = document.createElement("a");
    link.href = "/kasus/" + encodeURIComponent(point.id);
    link.textContent = point.title;
    box.appendChild(link);
    var meta = document.createElement("div");
    meta.textContent = point.id + " · " + statusLabel + ": " + point.status;
    box.appendChild(meta);
    return box;
  }

  function feedMap(element) {
    var map = baseMap(element);
    map.setView(INDONESIA, WHOLE);
    fetch(element.getAttribute("data-map-points"), { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { points: [] }; })
      .then(function (data) {
        var group = L.markerClusterGroup();
        var bounds = [];
        data.points.forEach(function (point) {
          var marker = L.marker([point.lat, point.lon], { title: point.title, alt: point.title, keyboard: true });
          marker.bindPopup(popup(point, element.getAttribute("data-status-label") || ""));
          group.addLayer(marker);
          bounds.push([point.lat, point.lon]);
        });
        map.addLayer(group);
        if (bounds.length) { map.fitBounds(bounds, { maxZoom: 15, padding: [20, 20] }); }
        element.setAttribute("data-points", String(data.points.length));
      })
      .catch(function () { element.setAttribute("data-points", "0"); });
  }

  function pinPicker(element) {
    var form = element.closest("form");
    var lat = form.elements.lat, lon = form.elements.lon;
    var map = baseMap(element), marker = null;
    function fill(latlng) {
      lat.value = latlng.lat.toFixed(6);
      lon.value = latlng.lng.toFixed(6);
      lon.dispatchEvent(new Event("change", { bubbles: true }));  // similar reports look again
    }
    function place(latlng) {
      if (marker) { marker.setLatLng(latlng); return; }
      var label = element.getAttribute("data-pin-label") || "";
      marker = L.marker(latlng, { draggable: true, keyboard: true, title: label, alt: label }).addTo(map);
      marker.on("dragend", function () { fill(marker.getLatLng()); });
    }
    var typed = [parseFloat(lat.value), parseFloat(lon.value)];
    if (!isNaN(typed[0]) && !isNaN(typed[1])) {
      map.setView(typed, 16);
      place(typed);
    } else {
      map.setView(INDONESIA, WHOLE);
    }
    map.on("click", function (event) { place(event.latlng); fill(event.latlng); });
    [lat, lon].forEach(function (field) {
      field.addEventListener("change", function () {
        var point = [parseFloat(lat.value), parseFloat(lon.value)];
        if (!isNaN(point[0]) && !isNaN(point[1])) { place(point); map.setView(point, Math.max(map.getZoom(), 15)); }
      });
    });
    followRegion(form, map, element);
  }

  // The map goes to the region chosen (the district's regency, else the regency, else the province)
  // and follows each change; a pin outside that region is warned about (the server holds the shapes:
  // GET /wilayah/{code}/peta answers its bounds and whether the pin lies inside).
  function followRegion(form, map, element) {
    var levels = ["district", "regency", "province"].map(function (name) { return form.elements[name]; })
      .filter(Boolean);
    var warning = document.getElementById("pin-outside");
    var asked = 0;
    function chosen() {
      for (var i = 0; i < levels.length; i++) { if (levels[i].value) { return levels[i].value; } }
      return "";
    }
    function look(moveMap) {
      var code = chosen(), ticket = ++asked;
      var query = form.elements.lat.value && form.elements.lon.value
        ? "?lat=" + encodeURIComponent(form.elements.lat.value) + "&lon=" + encodeURIComponent(form.elements.lon.value) : "";
      if (!code) {
        if (warning) { warning.hidden = true; }
        element.setAttribute("data-region", "");
        return;
      }
      fetch("/wilayah/" + encodeURIComponent(code) + "/peta" + query, { headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (found) {
          if (!found || ticket !== asked) { return; }
          // Not animated: a zoom animation still running (the province chosen a moment before)
          // makes Leaflet drop this move, leaving the map on the province.
          if (moveMap) { map.fitBounds(found.bounds, { padding: [10, 10], animate: false }); }
          element.setAttribute("data-region", found.code);
          if (warning) { warning.hidden = found.inside !== false; }
        })
        .catch(function () { /* the server still flags the pin */ });
    }
    map.on("moveend", function () {  // where the map is, for people's tools and the browser tests
      var centre = map.getCenter();
      element.setAttribute("data-view", centre.lat.toFixed(4) + "," + centre.lng.toFixed(4) + "," + map.getZoom());
    });
    levels.forEach(function (select) {
      // app.js refills the lower lists on the same change: look once they have been emptied.
      select.addEventListener("change", function () { setTimeout(function () { look(true); }, 0); });
    });
    form.elements.lon.addEventListener("change", function () { look(false); });
    var typed = form.elements.lat.value && form.elements.lon.value;
    if (chosen()) { look(!typed); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.L) { return; }  // the libraries are not installed: the page works without its map
    document.querySelectorAll("[data-map-points]").forEach(feedMap);
    document.querySelectorAll("[data-pin-picker]").forEach(pinPicker);
  });
})();
