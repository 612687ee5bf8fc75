/* Starts Swagger UI on the API documentation page (templates/drf_spectacular/swagger_ui.html) from a file,
 * not an inline script, so the page needs no 'unsafe-inline' in its Content-Security-Policy. It does what
 * drf-spectacular's inline start-up script does for this project's configuration (schema served publicly,
 * so no schema credentials to inject; no OAuth2): load the schema, apply SWAGGER_UI_SETTINGS, and send the
 * CSRF token with requests that change data when they go out with the session cookie ("Try it out"). */
(function () {
  "use strict";
  var container = document.getElementById("swagger-ui");
  if (!container || !window.SwaggerUIBundle) {
    return;
  }
  var data = container.dataset;
  var settings = data.settings ? JSON.parse(data.settings) : {};

  function requestInterceptor(request) {
    var reads = request.method === undefined || request.method === "GET";
    if (!reads && request.credentials === "same-origin") {
      request.headers[data.csrfHeader] = data.csrfToken;
    }
    return request;
  }

  window.ui = window.SwaggerUIBundle(Object.assign({
    url: data.schemaUrl,
    dom_id: "#swagger-ui",
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    requestInterceptor: requestInterceptor
  }, settings));
})();
