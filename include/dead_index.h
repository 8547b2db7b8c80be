/* dead_index.h: whom a rejected job names, so that its dead letter can be
 * found and erased with the person (contact_delete, src/lua/jobs.lua).
 *
 * A dead letter keeps the whole job, valid or not, addresses and texts
 * included, for [events] retention_days. The accept op indexes it under
 * <prefix>dx:<name> for each name given here:
 *
 *   c:<contact id>   the ids the job gives its people: recipient.id,
 *                    contact.id, contact_id, audience.recipients[].id;
 *                    for text that is not JSON, the value of every
 *                    "id" and "contact_id" member found in it (the job's
 *                    own id too: erasing a broken job with a person is
 *                    the lesser harm than keeping it)
 *   a:<address>      anything in the text shaped like a phone number
 *                    ('+' and 8 to 15 digits, spaces, dots, dashes and
 *                    brackets between them; E.164 as pregon keeps it) or
 *                    an email address (lower case), wherever it stands:
 *                    a recipient field, a misnamed field, a message body
 *
 * The text is scanned as stored (the dead letter's own bytes), so a
 * duplicated member or a cut job is indexed by what it holds. */
#ifndef PREGON_DEAD_INDEX_H
#define PREGON_DEAD_INDEX_H

#include <stddef.h>

#include <jansson.h>

/* At most this many names per dead letter: one index key each, written
 * in the accept call. A valid inline audience (1,000 recipients, each
 * with an id, a phone and an email) names at most 3,000. */
#define DEAD_INDEX_MAX 4096

/* Returns a new JSON array of the distinct names ("c:...", "a:...") that
 * raw (len bytes) holds, or NULL when it holds more than DEAD_INDEX_MAX
 * (or on out of memory: *too_many tells which). */
json_t *dead_index_names(const char *raw, size_t len, int *too_many);

#endif
