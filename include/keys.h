/* keys.h: what pregon keeps in Redis, under [redis] prefix (default "pregon:").
 *
 *   <p>jobs                  stream, field job: the intake queue; group "pregon"
 *   <p>dead                  stream, fields job, reason, at: rejected jobs;
 *                            MAXLEN ~ [events] max_len, trimmed after
 *                            [events] retention_days (op trim)
 *   <p>dx:c:<contact id>, <p>dx:a:<address>
 *                            zsets: the dead entries naming that contact id or
 *                            address (include/dead_index.h), scored by when
 *                            each is trimmed; erased by contact_delete
 *   <p>events                stream, field event (JSON): every state change
 *   <p>seen:<job id>         string: the jobs entry id that first carried the id
 *                            (idempotency), TTL [jobs] dedupe_days or, for a
 *                            message job, as long as its message is kept;
 *                            it is the seq of the job's message ids
 *   <p>job:<job id>          hash: kind, created (ms), seq (the entry id),
 *                            messages (count: its messages are m<seq>.1 ..
 *                            m<seq>.<count>), c:<channel>:<status>: how many
 *                            of its messages are now in that status on that
 *                            channel (totals per status are sums); a
 *                            court_reminder's also vars (template values,
 *                            JSON), sig (date, time, place), at (appearance
 *                            ms), case; TTL retention_days after its last
 *                            message is due. A message job (and the answer
 *                            to an inbound text) has none: its seen key
 *                            names its message, whose record says all; a
 *                            fallback gives it one with the count only
 *   <p>msg:<message id>      hash: job, kind, contact, channel, to, d (the
 *                            payload, JSON: body and subject, or tpl for a
 *                            templated one; chain, addr, qz), status,
 *                            attempt, created; only when they say something:
 *                            updated, provider_id, error, urgent (1),
 *                            expires, qz (the zone whose quiet hours hold
 *                            it), bypass, rp, lane ("answer": an answer to
 *                            an inbound text); TTL retention_days after it
 *                            is due
 *   <p>jobseq                counter behind the ids of the answers to
 *                            inbound texts (i<n>)
 *   <p>ready:<channel>:<lane> stream, field m (message id), q (its quiet-hours
 *                            zone, if it waits them out): due now;
 *                            lane "urgent", "answer" (HELP and consent
 *                            confirmations) or "normal", read in that
 *                            order; group "pregon"
 *   <p>scheduled             zset: message id by due time (ms): reminders,
 *                            send_at, retries, messages held by quiet hours
 *   <p>case:<ref>            hash: recipient id -> the court_reminder job whose
 *                            reminders are pending (replacement, cancel)
 *   <p>test:clock            [schedule] test_clock only: ms added to the time
 *   <p>optout:<channel>      set of opted-out addresses
 *   <p>consent:<address>     list: the consent ledger (never expires)
 *   <p>csid:<address>        set: the provider ids of the consent words
 *                            from there (never expires, beside the ledger:
 *                            a replayed STOP/START stays a duplicate)
 *   <p>ha:<channel>:<address>, <p>ca:<channel>:<address>  the sid last
 *                            answered with HELP (TTL [<channel>]
 *                            help_interval) or a consent confirmation
 *                            (TTL a day): the limits on answers
 *   <p>rate:<channel>        the shared rate's theoretical arrival time
 *   <p>pid:<provider id>, <p>fb:<provider id>, <p>inb:<provider id>,
 *   <p>lj:<channel>:<address>  "<contact>\t<job>" last sent there (replies); <p>last:
 *                            the hash an earlier version kept, still read; <p>fb:any
 *                            while any early callback is kept (fb:)
 *   <p>inbound               stream: replies for a person to answer
 *   <p>contact:<id>          hash: name, phone, email, signal, lang, tz,
 *                            channels, lists (JSON), updated, source
 *   <p>contacts, <p>lists    sets: contact ids; list names with members
 *   <p>list:<name>           set of contact ids
 *   <p>cmz:<contact id>      zset: its message ids by when their records
 *                            expire (erased on contact_delete; pruned as
 *                            messages are added; cm:<id>, the set it
 *                            replaced, is still read until it expires)
 *   <p>expand:<lane>         stream, field job: alerts to expand; group "pregon"
 *   <p>xr:<job>, <p>xs:<job> an alert's inline recipients; SHA-1s of the
 *                            addresses already served (while expanding)
 *   <p>rto:<channel>:<address>  the message a reply from there answers
 *   <p>replies:<job>         stream: free-text replies to an alert
 *   <p>event:<ref>, <p>evq:<ref>, <p>evr:<ref>, <p>evj:<ref>, <p>evx:<ref>
 *                            a town hall: recipient id -> registration job;
 *                            -> invitation SEQUENCE; -> latest answer; set
 *                            of those who joined; the cancel job that
 *                            cancelled it (src/lua/townhall.lua)
 *   <p>jt:<token>            the message a tracked join link was sent in
 *   <p>recent                zset: the jobs accepted, by when (ms, each
 *                            batch's sharing one); the API's job list;
 *                            trimmed to [events] retention_days
 *   <p>secret:links          the key of the tokens in links (seal.h), hex;
 *                            made once by the first instance (SET NX)
 *   <p>signal:self, <p>signal:session:<addr>, <p>signal:identity:<addr>,
 *   <p>signal:lock:<addr>, <p>signal:env:<msg>
 *                            the native Signal transport's stores: our
 *                            identity; sessions by device; trusted and
 *                            changed keys; a recipient's lock; a message's
 *                            envelope for its retries (src/lua/signal.lua)
 *
 * All writes that change a message's state, and the event that reports it,
 * happen in one call of the Redis library (src/lua/), so the event stream
 * never disagrees with the records. */
#ifndef PREGON_KEYS_H
#define PREGON_KEYS_H

#define PREGON_GROUP "pregon"

#endif
