/* fuzz_dead_index.c: libFuzzer target for dead_index_names
 * (src/intake/dead_index.c), which reads a rejected job's text, whatever
 * a producer or an MQTT publisher sent, to index its dead letter.
 *
 * Beyond "no crash, no leak, no UB" it checks:
 * - either an array of at most DEAD_INDEX_MAX names, or NULL with
 *   too_many set (no allocation fails here);
 * - each name is "c:" or "a:" and 1 to 300 bytes after it, each once;
 * - an "a:" name holds no upper-case ASCII (addresses are folded as
 *   contact_delete folds them) and is an email (exactly one '@') or else
 *   a phone ('+' and 8 to 15 digits). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dead_index.h"

static void check_name(const char *s, size_t len, json_t *seen)
{
	const char *v = s + 2;
	size_t vlen = len - 2;

	if (len < 3 || len > 302 || (strncmp(s, "c:", 2) != 0 && strncmp(s, "a:", 2) != 0))
		abort();
	if (json_object_get(seen, s) != NULL)
		abort();
	json_object_set_new(seen, s, json_true());
	if (s[0] == 'c')
		return;
	if (strchr(v, '@') == NULL) {
		if (vlen < 9 || vlen > 16 || strspn(v + 1, "0123456789") != vlen - 1)
			abort();
		return;
	}
	if (strchr(v, '@') == NULL || strchr(v, '@') != strrchr(v, '@'))
		abort();
	for (size_t i = 0; i < vlen; i++)
		if (v[i] >= 'A' && v[i] <= 'Z')
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int too_many = 0;
	json_t *names = dead_index_names((const char *)data, size, &too_many);
	json_t *seen, *v;
	size_t i;

	if (names == NULL) {
		if (!too_many)
			abort();
		return 0;
	}
	if (too_many || json_array_size(names) > DEAD_INDEX_MAX)
		abort();
	seen = json_object();
	json_array_foreach(names, i, v)
		check_name(json_string_value(v), json_string_length(v), seen);
	json_decref(seen);
	json_decref(names);
	return 0;
}
