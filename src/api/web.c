/* web.c: GET / and GET /static/{name}, the dashboard's files (web.h). */
#include "web.h"

#include <stdio.h>
#include <string.h>

#include "api.h"

/* 'self' only and nothing inline: a script injected into a page that
 * shows ids from outside could not run, and nothing leaves for another
 * host. frame-ancestors: the page is never framed (clickjacking). */
#define WEB_CSP "Content-Security-Policy: default-src 'none'; script-src 'self'; " \
		"style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; " \
		"form-action 'none'; frame-ancestors 'none'"

static const char *const web_headers[] = {
	WEB_CSP,
	"X-Content-Type-Options: nosniff",
	"Referrer-Policy: no-referrer",
	"X-Frame-Options: DENY",
	/* A new build serves new files: the browser asks again each time. */
	"Cache-Control: no-cache",
	NULL,
};

const struct web_file *web_file_find(const char *name)
{
	for (const struct web_file *f = web_files; f->name != NULL; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static void web_answer(struct api *api, struct http_exchange *x, const char *name)
{
	const struct web_file *f;

	if (api->tokens == NULL) {
		char msg[400];

		/* Off, never open, as the API is: the page would be no use. */
		snprintf(msg, sizeof(msg), "the dashboard is off: %s\n", api->tokens_problem);
		http_reply(x, 503, NULL, web_headers, msg, strlen(msg));
		return;
	}
	f = web_file_find(name);
	if (f == NULL) {
		http_reply(x, 404, NULL, web_headers, "not found\n", 10);
		return;
	}
	http_reply(x, 200, f->content_type, web_headers, f->data, f->len);
}

static void on_index(struct http_exchange *x, const struct http_req *req, void *data)
{
	(void)req;
	web_answer(data, x, "index.html");
}

static void on_static(struct http_exchange *x, const struct http_req *req, void *data)
{
	web_answer(data, x, req->params[0]);
}

int web_mount(struct api *api, struct http_server *s)
{
	if (http_server_route(s, "GET", "/", on_index, api) != 0 ||
	    http_server_route(s, "GET", "/static/{name}", on_static, api) != 0)
		return -1;
	return 0;
}
