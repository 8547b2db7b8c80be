/* signal_mem.c: the library's stores in memory (signal_mem.h says why).
 * A table is an array searched in order: a send holds one recipient's
 * records, the test recipient a hundred pre-keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curve.h>
#include <key_helper.h>
#include <ratchet.h>
#include <session_pre_key.h>

#include "signal_mem.h"

int signal_blob_set(struct signal_blob *b, const uint8_t *data, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	if (p == NULL)
		return -1;
	if (len)
		memcpy(p, data, len);
	free(b->p);
	b->p = p;
	b->len = len;
	return 0;
}

struct signal_mem_rec *signal_mem_find(struct signal_mem_table *t, const char *name,
				       size_t name_len, uint32_t id)
{
	for (size_t i = 0; i < t->n; i++) {
		struct signal_mem_rec *r = &t->v[i];

		if (r->id == id && strlen(r->name) == name_len && memcmp(r->name, name, name_len) == 0)
			return r;
	}
	return NULL;
}

int signal_mem_put(struct signal_mem_table *t, const char *name, size_t name_len, uint32_t id,
		   const uint8_t *data, size_t len)
{
	struct signal_mem_rec *r = signal_mem_find(t, name, name_len, id);

	if (r == NULL) {
		if (t->n == t->cap) {
			size_t cap = t->cap ? 2 * t->cap : 4;
			struct signal_mem_rec *v = realloc(t->v, cap * sizeof(*v));

			if (v == NULL)
				return -1;
			t->v = v;
			t->cap = cap;
		}
		r = &t->v[t->n];
		memset(r, 0, sizeof(*r));
		r->name = strndup(name, name_len);
		if (r->name == NULL)
			return -1;
		r->id = id;
		t->n++;
	}
	r->changed = false;
	return signal_blob_set(&r->data, data, len);
}

/* The library's write: the record is put and marked changed. */
static int mem_store(struct signal_mem_table *t, const char *name, size_t name_len, uint32_t id,
		     const uint8_t *data, size_t len)
{
	if (signal_mem_put(t, name, name_len, id, data, len) != 0)
		return SG_ERR_NOMEM;
	signal_mem_find(t, name, name_len, id)->changed = true;
	return 0;
}

static void mem_remove(struct signal_mem_table *t, size_t i)
{
	free(t->v[i].name);
	free(t->v[i].data.p);
	t->v[i] = t->v[--t->n];
}

static int mem_load(struct signal_mem_table *t, const char *name, size_t name_len, uint32_t id,
		    signal_buffer **out)
{
	struct signal_mem_rec *r = signal_mem_find(t, name, name_len, id);

	if (r == NULL)
		return 0;
	*out = signal_buffer_create(r->data.p, r->data.len);
	return *out ? 1 : SG_ERR_NOMEM;
}

static void table_free(struct signal_mem_table *t)
{
	while (t->n)
		mem_remove(t, t->n - 1);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

void signal_mem_free(struct signal_mem *m)
{
	table_free(&m->sessions);
	table_free(&m->identities);
	table_free(&m->pre_keys);
	table_free(&m->signed_pre_keys);
	free(m->pub.p);
	free(m->priv.p);
	free(m->refused.p);
	memset(m, 0, sizeof(*m));
}

/* ---- sessions ---- */

static int session_load(signal_buffer **record, signal_buffer **user_record,
			const signal_protocol_address *a, void *ud)
{
	struct signal_mem *m = ud;

	*user_record = NULL;
	return mem_load(&m->sessions, a->name, a->name_len, (uint32_t)a->device_id, record);
}

static int session_sub_devices(signal_int_list **out, const char *name, size_t name_len, void *ud)
{
	struct signal_mem *m = ud;
	signal_int_list *l = signal_int_list_alloc();
	int n = 0;

	if (l == NULL)
		return SG_ERR_NOMEM;
	for (size_t i = 0; i < m->sessions.n; i++) {
		struct signal_mem_rec *r = &m->sessions.v[i];

		if (r->id != 1 && strlen(r->name) == name_len && memcmp(r->name, name, name_len) == 0) {
			if (signal_int_list_push_back(l, (int)r->id) != 0) {
				signal_int_list_free(l);
				return SG_ERR_NOMEM;
			}
			n++;
		}
	}
	*out = l;
	return n;
}

static int session_store(const signal_protocol_address *a, uint8_t *rec, size_t len,
			 uint8_t *user_rec, size_t user_len, void *ud)
{
	struct signal_mem *m = ud;

	(void)user_rec;
	(void)user_len;
	return mem_store(&m->sessions, a->name, a->name_len, (uint32_t)a->device_id, rec, len);
}

static int session_contains(const signal_protocol_address *a, void *ud)
{
	struct signal_mem *m = ud;

	return signal_mem_find(&m->sessions, a->name, a->name_len, (uint32_t)a->device_id) != NULL;
}

static int session_delete(const signal_protocol_address *a, void *ud)
{
	struct signal_mem *m = ud;
	struct signal_mem_rec *r = signal_mem_find(&m->sessions, a->name, a->name_len,
						   (uint32_t)a->device_id);

	if (r == NULL)
		return 0;
	mem_remove(&m->sessions, (size_t)(r - m->sessions.v));
	return 1;
}

static int session_delete_all(const char *name, size_t name_len, void *ud)
{
	struct signal_mem *m = ud;
	int n = 0;

	for (size_t i = m->sessions.n; i-- > 0;) {
		struct signal_mem_rec *r = &m->sessions.v[i];

		if (strlen(r->name) == name_len && memcmp(r->name, name, name_len) == 0) {
			mem_remove(&m->sessions, i);
			n++;
		}
	}
	return n;
}

/* ---- pre-keys and signed pre-keys: keyed by id, name "" ---- */

static int key_load(struct signal_mem_table *t, uint32_t id, signal_buffer **out)
{
	int rc = mem_load(t, "", 0, id, out);

	return rc == 1 ? SG_SUCCESS : rc == 0 ? SG_ERR_INVALID_KEY_ID : rc;
}

static int key_remove(struct signal_mem_table *t, uint32_t id)
{
	struct signal_mem_rec *r = signal_mem_find(t, "", 0, id);

	if (r != NULL)
		mem_remove(t, (size_t)(r - t->v));
	return 0;
}

/* The library's four callbacks of a store keyed by id, for the table
 * `field` of struct signal_mem: the pre-key and signed pre-key stores have
 * the same shape. */
#define KEY_STORE(prefix, field)							\
static int prefix##_load(signal_buffer **rec, uint32_t id, void *ud)			\
{											\
	return key_load(&((struct signal_mem *)ud)->field, id, rec);			\
}											\
static int prefix##_store(uint32_t id, uint8_t *rec, size_t len, void *ud)		\
{											\
	return mem_store(&((struct signal_mem *)ud)->field, "", 0, id, rec, len);	\
}											\
static int prefix##_contains(uint32_t id, void *ud)					\
{											\
	return signal_mem_find(&((struct signal_mem *)ud)->field, "", 0, id) != NULL;	\
}											\
static int prefix##_remove(uint32_t id, void *ud)					\
{											\
	return key_remove(&((struct signal_mem *)ud)->field, id);			\
}

KEY_STORE(pre_key, pre_keys)
KEY_STORE(spk, signed_pre_keys)

/* ---- identity ---- */

static int identity_pair(signal_buffer **pub, signal_buffer **priv, void *ud)
{
	struct signal_mem *m = ud;

	if (m->pub.p == NULL || m->priv.p == NULL)
		return SG_ERR_INVALID_KEY;
	*pub = signal_buffer_create(m->pub.p, m->pub.len);
	*priv = signal_buffer_create(m->priv.p, m->priv.len);
	if (*pub == NULL || *priv == NULL) {
		signal_buffer_free(*pub);
		signal_buffer_free(*priv);
		return SG_ERR_NOMEM;
	}
	return 0;
}

static int identity_reg_id(void *ud, uint32_t *id)
{
	*id = ((struct signal_mem *)ud)->reg_id;
	return 0;
}

static int identity_save(const signal_protocol_address *a, uint8_t *key, size_t len, void *ud)
{
	struct signal_mem *m = ud;
	struct signal_mem_rec *r;

	if (key == NULL) {
		r = signal_mem_find(&m->identities, a->name, a->name_len, 0);
		if (r != NULL)
			mem_remove(&m->identities, (size_t)(r - m->identities.v));
		return 0;
	}
	r = signal_mem_find(&m->identities, a->name, a->name_len, 0);
	if (r != NULL && r->data.len == len && memcmp(r->data.p, key, len) == 0)
		return 0;	/* the same key: nothing to write back */
	return mem_store(&m->identities, a->name, a->name_len, 0, key, len);
}

/* Trust on first use; a different key is refused and kept. */
static int identity_trusted(const signal_protocol_address *a, uint8_t *key, size_t len, void *ud)
{
	struct signal_mem *m = ud;
	struct signal_mem_rec *r = signal_mem_find(&m->identities, a->name, a->name_len, 0);

	if (r == NULL || (r->data.len == len && memcmp(r->data.p, key, len) == 0))
		return 1;
	if (signal_blob_set(&m->refused, key, len) != 0)
		return SG_ERR_NOMEM;
	snprintf(m->refused_name, sizeof(m->refused_name), "%.*s",
		 (int)(a->name_len < sizeof(m->refused_name) ? a->name_len : sizeof(m->refused_name) - 1),
		 a->name);
	return 0;
}

int signal_mem_attach(struct signal_mem *m, signal_protocol_store_context *store)
{
	signal_protocol_session_store ss = {
		.load_session_func = session_load,
		.get_sub_device_sessions_func = session_sub_devices,
		.store_session_func = session_store,
		.contains_session_func = session_contains,
		.delete_session_func = session_delete,
		.delete_all_sessions_func = session_delete_all,
		.user_data = m,
	};
	signal_protocol_pre_key_store ps = {
		.load_pre_key = pre_key_load,
		.store_pre_key = pre_key_store,
		.contains_pre_key = pre_key_contains,
		.remove_pre_key = pre_key_remove,
		.user_data = m,
	};
	signal_protocol_signed_pre_key_store sps = {
		.load_signed_pre_key = spk_load,
		.store_signed_pre_key = spk_store,
		.contains_signed_pre_key = spk_contains,
		.remove_signed_pre_key = spk_remove,
		.user_data = m,
	};
	signal_protocol_identity_key_store is = {
		.get_identity_key_pair = identity_pair,
		.get_local_registration_id = identity_reg_id,
		.save_identity = identity_save,
		.is_trusted_identity = identity_trusted,
		.user_data = m,
	};

	if (signal_protocol_store_context_set_session_store(store, &ss) != 0 ||
	    signal_protocol_store_context_set_pre_key_store(store, &ps) != 0 ||
	    signal_protocol_store_context_set_signed_pre_key_store(store, &sps) != 0 ||
	    signal_protocol_store_context_set_identity_key_store(store, &is) != 0)
		return -1;
	return 0;
}

int signal_mem_generate_identity(struct signal_mem *m, signal_context *ctx)
{
	ratchet_identity_key_pair *pair = NULL;
	signal_buffer *pub = NULL, *priv = NULL;
	int rc = -1;

	if (signal_protocol_key_helper_generate_identity_key_pair(&pair, ctx) != 0 ||
	    signal_protocol_key_helper_generate_registration_id(&m->reg_id, 0, ctx) != 0)
		goto out;
	if (ec_public_key_serialize(&pub, ratchet_identity_key_pair_get_public(pair)) != 0 ||
	    ec_private_key_serialize(&priv, ratchet_identity_key_pair_get_private(pair)) != 0)
		goto out;
	if (signal_blob_set(&m->pub, signal_buffer_data(pub), signal_buffer_len(pub)) != 0 ||
	    signal_blob_set(&m->priv, signal_buffer_data(priv), signal_buffer_len(priv)) != 0)
		goto out;
	rc = 0;
out:
	signal_buffer_free(pub);
	signal_buffer_bzero_free(priv);
	SIGNAL_UNREF(pair);
	return rc;
}

/* Our identity pair from m's blobs; the caller SIGNAL_UNREFs it. */
static int identity_pair_of(struct signal_mem *m, signal_context *ctx,
			    ratchet_identity_key_pair **out)
{
	ec_public_key *pub = NULL;
	ec_private_key *priv = NULL;
	int rc = -1;

	if (curve_decode_point(&pub, m->pub.p, m->pub.len, ctx) == 0 &&
	    curve_decode_private_point(&priv, m->priv.p, m->priv.len, ctx) == 0 &&
	    ratchet_identity_key_pair_create(out, pub, priv) == 0)
		rc = 0;
	SIGNAL_UNREF(pub);
	SIGNAL_UNREF(priv);
	return rc;
}

int signal_mem_generate_keys(struct signal_mem *m, signal_context *ctx, uint32_t first_id,
			     unsigned count, uint32_t spk_id)
{
	ratchet_identity_key_pair *pair = NULL;
	signal_protocol_key_helper_pre_key_list_node *head = NULL;
	session_signed_pre_key *spk = NULL;
	signal_buffer *b = NULL;
	int rc = -1;

	if (identity_pair_of(m, ctx, &pair) != 0 ||
	    signal_protocol_key_helper_generate_pre_keys(&head, first_id, count, ctx) != 0 ||
	    signal_protocol_key_helper_generate_signed_pre_key(&spk, pair, spk_id, 0, ctx) != 0)
		goto out;
	for (signal_protocol_key_helper_pre_key_list_node *n = head; n;
	     n = signal_protocol_key_helper_key_list_next(n)) {
		session_pre_key *k = signal_protocol_key_helper_key_list_element(n);

		if (session_pre_key_serialize(&b, k) != 0 ||
		    signal_mem_put(&m->pre_keys, "", 0, session_pre_key_get_id(k),
				   signal_buffer_data(b), signal_buffer_len(b)) != 0)
			goto out;
		signal_buffer_bzero_free(b);
		b = NULL;
	}
	if (session_signed_pre_key_serialize(&b, spk) != 0 ||
	    signal_mem_put(&m->signed_pre_keys, "", 0, spk_id, signal_buffer_data(b),
			   signal_buffer_len(b)) != 0)
		goto out;
	rc = 0;
out:
	signal_buffer_bzero_free(b);
	signal_protocol_key_helper_key_list_free(head);
	SIGNAL_UNREF(spk);
	SIGNAL_UNREF(pair);
	return rc;
}

int signal_mem_bundle(struct signal_mem *m, signal_context *ctx, int device,
		      uint32_t pre_key_id, uint32_t spk_id, session_pre_key_bundle **out)
{
	struct signal_mem_rec *pk = pre_key_id ? signal_mem_find(&m->pre_keys, "", 0, pre_key_id) : NULL;
	struct signal_mem_rec *sr = signal_mem_find(&m->signed_pre_keys, "", 0, spk_id);
	session_pre_key *p = NULL;
	session_signed_pre_key *s = NULL;
	ec_public_key *id = NULL;
	int rc = -1;

	if (sr == NULL || (pre_key_id && pk == NULL))
		return -1;
	if ((pk && session_pre_key_deserialize(&p, pk->data.p, pk->data.len, ctx) != 0) ||
	    session_signed_pre_key_deserialize(&s, sr->data.p, sr->data.len, ctx) != 0 ||
	    curve_decode_point(&id, m->pub.p, m->pub.len, ctx) != 0)
		goto out;
	if (session_pre_key_bundle_create(out, m->reg_id, device, pre_key_id,
					  p ? ec_key_pair_get_public(session_pre_key_get_key_pair(p)) : NULL,
					  spk_id, ec_key_pair_get_public(session_signed_pre_key_get_key_pair(s)),
					  session_signed_pre_key_get_signature(s),
					  session_signed_pre_key_get_signature_len(s), id) == 0)
		rc = 0;
out:
	SIGNAL_UNREF(p);
	SIGNAL_UNREF(s);
	SIGNAL_UNREF(id);
	return rc;
}
