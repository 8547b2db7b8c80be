/* outbox.c: the adapter used when no provider is configured.
 *
 * Appends one JSON object per message to <[outbox] dir>/<channel>.jsonl
 * (CONTRACT.md section 6), so a new user sees the whole flow without an
 * account anywhere. Writes go through libuv's thread pool (uv_fs_write), never
 * blocking the loop; lines that arrive while a write is in progress are
 * batched into the next one, so throughput does not depend on the number of
 * thread-pool round trips. A message counts as sent once its line is in the
 * file (page cache): a pregond killed after that does not lose it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <jansson.h>

#include "adapter.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "util.h"
#include "validate.h"

struct outbox_item {
	struct send_req *req;
	adapter_done_cb done;
	struct outbox_item *next;
};

struct outbox {
	struct adapter *a;
	char path[CONFIG_STR_MAX + 32];
	uv_file fd;
	uv_fs_t write_req;
	bool writing;
	struct buf lines;		/* lines waiting for the next write */
	struct outbox_item *queued, *queued_tail;
	/* the lines of the write in progress */
	char *wbuf;
	struct outbox_item *writing_items;
	adapter_closed_cb closed;
	bool reopen_wanted;
};

static int mkdir_p(const char *dir)
{
	char tmp[CONFIG_STR_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
		return -1;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return (mkdir(tmp, 0750) != 0 && errno != EEXIST) ? -1 : 0;
}

static int outbox_open_file(struct outbox *o, struct err *err)
{
	/* O_APPEND: lines from several pregond instances never overwrite each
	 * other. 0640: the file holds addresses and texts. */
	int fd = open(o->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

	if (fd < 0)
		return err_set(err, "outbox: cannot open %s: %s", o->path, strerror(errno));
	o->fd = fd;
	return 0;
}

/* [outbox] dir: where <channel>.jsonl is appended to. */
struct outbox_config {
	char dir[CONFIG_STR_MAX];
};

static const struct config_key outbox_keys[] = {
	CONFIG_PATH(struct outbox_config, "outbox", "dir", dir, "var/outbox"),
};

static const struct config_module outbox_config = {
	"outbox", outbox_keys, CONFIG_KEYS(outbox_keys), sizeof(struct outbox_config),
};

static int outbox_open(struct adapter *a, const struct adapter_env *env, struct err *err)
{
	const struct outbox_config *conf = config_module_get(env->cfg, &outbox_config);
	struct outbox *o = calloc(1, sizeof(*o));

	if (o == NULL)
		return err_set(err, "outbox: out of memory");
	o->a = a;
	if (mkdir_p(conf->dir) != 0) {
		free(o);
		return err_set(err, "outbox: cannot create %s: %s", conf->dir, strerror(errno));
	}
	snprintf(o->path, sizeof(o->path), "%s/%s.jsonl", conf->dir, channel_name(a->channel));
	if (outbox_open_file(o, err) != 0) {
		free(o);
		return -1;
	}
	o->write_req.data = o;
	a->state = o;
	return 0;
}

static int outbox_prepare(struct adapter *a, const struct send_req *req, struct err *err)
{
	(void)a;
	if (req->to == NULL || req->to[0] == '\0')
		return err_set(err, "outbox: no address");
	return 0;
}

static void outbox_flush(struct outbox *o);

static void finish_items(struct outbox_item *it, const struct send_result *res)
{
	while (it != NULL) {
		struct outbox_item *next = it->next;

		it->done(it->req, res);
		free(it);
		it = next;
	}
}

static void on_write(uv_fs_t *req)
{
	struct outbox *o = req->data;
	struct send_result res = { 0 };
	struct outbox_item *items = o->writing_items;
	ssize_t result = req->result;

	uv_fs_req_cleanup(req);
	free(o->wbuf);
	o->wbuf = NULL;
	o->writing_items = NULL;
	o->writing = false;
	if (result < 0) {
		res.status = SEND_TEMP_FAIL;
		snprintf(res.error, sizeof(res.error), "outbox write: %s", uv_strerror((int)result));
		log_error("outbox %s: write failed: %s", channel_name(o->a->channel),
			  uv_strerror((int)result));
	} else {
		res.status = SEND_SENT;
	}
	/* provider_id: the outbox has none of its own; the engine uses the
	 * message id. */
	finish_items(items, &res);
	if (o->reopen_wanted) {
		struct err err;
		uv_file old = o->fd;

		o->reopen_wanted = false;
		if (outbox_open_file(o, &err) == 0)
			close(old);
		else
			log_error("%s", err.msg);
	}
	if (o->lines.len > 0)
		outbox_flush(o);
	else if (o->closed != NULL) {
		adapter_closed_cb closed = o->closed;

		close(o->fd);
		buf_free(&o->lines);
		o->a->state = NULL;
		closed(o->a);
		free(o);
	}
}

static void outbox_flush(struct outbox *o)
{
	uv_buf_t b;

	if (o->writing || o->lines.len == 0)
		return;
	b = uv_buf_init(o->lines.p, (unsigned int)o->lines.len);
	o->wbuf = buf_take(&o->lines);
	o->writing_items = o->queued;
	o->queued = o->queued_tail = NULL;
	o->writing = true;
	if (uv_fs_write(o->a->env->loop, &o->write_req, o->fd, &b, 1, -1, on_write) != 0) {
		/* Cannot even queue the write: fail the batch as temporary. */
		struct send_result res = { .status = SEND_TEMP_FAIL };

		snprintf(res.error, sizeof(res.error), "outbox: cannot queue write");
		o->writing = false;
		free(o->wbuf);
		o->wbuf = NULL;
		struct outbox_item *items = o->writing_items;
		o->writing_items = NULL;
		finish_items(items, &res);
	}
}


static int outbox_send(struct adapter *a, struct send_req *req, adapter_done_cb done)
{
	struct outbox *o = a->state;
	struct outbox_item *it;
	json_t *line;
	char *text, at[32];
	size_t n;

	time_format_utc(clock_now_ms(), at);
	line = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i}",
			 "message", req->message_id, "job", req->job_id,
			 "contact", req->contact_id ? req->contact_id : "",
			 "channel", channel_name(a->channel), "to", req->to,
			 "body", req->body, "at", at, "attempt", req->attempt);
	if (line == NULL)
		return -1;
	if (channel_info(a->channel)->subject) {
		json_object_set_new(line, "subject", json_string(req->subject ? req->subject : ""));
		if (req->html != NULL)
			json_object_set_new(line, "html", json_string(req->html));
		/* What an SMTP provider would attach and put in the headers. */
		if (req->calendar != NULL) {
			json_object_set_new(line, "calendar", json_string(req->calendar));
			json_object_set_new(line, "calendar_method",
					    json_string(req->calendar_method ? req->calendar_method : ""));
		}
		if (req->unsubscribe_url != NULL)
			json_object_set_new(line, "unsubscribe", json_string(req->unsubscribe_url));
	}
	text = json_dumps(line, JSON_COMPACT);
	json_decref(line);
	it = calloc(1, sizeof(*it));
	if (text == NULL || it == NULL) {
		free(text);
		free(it);
		return -1;
	}
	n = strlen(text);
	/* Room for the line and its newline first: a line is added whole. */
	if (buf_reserve(&o->lines, n + 1) != 0) {
		free(text);
		free(it);
		return -1;
	}
	buf_add(&o->lines, text, n);
	buf_add(&o->lines, "\n", 1);
	free(text);
	it->req = req;
	it->done = done;
	if (o->queued_tail)
		o->queued_tail->next = it;
	else
		o->queued = it;
	o->queued_tail = it;
	/* Start the write on the next loop turn, so that all lines produced in
	 * this one go out together (done must not run inside send anyway). */
	if (!o->writing)
		outbox_flush(o);
	return 0;
}

static void outbox_reopen(struct adapter *a)
{
	struct outbox *o = a->state;
	struct err err;
	uv_file old;

	if (o->writing) {
		o->reopen_wanted = true;
		return;
	}
	old = o->fd;
	if (outbox_open_file(o, &err) == 0)
		close(old);
	else
		log_error("%s", err.msg);
}

static void outbox_close(struct adapter *a, adapter_closed_cb closed)
{
	struct outbox *o = a->state;

	o->closed = closed;
	if (o->writing || o->lines.len > 0) {
		outbox_flush(o);
		return;		/* on_write finishes the close */
	}
	close(o->fd);
	buf_free(&o->lines);
	a->state = NULL;
	free(o);
	closed(a);
}

const struct adapter_ops outbox_adapter_ops = {
	.name = "outbox",
	.config = &outbox_config,
	.open = outbox_open,
	.prepare = outbox_prepare,
	.send = outbox_send,
	.reopen = outbox_reopen,
	.close = outbox_close,
};
