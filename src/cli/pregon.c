/* pregon.c: the operator's command line tool (CONTRACT.md section 5):
 * options, help texts and dispatch. The commands live in src/cli_*.c and
 * cli.h says what they share. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cli.h"
#include "config_find.h"
#include "tz.h"
#include "version.h"

/* Parses argv (after the command name): options in `allowed`, -c FILE
 * anywhere, "--opt value" or "--opt=value", "--" ends options, "-"
 * is a positional (stdin). */
static int args_parse(struct cli *c, int argc, char **argv, unsigned allowed,
		      int max_pos, struct cli_args *a)
{
	bool options_done = false;

	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i], *val = NULL, *eq;
		char name[32];
		unsigned opt = 0;

		if (options_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
			if (a->npos >= max_pos)
				return cli_fail(c, CLI_EXIT_USAGE, "unexpected argument: %.64s", arg);
			a->pos[a->npos++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			options_done = true;
			continue;
		}
		eq = strchr(arg, '=');
		snprintf(name, sizeof(name), "%.*s", (int)(eq ? (size_t)(eq - arg) : strlen(arg)), arg);
		if (strcmp(name, "-c") == 0 || strcmp(name, "--config") == 0)
			opt = 0;
		else if (strcmp(name, "--json") == 0)
			opt = CLI_OPT_JSON;
		else if (strcmp(name, "--job") == 0)
			opt = CLI_OPT_JOB;
		else if (strcmp(name, "--from") == 0)
			opt = CLI_OPT_FROM;
		else if (strcmp(name, "--all") == 0)
			opt = CLI_OPT_ALL;
		else if (strcmp(name, "--count") == 0)
			opt = CLI_OPT_COUNT;
		else if (strcmp(name, "--list") == 0)
			opt = CLI_OPT_LIST;
		else if (strcmp(name, "-n") == 0)
			opt = CLI_OPT_LAST;
		else if (strcmp(name, "--no-follow") == 0)
			opt = CLI_OPT_NO_FOLLOW;
		else if (strcmp(name, "--dry-run") == 0)
			opt = CLI_OPT_DRY_RUN;
		else if (strcmp(name, "--default-country") == 0)
			opt = CLI_OPT_COUNTRY;
		else if (strcmp(name, "--watch") == 0)
			opt = CLI_OPT_WATCH;
		else if (strcmp(name, "--strict") == 0)
			opt = CLI_OPT_STRICT;
		else if (strcmp(name, "--event") == 0)
			opt = CLI_OPT_EVENT;
		else
			return cli_fail(c, CLI_EXIT_USAGE, "unknown option: %.64s", arg);
		if (opt != 0 && !(allowed & opt))
			return cli_fail(c, CLI_EXIT_USAGE, "option not valid here: %s", name);

		if (opt & (CLI_OPT_JSON | CLI_OPT_ALL | CLI_OPT_NO_FOLLOW | CLI_OPT_DRY_RUN |
			   CLI_OPT_WATCH | CLI_OPT_STRICT)) {
			if (eq != NULL)
				return cli_fail(c, CLI_EXIT_USAGE, "%s takes no value", name);
			a->json |= opt == CLI_OPT_JSON;
			a->all |= opt == CLI_OPT_ALL;
			a->no_follow |= opt == CLI_OPT_NO_FOLLOW;
			a->dry_run |= opt == CLI_OPT_DRY_RUN;
			a->watch |= opt == CLI_OPT_WATCH;
			a->strict |= opt == CLI_OPT_STRICT;
			continue;
		}
		if (eq != NULL)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			return cli_fail(c, CLI_EXIT_USAGE, "%s needs a value", name);
		switch (opt) {
		case 0:
			a->config = val;
			break;
		case CLI_OPT_JOB:
			a->job = val;
			break;
		case CLI_OPT_FROM:
			a->from = val;
			break;
		case CLI_OPT_LIST:
			a->list = val;
			break;
		case CLI_OPT_COUNT:
			if (cli_parse_ll(val, 1, 100000000, &a->count) != 0)
				return cli_fail(c, CLI_EXIT_USAGE, "--count: must be 1..100000000, got \"%.20s\"",
					    val);
			break;
		case CLI_OPT_LAST:
			if (cli_parse_ll(val, 1, CLI_TAIL_LAST_MAX, &a->last) != 0)
				return cli_fail(c, CLI_EXIT_USAGE, "-n: must be 1..%d, got \"%.20s\"",
					    CLI_TAIL_LAST_MAX, val);
			break;
		case CLI_OPT_COUNTRY:
			a->country = val;
			break;
		case CLI_OPT_EVENT:
			a->event = val;
			break;
		}
	}
	return 0;
}

static const char usage_main[] =
	"usage: pregon [-c FILE] COMMAND [ARGS]\n"
	"\n"
	"The operator's tool for pregon: it talks to the Redis named by [redis] url.\n"
	"\n"
	"commands:\n"
	"  send FILE|-                put a job on the queue, print its id\n"
	"  cancel JOB_ID              stop a running or waiting job (an alert)\n"
	"  signal trust ADDRESS       accept a Signal recipient's changed identity key\n"
	"  status JOB_ID [--json]     counts per status and channel\n"
	"  status --event REF [--json]  a town hall's figures\n"
	"  tail [--job ID] [-n N|--from ID|--all] [--count N] [--no-follow]\n"
	"                             follow events (-n N: the last N first)\n"
	"  dead list [--count N]      dead-lettered jobs, one line each\n"
	"  dead show ID               the stored job document of one entry\n"
	"  dead replay ID|--all       put dead-lettered jobs back on the queue\n"
	"  dead delete ID             drop one dead-lettered job\n"
	"  optout list|add|remove|history   opt-outs and the consent ledger\n"
	"  contacts import FILE.csv [--list NAME] [--default-country CC] [--dry-run]\n"
	"                             add or update contacts from a CSV file\n"
	"  contacts export [--list NAME]\n"
	"                             all contacts (or one list's) as CSV\n"	"  contacts list [--list NAME] [--json]\n"
	"                             contacts without their addresses, and a count\n"
	"  lists [--json]             contact lists with their member counts\n"
	"  template render NAME LANG CHANNEL VARS.json\n"
	"                             print one template rendered with VARS\n"
	"\n"
	"options:\n"
	"  -c FILE    config file; without it $PREGON_CONF, else the installed one\n"
	"             (nothing found is an error; config/pregon.conf is the example)\n"
	"  --verbose  say on stderr which config file is read\n"
	"  --help     this text; pregon COMMAND --help for one command\n"
	"  --version  print the version\n"
	"\n"
	"Exit status: 0 success, 1 failure, 2 usage error or not implemented.\n";

static const char usage_send[] =
	"usage: pregon send [-c FILE] [--strict] JOB_FILE|-\n"
	"\n"
	"Reads one job (JSON, at most [jobs] max_bytes) from JOB_FILE or stdin,\n"
	"validates it as pregond will, adds it to <prefix>jobs and prints its id.\n"
	"An invalid job is not queued: the reason is printed and the exit status is 1.\n"
	"Fields pregon does not know are accepted (a later version may) and warned\n"
	"about on stderr first (\"unknown field sendAt (did you mean send_at?)\");\n"
	"with --strict the job is refused instead.\n";

static const char usage_status[] =
	"usage: pregon status [-c FILE] [--json] [--watch] JOB_ID\n"
	"       pregon status [-c FILE] [--json] --event REF\n"
	"\n"
	"Shows a job's kind, creation time, message count, and how many of its\n"
	"messages are in each status, overall and per channel (zeros left out).\n"
	"A job not yet read says \"queued; not yet read\", a rejected one its\n"
	"reason from the dead letters. The messages of a one-message job or a\n"
	"court reminder are listed with why each waits (quiet hours, send_at, a\n"
	"retry after an error, a reminder) and when it goes or went, in local\n"
	"time with the zone. An alert adds people, progress and an ETA. A note\n"
	"says when no pregond has read the queue for a while.\n"
	"  --json   one JSON object: {job, kind, created, messages, statuses, channels}\n"
	"           (and state, reason for a queued or rejected job)\n"
	"  --watch  again every 2 s until every message is done (Ctrl-C stops)\n"
	"  --event REF  a town hall's figures: registered, confirmations sent and\n"
	"           delivered, answers 1 (attending) and 2 (cancel), joined through\n"
	"           the link, reminders still to go\n";

static const char usage_tail[] =
	"usage: pregon tail [-c FILE] [--job ID] [-n N | --from ID | --all] [--count N]\n"
	"                   [--no-follow]\n"
	"\n"
	"Prints events from <prefix>events as they come, one JSON object a line,\n"
	"until interrupted (SIGINT or SIGTERM: exit 0).\n"
	"  --job ID     only the events of this job\n"
	"  -n N         first the last N events (of --job's job), then new ones\n"
	"  --from ID    start after this stream entry id (default: new events only)\n"
	"  --all        start from the oldest event kept\n"
	"  --count N    stop after N events\n"
	"  --no-follow  stop at the end of the stream instead of waiting\n";

static const char usage_optout[] =
	"usage: pregon optout list [sms|email|signal] [--json]\n"
	"       pregon optout add CHANNEL ADDRESS [NOTE]\n"
	"       pregon optout remove CHANNEL ADDRESS [NOTE]\n"
	"       pregon optout history ADDRESS\n"
	"\n"
	"Opt-outs are per channel and address and are checked before every send.\n"
	"add/remove record the change in the address's consent ledger with the\n"
	"source \"operator\", the note and the time; history prints that ledger\n"
	"(one JSON object per change: channel, action, source, detail, at).\n";

static const char usage_contacts[] =
	"usage: pregon contacts import FILE.csv|- [--list NAME] [--default-country CC] [--dry-run]\n"
	"       pregon contacts export [--list NAME]\n"
	"       pregon contacts list [--list NAME] [--json]\n"
	"\n"
	"import reads a CSV file (RFC 4180: header row, quoted fields, UTF-8,\n"
	"CRLF or LF, a BOM is skipped) with the columns, in any order and case:\n"
	"  id (required), name, phone, email, signal, lang, tz, channels, lists\n"
	"Another column stops the import before anything is written.\n"
	"channels: sms, email, signal separated by ; , | or spaces (empty: the\n"
	"default order). lists: list names separated by ;.\n"
	"Each row is checked as a job's recipient is (E.164 phone, email, language\n"
	"tag, IANA time zone, channels). Bad rows are skipped and reported on\n"
	"stderr grouped by reason, with a few example lines each (on a terminal,\n"
	"with the cells and a progress line); good rows are imported, each\n"
	"contact written whole. A later row with the same id replaces an earlier\n"
	"one (warned). Lists: with a lists column a contact's lists become exactly\n"
	"the row's (plus --list); without one, --list NAME adds that list and\n"
	"other memberships stay.\n"
	"Prints \"imported N contacts (C created, U updated), B bad rows\"; the exit\n"
	"status is 1 when B > 0.\n"
	"  --default-country CC  phone and signal numbers without +<country code>\n"
	"                        are in CC's national format: with US, (323) 555-0100\n"
	"                        is +13235550100 (US CA MX GT SV HN NI PH KR VN CN AM)\n"
	"  --dry-run             check every row, write nothing (needs no Redis)\n"
	"\n"
	"export prints every contact (with --list, that list's members) as CSV\n"
	"with the columns above, CRLF line ends, no BOM, in no particular order.\n"
	"It prints phone numbers and email addresses: keep the file safe.\n"
	"\n"
	"list prints one contact a line, tab-separated: id, name, lang, tz, the\n"
	"channels it has an address for, its lists; never the addresses. The\n"
	"count goes to stderr. --json: one object a line.\n";

static const char usage_lists[] =
	"usage: pregon lists [-c FILE] [--json]\n"
	"\n"
	"Every contact list with its member count, sorted by name, then the\n"
	"number of lists and of contacts (--json: one {list, members} a line).\n";

static const char usage_dead[] =
	"usage: pregon dead list [--count N] [--json]\n"
	"       pregon dead show ID\n"
	"       pregon dead replay ID | --all\n"
	"       pregon dead delete ID\n"
	"\n"
	"Jobs pregond rejected are kept in <prefix>dead with the reason, for\n"
	"[events] retention_days (at most [events] max_len of them); deleting a\n"
	"contact also deletes those that name it or its addresses.\n"
	"  list           one line per entry: entry id, time, job id, reason\n"
	"                 (--count N: the N most recent). Job bodies are not shown.\n"
	"  show ID        prints the stored job document (it may hold addresses)\n"
	"  replay ID      moves the job back to <prefix>jobs, atomically, and\n"
	"                 prints the new entry id; --all does it for every entry\n"
	"                 present when the command starts\n"
	"  delete ID      drops the entry (it may hold addresses and texts)\n";

static const char usage_signal[] =
	"usage: pregon signal trust ADDRESS\n"
	"The native Signal transport refuses a recipient whose identity key changed\n"
	"(the message fails with \"identity changed\"). After checking the new key\n"
	"with the person (the safety number in their Signal app), trust accepts it:\n"
	"it replaces the old key and the old session, and later messages are sent.\n";

static const char usage_cancel[] =
	"usage: pregon cancel [-c FILE] JOB_ID\n"
	"Stops a job that is running or waiting (contract 1.1): an alert being\n"
	"expanded or sent, a scheduled message. Its messages not yet sent become\n"
	"cancelled and its expansion stops; messages a provider has taken are not\n"
	"recalled. Queues a cancel job, waits up to 10 s for pregond to apply it\n"
	"and prints how many messages it cancelled.\n";

static const char usage_template[] =
	"usage: pregon template render NAME LANG CHANNEL VARS.json|-\n"
	"\n"
	"Renders the one file [templates] dir/NAME/LANG.CHANNEL with the values in\n"
	"VARS.json and prints it; for sms and signal, stderr says how many SMS\n"
	"segments it takes and warns above 2. NAME: court_reminder, court_enrolment,\n"
	"townhall_confirmation, townhall_reminder, townhall_change, townhall_cancel.\n"
	"CHANNEL: sms, signal (falls back to LANG.sms), email (printed with its\n"
	"Subject line), email.html. VARS.json: an object of the template's variables,\n"
	"strings, or true/false for today/tomorrow/changed; \"appearance\" (ISO-8601)\n"
	"with \"tz\" gives date and time formatted in LANG.\n"
	"Example:\n"
	"  echo '{\"name\":\"Ana\",\"court\":\"Foltz CJC\",\"appearance\":\"2026-12-01T08:30:00\",\n"
	"        \"tz\":\"America/Los_Angeles\",\"tomorrow\":true}' |\n"
	"    pregon template render court_reminder es sms -\n";

/* Prints the failure as the contract's one line and picks the exit code. */
static int finish(struct cli *c, int rc)
{
	if (c->rc != NULL)
		redisFree(c->rc);
	c->rc = NULL;
	tz_shutdown();	/* libical's zone cache, for leak checkers */
	if (rc == 0 && (fflush(stdout) != 0 || ferror(stdout)) && errno != EPIPE)
		rc = cli_fail(c, 1, "stdout: %s", strerror(errno));
	if (rc == 0)
		return 0;
	fprintf(stderr, "pregon: %s\n", c->err.msg[0] ? c->err.msg : "failed");
	return c->exit_code ? c->exit_code : 1;
}

/* One row per command: the options it takes and its positionals
 * (dead's subcommand counts as one). */
struct cli_command {
	const char *name;
	unsigned allowed;	/* enum cli_opt bits */
	int max_pos;
	const char *help;
	int (*run)(struct cli *c, const struct cli_args *a);
};

static const struct cli_command commands[] = {
	{ "send", CLI_OPT_STRICT, 1, usage_send, cli_send },
	{ "status", CLI_OPT_JSON | CLI_OPT_WATCH | CLI_OPT_EVENT, 1, usage_status, cli_status },
	{ "tail", CLI_OPT_JOB | CLI_OPT_FROM | CLI_OPT_ALL | CLI_OPT_COUNT | CLI_OPT_LAST |
		  CLI_OPT_NO_FOLLOW, 0, usage_tail, cli_tail },
	/* list takes --count, replay --all: cli_dead checks which. */
	{ "dead", CLI_OPT_COUNT | CLI_OPT_ALL | CLI_OPT_JSON, 2, usage_dead, cli_dead },
	{ "optout", CLI_OPT_JSON, 4, usage_optout, cli_optout },
	{ "contacts", CLI_OPT_LIST | CLI_OPT_DRY_RUN | CLI_OPT_COUNTRY | CLI_OPT_JSON, 2,
		  usage_contacts, cli_contacts },
	{ "template", 0, 5, usage_template, cli_template },
	{ "lists", CLI_OPT_JSON, 0, usage_lists, cli_lists },
	{ "cancel", 0, 1, usage_cancel, cli_cancel },
	{ "signal", 0, 2, usage_signal, cli_signal },
};

/* The usage, then which config file a command would read (-c given
 * before --help counts): the one question an operator has before any. */
static void usage_print(int argc, char **argv)
{
	struct config_found found;
	struct err err;
	const char *path = NULL;

	fputs(usage_main, stdout);
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)
			path = argv[i + 1];
	if (config_find(path, &found, &err) == 0)
		printf("\nconfig: %s (from %s)\n", found.path, config_source_name(found.source));
	else
		printf("\nconfig: %s\n", err.msg);
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	static struct cli cli;	/* static: struct config is a few KB */
	struct cli *c = &cli;
	struct cli_args a;
	const struct cli_command *cmd = NULL;
	const char *config_path = NULL;
	bool verbose = false;
	int i = 1;

	memset(&a, 0, sizeof(a));
	/* A vanished Redis must surface as a write error, not a silent death
	 * by SIGPIPE; a closed stdout pipe is handled where we write. */
	signal(SIGPIPE, SIG_IGN);

	/* Options before the command: -c FILE and --help. */
	for (; i < argc && argv[i][0] == '-' && strcmp(argv[i], "-") != 0; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage_print(argc, argv);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("pregon %s\n", PREGON_VERSION);
			return 0;
		}
		if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
			verbose = true;
			continue;
		}
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc) {
				cli_fail(c, CLI_EXIT_USAGE, "%s needs a FILE", argv[i]);
				return finish(c, -1);
			}
			config_path = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			config_path = argv[i] + 9;
		} else {
			cli_fail(c, CLI_EXIT_USAGE, "unknown option: %.64s (see pregon --help)", argv[i]);
			return finish(c, -1);
		}
	}
	if (i >= argc) {
		/* The contract's one line, not the whole usage, on stderr. */
		cli_fail(c, CLI_EXIT_USAGE, "no command given (see pregon --help)");
		return finish(c, -1);
	}
	if (strcmp(argv[i], "help") == 0) {
		usage_print(argc, argv);
		return 0;
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(argv[i], commands[k].name) == 0)
			cmd = &commands[k];
	if (cmd == NULL) {
		cli_fail(c, CLI_EXIT_USAGE, "unknown command: %.64s (see pregon --help)", argv[i]);
		return finish(c, -1);
	}
	i++;
	if (wants_help(argc - i, argv + i)) {
		fputs(cmd->help, stdout);
		return 0;
	}
	if (args_parse(c, argc - i, argv + i, cmd->allowed, cmd->max_pos, &a) != 0)
		return finish(c, -1);
	if (cmd->run == cli_dead && (a.npos == 0 || (strcmp(a.pos[0], "list") != 0 &&
						     strcmp(a.pos[0], "show") != 0 &&
						     strcmp(a.pos[0], "replay") != 0 &&
						     strcmp(a.pos[0], "delete") != 0))) {
		cli_fail(c, CLI_EXIT_USAGE, a.npos == 0 ? "dead: needs list, show, replay or delete" :
			 "dead: unknown subcommand (list, show, replay, delete)");
		return finish(c, -1);
	}
	/* Usage is checked before the config is looked for, like dead's. */
	if (cmd->run == cli_template && (a.npos != 5 || strcmp(a.pos[0], "render") != 0)) {
		cli_fail(c, CLI_EXIT_USAGE,
			 "template: usage: template render NAME LANG CHANNEL VARS.json");
		return finish(c, -1);
	}
	if (a.config != NULL)
		config_path = a.config;
	if (cli_load_config(c, config_path, verbose) != 0)
		return finish(c, -1);
	return finish(c, cmd->run(c, &a));
}
