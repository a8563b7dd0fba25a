// Renders /openapi.json with Swagger UI (pinned in package.json, vendored in static/vendor/swagger).
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#doc", deepLinking: true });
