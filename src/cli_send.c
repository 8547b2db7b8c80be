/* cli_send.c: `pregon send FILE|-`: validate a job as pregond will, then
 * XADD it to <prefix>jobs (contract section 1) and print its id. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads all of path ("-": stdin) into a malloc'ed buffer, refusing more
 * than max bytes (the daemon would dead-letter it anyway). */
static int read_input(struct cli *c, const char *path, size_t max, char **out, size_t *out_len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t cap = max + 1 < 65536 ? max + 1 : 65536, len = 0;
	char *buf = NULL;
	int result = -1;

	if (f == NULL)
		return cli_fail(c, 1, "%s: %s", path, strerror(errno));
	buf = malloc(cap);
	if (buf == NULL) {
		cli_fail(c, 1, "out of memory");
		goto out;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			char *nb;

			if (cap > max)
				break;	/* read max + 1 bytes: too big */
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				cli_fail(c, 1, "out of memory");
				goto out;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f)) {
				cli_fail(c, 1, "%s: %s", path, strerror(errno));
				goto out;
			}
			break;
		}
	}
	if (len > max) {
		cli_fail(c, 1, "job is larger than [jobs] max_bytes (%zu bytes)", max);
		goto out;
	}
	*out = buf;
	*out_len = len;
	buf = NULL;
	result = 0;
out:
	free(buf);
	if (f != stdin)
		fclose(f);
	return result;
}

int cli_send(struct cli *c, const struct cli_args *a)
{
	struct job_limits limits = job_limits_default;
	struct job job;
	struct err perr = { "" };
	char key[CLI_KEY_MAX], reason[ERR_MSG_MAX + 64];
	char *buf = NULL;
	size_t len = 0;
	redisReply *r = NULL;
	int result = -1;

	memset(&job, 0, sizeof(job));
	if (a->npos != 1)
		return cli_fail(c, CLI_EXIT_USAGE, "send: needs one FILE (or - for stdin)");
	if (read_input(c, a->pos[0], (size_t)c->cfg.jobs_max_bytes, &buf, &len) != 0)
		return -1;
	limits.max_bytes = (size_t)c->cfg.jobs_max_bytes;
	/* Validate here with the daemon's own parser, so the operator hears
	 * the reason now instead of finding the job in the dead letters. */
	if (job_parse(buf, len, &limits, &job, &perr) != 0) {
		cli_clean_line(perr.msg, strlen(perr.msg), reason, sizeof(reason));
		cli_fail(c, 1, "%s", reason);
		goto out;
	}
	if (cli_connect(c, 0) != 0 || cli_key(c, key, "jobs") != 0)
		goto out;
	r = cli_cmd(c, "XADD %s * job %b", key, buf, len);
	if (r == NULL)
		goto out;
	if (!cli_reply_is_str(r)) {
		cli_fail(c, 1, "redis: XADD: unexpected reply type %d", r->type);
		goto out;
	}
	printf("%s\n", job.id);
	result = 0;
out:
	if (r != NULL)
		freeReplyObject(r);
	job_free(&job);
	free(buf);
	return result;
}

