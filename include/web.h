/* web.h: the organizers' dashboard, web/ embedded at build
 * (tools/web_embed.py) and served by src/api/web.c (issue 16).
 *
 * GET / answers web/index.html and GET /static/<name> the other files,
 * each with a strict Content-Security-Policy ('self' only, no inline
 * script or style): the page fetches nothing from outside, so it works
 * offline. The files hold no data: the page asks the /v1 routes with the
 * bearer token the organizer enters. With no [http] tokens_file the
 * dashboard is off (503 with the reason), like the API. */
#ifndef PREGON_WEB_H
#define PREGON_WEB_H

#include <stddef.h>

struct web_file {
	const char *name;		/* "app.js"; NULL ends the table */
	const char *content_type;
	const char *data;		/* NUL-terminated, the NUL not counted */
	size_t len;
};

/* build/gen/web.c */
extern const struct web_file web_files[];

/* The file called name, or NULL. */
const struct web_file *web_file_find(const char *name);

struct api;
struct http_server;

/* Adds GET / and GET /static/{name}. */
int web_mount(struct api *api, struct http_server *s);

#endif
