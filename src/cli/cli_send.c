/* cli_send.c: `pregon send [--strict] FILE|-`: validate a job as pregond
 * will, warn about (or, --strict, refuse) fields it does not know, then
 * XADD it to <prefix>jobs (contract section 1) and print its id. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	if (cli_read_input(c, a->pos[0], (size_t)c->cfg.jobs_max_bytes, "job is larger than [jobs] max_bytes",
			   &buf, &len) != 0)
		return -1;
	limits.max_bytes = (size_t)c->cfg.jobs_max_bytes;
	/* Validate here with the daemon's own parser, so the operator hears
	 * the reason now instead of finding the job in the dead letters. */
	if (job_parse(buf, len, &limits, &job, &perr) != 0) {
		cli_clean_line(perr.msg, strlen(perr.msg), reason, sizeof(reason));
		cli_fail(c, 1, "%s", reason);
		goto out;
	}
	/* A typo in a field name is a job that does something else (sendAt
	 * ignored: sent now, not later): said before it is queued. */
	if (job.n_unknown > 0) {
		char unknown[JOB_UNKNOWN_MAX * JOB_UNKNOWN_LEN + 32];

		job_unknown_text(&job, unknown, sizeof(unknown));
		cli_clean_line(unknown, strlen(unknown), reason, sizeof(reason));
		if (a->strict) {
			cli_fail(c, 1, "unknown field%s %s (--strict: not sent)",
				 job.n_unknown + job.n_unknown_more > 1 ? "s" : "", reason);
			goto out;
		}
		fprintf(stderr, "pregon: warning: unknown field%s %s (accepted, not used)\n",
			job.n_unknown + job.n_unknown_more > 1 ? "s" : "", reason);
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

