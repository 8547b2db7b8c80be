/* links.c: tracked join links and one-click unsubscribe (links.h). */
#include "links.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua_lib.h"
#include "metrics.h"
#include "seal.h"

#define PAGE_TYPE "text/html; charset=utf-8"

/* One request waiting on Redis. */
struct link_call {
	struct links *l;
	struct http_exchange *x;
	char masked[SEAL_PLAIN_MAX + 8];	/* unsubscribe: the address as shown */
};

/* Pages need no more than this: no script, no outside style or font, so
 * they work wherever the mail is read, and a page cannot track. */
static void page(struct http_exchange *x, int status, const char *title, const char *body_html,
		 const char *const *extra)
{
	static const char *const nocache[] = { "Cache-Control: no-store",
		"Referrer-Policy: no-referrer", "X-Content-Type-Options: nosniff",
		"Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; "
		"form-action 'self'", NULL };
	char *html;
	int n;

	n = asprintf(&html,
		     "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
		     "<title>%s</title><style>body{font-family:sans-serif;max-width:32em;"
		     "margin:2em auto;padding:0 1em;line-height:1.5;color:#111}"
		     "button{font-size:1.1em;padding:.5em 1em}</style></head>\n<body>\n%s\n"
		     "</body></html>\n", title, body_html);
	if (n < 0) {
		http_reply(x, 503, NULL, NULL, "out of memory\n", 14);
		return;
	}
	http_reply(x, status, PAGE_TYPE, extra ? extra : nocache, html, (size_t)n);
	free(html);
}

static void page_not_found(struct links *l, struct http_exchange *x)
{
	l->refused++;
	page(x, 404, "Link not valid",
	     "<h1>This link is not valid or has expired.</h1>\n"
	     "<p lang=\"es\">Este enlace no es válido o ya venció.</p>", NULL);
}

static void page_unavailable(struct http_exchange *x)
{
	page(x, 503, "Try again",
	     "<h1>This page is not available right now. Please try again in a minute.</h1>\n"
	     "<p lang=\"es\">Esta página no está disponible ahora. Intente de nuevo en un "
	     "minuto.</p>", NULL);
}

/* ---- GET /j/<token> ---- */

static void on_click(struct rconn *c, redisReply *r, void *data)
{
	struct link_call *call = data;
	redisReply *url;

	(void)c;
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		if (r != NULL)
			store_reply_error(call->l->store, r, "click");
		page_unavailable(call->x);
	} else if (r->type != REDIS_REPLY_ARRAY || r->elements != LUA_CLICK_NREPLY ||
		   (url = r->element[LUA_CLICK_REPLY_URL])->type != REDIS_REPLY_STRING ||
		   url->len > 2048 || memchr(url->str, '\r', url->len) != NULL ||
		   memchr(url->str, '\n', url->len) != NULL) {
		/* nil: unknown token. (The URL was checked at intake; a
		 * header is never made of one with a line break.) */
		page_not_found(call->l, call->x);
	} else {
		char location[2048 + 16];
		const char *extra[] = { location, "Cache-Control: no-store",
					"Referrer-Policy: no-referrer", NULL };

		snprintf(location, sizeof(location), "Location: %.*s", (int)url->len, url->str);
		call->l->clicks++;
		http_reply(call->x, 302, PAGE_TYPE, extra, "", 0);
	}
	free(call);
}

static void on_join(struct http_exchange *x, const struct http_req *req, void *data)
{
	struct links *l = data;
	struct link_call *call;
	const char *args[LUA_CLICK_NHEAD];

	if (req->n_params != 1 || !seal_random_shaped(req->params[0])) {
		page_not_found(l, x);
		return;
	}
	call = calloc(1, sizeof(*call));
	if (call == NULL) {
		page_unavailable(x);
		return;
	}
	call->l = l;
	call->x = x;
	args[LUA_CLICK_HEAD_TOKEN] = req->params[0];
	if (store_call(l->store, LUA_FN_CLICK, LUA_CLICK_NHEAD, args, NULL, on_click, call) != 0) {
		free(call);
		page_unavailable(x);
	}
}

/* ---- /unsubscribe/<token> ---- */

/* "a…@example.org": enough for a person to know which address, too little
 * for anyone else. HTML-safe: an address that passed validation has no
 * '<', '>', '&' or quote, and any other byte is left out. */
static void mask_address(const char *addr, char *out, size_t out_len)
{
	const char *at = strrchr(addr, '@');
	size_t o = 0;

	if (out_len < 8)
		return;
	if (at == NULL || at == addr) {
		snprintf(out, out_len, "…");
		return;
	}
	out[o++] = addr[0];
	o += (size_t)snprintf(out + o, out_len - o, "…");
	for (const char *p = at; *p != '\0' && o + 1 < out_len; p++)
		if (strchr("<>&\"'", *p) == NULL)
			out[o++] = *p;
	out[o < out_len ? o : out_len - 1] = '\0';
}

static void on_unsubscribed(struct rconn *c, redisReply *r, void *data)
{
	struct link_call *call = data;
	char body[1024];

	(void)c;
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		if (r != NULL)
			store_reply_error(call->l->store, r, "consent (email one-click)");
		page_unavailable(call->x);
	} else {
		call->l->unsubscribes++;
		snprintf(body, sizeof(body),
			 "<h1>You are unsubscribed.</h1>\n<p>%s will get no more email from us. "
			 "Texts you agreed to are not affected.</p>\n"
			 "<p lang=\"es\">Usted canceló su suscripción. %s no recibirá más correos "
			 "nuestros. Los mensajes de texto que aceptó no cambian.</p>",
			 call->masked, call->masked);
		page(call->x, 200, "Unsubscribed", body, NULL);
	}
	free(call);
}

static void on_unsubscribe(struct http_exchange *x, const struct http_req *req, void *data)
{
	struct links *l = data;
	const unsigned char *key = store_link_key(l->store);
	char addr[SEAL_PLAIN_MAX + 1], masked[SEAL_PLAIN_MAX + 8];
	struct link_call *call;
	const char *args[LUA_CONSENT_NHEAD];

	if (key == NULL) {
		page_unavailable(x);
		return;
	}
	if (req->n_params != 1 ||
	    seal_open(key, "unsubscribe", req->params[0], addr, sizeof(addr)) != 0) {
		page_not_found(l, x);
		return;
	}
	mask_address(addr, masked, sizeof(masked));
	if (strcmp(req->method, "POST") != 0) {
		char body[1536];

		/* The form posts what a mail client's one-click button posts. */
		snprintf(body, sizeof(body),
			 "<h1>Unsubscribe from our email?</h1>\n<p>%s will get no more email from "
			 "us.</p>\n<p lang=\"es\">¿Cancelar su suscripción a nuestros correos? %s no "
			 "recibirá más correos nuestros.</p>\n<form method=\"post\">"
			 "<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
			 "<button type=\"submit\">Unsubscribe / Cancelar suscripción</button></form>",
			 masked, masked);
		page(x, 200, "Unsubscribe", body, NULL);
		return;
	}
	call = calloc(1, sizeof(*call));
	if (call == NULL) {
		page_unavailable(x);
		return;
	}
	call->l = l;
	call->x = x;
	memcpy(call->masked, masked, sizeof(masked));
	args[LUA_CONSENT_HEAD_CHANNEL] = "email";
	args[LUA_CONSENT_HEAD_ADDRESS] = addr;
	args[LUA_CONSENT_HEAD_ACTION] = "out";
	args[LUA_CONSENT_HEAD_SOURCE] = "email one-click";
	args[LUA_CONSENT_HEAD_DETAIL] = "";
	if (store_call(l->store, LUA_FN_CONSENT, LUA_CONSENT_NHEAD, args, NULL, on_unsubscribed,
		       call) != 0) {
		free(call);
		page_unavailable(x);
	}
}

int links_mount(struct links *l, struct http_server *s, struct store *store, struct err *err)
{
	memset(l, 0, sizeof(*l));
	l->store = store;
	if (http_server_route_max_body(s, "GET", "/j/{token}", 0, on_join, l) != 0 ||
	    http_server_route_max_body(s, "GET", "/unsubscribe/{token}", 0, on_unsubscribe, l) != 0 ||
	    /* RFC 8058's body is "List-Unsubscribe=One-Click", form-encoded
	     * or as multipart/form-data; nothing in it is needed, and little
	     * more than that is taken. */
	    http_server_route_max_body(s, "POST", "/unsubscribe/{token}", 1024, on_unsubscribe,
				       l) != 0)
		return err_set(err, "links: cannot add routes");
	return 0;
}

static const struct metric_family link_requests = {
	"pregon_link_requests_total", METRIC_COUNTER,
	"Links in messages opened: join (redirected), unsubscribe (opted out), refused "
	"(unknown or expired token).",
};

int links_metrics(struct links *l, struct metrics *m)
{
	return metrics_counter(m, &link_requests, &l->clicks, "outcome=\"join\"") |
	       metrics_counter(m, &link_requests, &l->unsubscribes, "outcome=\"unsubscribe\"") |
	       metrics_counter(m, &link_requests, &l->refused, "outcome=\"refused\"");
}
