/* test_signal_cli.c: the signal-cli provider's pure parts
 * (adapters/signal_cli/signal_cli.h): the `send` request, every answer
 * shape signal-cli gives (result, error with data.response, error alone,
 * the proof-required token, older versions' NETWORK_FAILURE with a token),
 * provider ids, the event envelopes turned into inbound items, and the
 * [signal] url check. The answers are those of signal-cli's sources
 * (json/JsonSendMessageResult.java, jsonrpc/SignalJsonRpcCommandHandler.java). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../adapters/signal_cli/signal_cli.h"

#include "validate.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char uuid[] = "1bb68c4e-a6a4-538a-a63c-1cd67907bf81";

static void send_body_names_recipient_as_a_list_and_the_account(void **state)
{
	struct buf b = { 0 };

	(void)state;
	assert_int_equal(signal_cli_send_body(&b, 7, "+13235550100", "+15005550006", "Hola \"x\""), 0);
	assert_string_equal(b.p, "{\"jsonrpc\":\"2.0\",\"method\":\"send\",\"id\":7,\"params\":"
			    "{\"recipient\":[\"+13235550100\"],\"message\":\"Hola \\\"x\\\"\","
			    "\"account\":\"+15005550006\"}}");
	buf_reset(&b);
	assert_int_equal(signal_cli_send_body(&b, 8, "ana.01", "", "x"), 0);
	assert_non_null(strstr(b.p, "\"recipient\":[\"u:ana.01\"]"));
	assert_null(strstr(b.p, "account"));
	buf_reset(&b);
	assert_int_equal(signal_cli_send_body(&b, 9, uuid, "", "x"), 0);
	assert_non_null(strstr(b.p, "\"recipient\":[\"1bb68c4e-a6a4-538a-a63c-1cd67907bf81\"]"));
	buf_free(&b);
}

static void parse(const char *body, uint64_t id, struct signal_cli_answer *a)
{
	signal_cli_answer_parse(body, strlen(body), id, a);
}

static void answers_map_to_outcomes(void **state)
{
	static const struct {
		const char *body;
		enum signal_cli_outcome want;
		int64_t retry;
	} cases[] = {
		{ "{\"jsonrpc\":\"2.0\",\"result\":{\"timestamp\":999,\"results\":[{\"recipientAddress\":"
		  "{\"uuid\":\"1bb68c4e-a6a4-538a-a63c-1cd67907bf81\",\"number\":\"+13235550100\"},"
		  "\"type\":\"SUCCESS\"}]},\"id\":3}", SCO_SUCCESS, -1 },
		/* the man page's abbreviated example */
		{ "{\"jsonrpc\":\"2.0\",\"result\":{\"timestamp\":999},\"id\":3}", SCO_SUCCESS, -1 },
		{ "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-1,\"message\":\"Failed to send message\","
		  "\"data\":{\"response\":{\"timestamp\":999,\"results\":[{\"type\":"
		  "\"UNREGISTERED_FAILURE\"}]}}},\"id\":3}", SCO_UNREGISTERED, -1 },
		{ "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-5,\"message\":\"m\",\"data\":{\"response\":"
		  "{\"timestamp\":999,\"results\":[{\"type\":\"RATE_LIMIT_FAILURE\","
		  "\"retryAfterSeconds\":120}]}}},\"id\":3}", SCO_RATE_LIMIT, 120 },
		{ "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-5,\"message\":\"m\",\"data\":{\"response\":"
		  "{\"timestamp\":999,\"results\":[{\"type\":\"RATE_LIMIT_FAILURE\",\"token\":\"tok-1\","
		  "\"retryAfterSeconds\":86400}]}}},\"id\":3}", SCO_PROOF_REQUIRED, 86400 },
		/* signal-cli before proof-required counted as a rate limit (#923) */
		{ "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-1,\"message\":\"m\",\"data\":{\"response\":"
		  "{\"timestamp\":999,\"results\":[{\"type\":\"NETWORK_FAILURE\",\"token\":\"tok-2\"}]}}},"
		  "\"id\":3}", SCO_PROOF_REQUIRED, -1 },
		{ "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-4,\"message\":\"m\",\"data\":{\"response\":"
		  "{\"timestamp\":999,\"results\":[{\"type\":\"IDENTITY_FAILURE\"}]}}},\"id\":3}",
		  SCO_IDENTITY, -1 },
		{ "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-1,\"message\":\"m\",\"data\":{\"response\":"
		  "{\"timestamp\":999,\"results\":[{\"type\":\"INVALID_PRE_KEY_FAILURE\"}]}}},\"id\":3}",
		  SCO_INVALID_PRE_KEY, -1 },
		{ "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-1,\"message\":\"The user +1 is not "
		  "registered.\",\"data\":null},\"id\":3}", SCO_USER_ERROR, -1 },
		{ "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-3,\"message\":\"m\"},\"id\":3}",
		  SCO_NETWORK, -1 },
		{ "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32603,\"message\":\"m\"},\"id\":3}",
		  SCO_NETWORK, -1 },
		{ "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,\"message\":\"m\"},\"id\":3}",
		  SCO_RPC_ERROR, -1 },
		{ "{\"jsonrpc\":\"2.0\",\"result\":{\"timestamp\":999},\"id\":4}", SCO_BAD_ANSWER, -1 },
		{ "{\"jsonrpc\":\"2.0\",\"result\":{\"results\":[{\"type\":\"SOMETHING\"}]},\"id\":3}",
		  SCO_BAD_ANSWER, -1 },
		{ "not json", SCO_BAD_ANSWER, -1 },
		{ "[]", SCO_BAD_ANSWER, -1 },
	};
	struct signal_cli_answer a;

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		parse(cases[i].body, 3, &a);
		if (a.outcome != cases[i].want || a.retry_after_s != cases[i].retry)
			fail_msg("case %zu: outcome %s retry %lld", i, signal_cli_outcome_name(a.outcome),
				 (long long)a.retry_after_s);
	}
	parse(cases[0].body, 3, &a);
	assert_int_equal(a.timestamp, 999);
	assert_string_equal(a.uuid, uuid);
	assert_string_equal(a.number, "+13235550100");
	parse(cases[4].body, 3, &a);
	assert_string_equal(a.token, "tok-1");
	assert_int_equal(a.rpc_code, -5);
}

static void a_token_with_odd_bytes_is_not_kept(void **state)
{
	struct signal_cli_answer a;

	(void)state;
	parse("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-5,\"data\":{\"response\":{\"timestamp\":9,"
	      "\"results\":[{\"type\":\"RATE_LIMIT_FAILURE\",\"token\":\"a\\nb\"}]}}},\"id\":3}", 3, &a);
	assert_string_equal(a.token, "");
	assert_int_equal(a.outcome, SCO_RATE_LIMIT);
}

static void provider_ids_are_the_timestamp_and_a_hash_of_the_recipient(void **state)
{
	char a[64], b[64], c[64];

	(void)state;
	signal_provider_id(1796661267348, uuid, a);
	signal_provider_id(1796661267348, uuid, b);
	signal_provider_id(1796661267348, "3f2504e0-4f89-41d3-9a0c-0305e82c3301", c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), 13 + 1 + 24);
	assert_int_equal(strncmp(a, "1796661267348-", 14), 0);
	assert_null(strstr(a, "1bb68c4e"));
}

struct fed {
	struct inbound_item items[8];
	char ids[8][80], from[8][64], text[8][64], status[8][16];
	int n;
};

static int collect(void *data, const struct inbound_item *item)
{
	struct fed *f = data;
	int i = f->n++;

	f->items[i] = *item;
	snprintf(f->ids[i], sizeof(f->ids[i]), "%s", item->provider_id);
	snprintf(f->from[i], sizeof(f->from[i]), "%s", item->from ? item->from : "");
	snprintf(f->text[i], sizeof(f->text[i]), "%s", item->text ? item->text : "");
	snprintf(f->status[i], sizeof(f->status[i]), "%s", item->status ? item->status : "");
	return 0;
}

static int items(const char *json, struct fed *f, struct signal_cli_stream_counts *n)
{
	memset(f, 0, sizeof(*f));
	return signal_cli_event_items(json, strlen(json), CHANNEL_SIGNAL, collect, f, n);
}

#define ENV(rest) "{\"account\":\"+15005550006\",\"envelope\":{\"source\":\"+13235550100\"," \
	"\"sourceNumber\":\"+13235550100\",\"sourceUuid\":\"1bb68c4e-a6a4-538a-a63c-1cd67907bf81\"," \
	"\"sourceDevice\":1,\"timestamp\":1631458508784," rest "}}"

static void receipts_become_one_item_per_timestamp(void **state)
{
	struct signal_cli_stream_counts n = { 0 };
	struct fed f;
	char want[64];

	(void)state;
	assert_int_equal(items(ENV("\"receiptMessage\":{\"when\":1,\"isDelivery\":true,"
				   "\"isRead\":false,\"isViewed\":false,\"timestamps\":[11,12]}"),
			       &f, &n), 0);
	assert_int_equal(f.n, 2);
	signal_provider_id(12, uuid, want);
	assert_string_equal(f.ids[1], want);
	assert_string_equal(f.status[0], "delivered");
	assert_int_equal(f.items[0].kind, INBOUND_RECEIPT);
	assert_int_equal(items(ENV("\"receiptMessage\":{\"when\":1,\"isDelivery\":false,"
				   "\"isRead\":true,\"isViewed\":false,\"timestamps\":[11]}"),
			       &f, &n), 0);
	assert_string_equal(f.status[0], "read");
	assert_int_equal(items(ENV("\"receiptMessage\":{\"when\":1,\"isDelivery\":false,"
				   "\"isRead\":false,\"isViewed\":true,\"timestamps\":[11]}"),
			       &f, &n), 0);
	assert_int_equal(f.n, 0);
	assert_int_equal(n.receipts, 3);
	assert_int_equal(n.ignored, 1);
}

static void a_direct_message_is_an_item_from_the_number(void **state)
{
	struct signal_cli_stream_counts n = { 0 };
	struct fed f;

	(void)state;
	assert_int_equal(items(ENV("\"dataMessage\":{\"timestamp\":1631458508784,"
				   "\"message\":\"STOP\",\"attachments\":[]}"), &f, &n), 0);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.items[0].kind, INBOUND_MESSAGE);
	assert_string_equal(f.from[0], "+13235550100");
	assert_string_equal(f.text[0], "STOP");
	assert_int_equal(strncmp(f.ids[0], "in-1631458508784-", 17), 0);
	/* A group message, a reaction, a typing notice, a sync: not ours. */
	assert_int_equal(items(ENV("\"dataMessage\":{\"message\":\"STOP\",\"groupInfo\":"
				   "{\"groupId\":\"x\"}}"), &f, &n), 0);
	assert_int_equal(items(ENV("\"dataMessage\":{\"reaction\":{\"emoji\":\"x\"}}"), &f, &n), 0);
	assert_int_equal(items(ENV("\"typingMessage\":{\"action\":\"STARTED\"}"), &f, &n), 0);
	assert_int_equal(items(ENV("\"syncMessage\":{}"), &f, &n), 0);
	assert_int_equal(f.n, 0);
	assert_int_equal(n.messages, 1);
	assert_int_equal(n.ignored, 4);
	/* Not an envelope at all. */
	assert_int_equal(items("{\"account\":\"x\"}", &f, &n), 0);
	assert_int_equal(items("nope", &f, &n), -1);
}

static void a_sender_without_a_number_is_named_by_its_aci(void **state)
{
	struct signal_cli_stream_counts n = { 0 };
	struct fed f;

	(void)state;
	assert_int_equal(items("{\"envelope\":{\"sourceNumber\":null,\"sourceUuid\":"
			       "\"1BB68C4E-A6A4-538A-A63C-1CD67907BF81\",\"timestamp\":5,"
			       "\"dataMessage\":{\"message\":\"1\"}}}", &f, &n), 0);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.from[0], uuid);
}

static void url_is_loopback_https_or_a_unix_socket(void **state)
{
	struct signal_cli_where w;
	struct err err;

	(void)state;
	assert_int_equal(signal_cli_where_parse("http://127.0.0.1:8080/", &w, &err), 0);
	assert_string_equal(w.base, "http://127.0.0.1:8080");
	assert_string_equal(w.unix_socket, "");
	assert_int_equal(signal_cli_where_parse("http://[::1]:8080", &w, &err), 0);
	assert_int_equal(signal_cli_where_parse("https://signal.example.org", &w, &err), 0);
	assert_int_equal(signal_cli_where_parse("unix:/run/signal-cli/http.sock", &w, &err), 0);
	assert_string_equal(w.base, "http://localhost");
	assert_string_equal(w.unix_socket, "/run/signal-cli/http.sock");
	assert_int_equal(signal_cli_where_parse("http://192.0.2.10:8080", &w, &err), -1);
	assert_non_null(strstr(err.msg, "[signal] url: http:// is allowed only to this machine"));
	assert_int_equal(signal_cli_where_parse("unix:relative", &w, &err), -1);
	assert_int_equal(signal_cli_where_parse("", &w, &err), -1);
	assert_int_equal(signal_cli_where_parse("ftp://127.0.0.1", &w, &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(send_body_names_recipient_as_a_list_and_the_account),
		cmocka_unit_test(answers_map_to_outcomes),
		cmocka_unit_test(a_token_with_odd_bytes_is_not_kept),
		cmocka_unit_test(provider_ids_are_the_timestamp_and_a_hash_of_the_recipient),
		cmocka_unit_test(receipts_become_one_item_per_timestamp),
		cmocka_unit_test(a_direct_message_is_an_item_from_the_number),
		cmocka_unit_test(a_sender_without_a_number_is_named_by_its_aci),
		cmocka_unit_test(url_is_loopback_https_or_a_unix_socket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
