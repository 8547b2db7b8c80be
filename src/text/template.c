/* template.c: message templates (see template.h).
 *
 * A template compiles to a flat array of nodes; {{#if}} and {{else}} carry
 * the index to jump to, so rendering is one loop without recursion. Every
 * check that can be made without the values is made by template_compile(). */
#include "template.h"
#include "utf8.h"
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum node_op {
	OP_TEXT,	/* copy text[a .. a+b) */
	OP_VAR,		/* output vars[a] */
	OP_IF,		/* when vars[a] is absent or "", go to b + 1 */
	OP_ELSE,	/* reached from the true branch: go to b + 1 */
	OP_END,		/* {{/if}}: nothing */
};

struct node {
	uint32_t op;
	uint32_t a;
	uint32_t b;
	uint32_t line;	/* of the tag, for render-time errors */
	uint32_t col;
};

struct template {
	struct node *nodes;
	size_t n_nodes;
	size_t cap_nodes;
	char *text;		/* every literal text, escapes resolved */
	size_t text_len;
	char *names;		/* the distinct names, each NUL-terminated */
	size_t names_len;
	const char **vars;	/* into names, in order of first appearance */
	size_t n_vars;
};

/* Line and column of an offset, advanced as the parser moves forward so
 * that the whole compile stays linear. */
struct pos {
	size_t off;
	size_t line;
	size_t col;
};

static void pos_advance(struct pos *p, const char *s, size_t off)
{
	for (; p->off < off; p->off++) {
		unsigned char c = (unsigned char)s[p->off];

		if (c == '\n') {
			p->line++;
			p->col = 1;
		} else if ((c & 0xc0) != 0x80) {
			p->col++;	/* continuation bytes share their lead's column */
		}
	}
}


/* Appends a node; the array grows by doubling since the number of tags is
 * only known at the end. */
static int add_node(struct template *t, uint32_t op, uint32_t a, uint32_t b,
		    const struct pos *p, struct err *err)
{
	struct node *n;

	if (t->n_nodes == t->cap_nodes) {
		size_t cap = t->cap_nodes ? t->cap_nodes * 2 : 16;

		n = realloc(t->nodes, cap * sizeof(*n));
		if (n == NULL)
			return err_set(err, "out of memory");
		t->nodes = n;
		t->cap_nodes = cap;
	}
	n = &t->nodes[t->n_nodes++];
	n->op = op;
	n->a = a;
	n->b = b;
	n->line = (uint32_t)p->line;
	n->col = (uint32_t)p->col;
	return 0;
}

/* Ends the literal text started at start, if there is any. */
static int flush_text(struct template *t, size_t start, const struct pos *p,
		      struct err *err)
{
	if (t->text_len == start)
		return 0;
	return add_node(t, OP_TEXT, (uint32_t)start, (uint32_t)(t->text_len - start), p, err);
}

/* The spaces allowed inside braces: "{{ name }}" reads better. */
static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* [a-z][a-z0-9_]* (template.h). */
static int valid_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] < 'a' || s[0] > 'z')
		return 0;
	for (i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/* Index of name in t->vars, adding it if it is new; -1 with err set when
 * it is not in known (so the message quotes the misspelling). */
static long var_index(struct template *t, const char *name, size_t n,
		      const char *const *known, const struct pos *p, struct err *err)
{
	size_t i;
	int found = 0;

	if (n > TEMPLATE_MAX_NAME)
		return err_set(err, "line %zu, column %zu: variable name longer than %d bytes",
			       p->line, p->col, TEMPLATE_MAX_NAME);
	for (i = 0; known != NULL && known[i] != NULL && !found; i++)
		found = strlen(known[i]) == n && memcmp(known[i], name, n) == 0;
	if (!found)
		return err_set(err, "line %zu, column %zu: unknown variable \"%.*s\"",
			       p->line, p->col, (int)n, name);
	for (i = 0; i < t->n_vars; i++)
		if (strlen(t->vars[i]) == n && memcmp(t->vars[i], name, n) == 0)
			return (long)i;
	/* names is len + 1 bytes and each distinct name came from a tag at
	 * least 4 bytes longer than it, so this fits; vars has one slot per
	 * known name. */
	memcpy(t->names + t->names_len, name, n);
	t->names[t->names_len + n] = '\0';
	t->vars[t->n_vars] = t->names + t->names_len;
	t->names_len += n + 1;
	return (long)t->n_vars++;
}

/* The message for anything between braces that is not a tag; quotes the
 * tag when it is short printable ASCII, so "{{Name}}" is easy to find but
 * no control character reaches a log. */
static int invalid_tag(const char *in, size_t n, const struct pos *p, struct err *err)
{
	size_t i;
	int quote = n <= 40;

	for (i = 0; i < n && quote; i++)
		quote = in[i] >= 0x20 && in[i] < 0x7f;
	if (quote)
		return err_set(err, "line %zu, column %zu: invalid tag \"{{%.*s}}\" (expected "
			       "{{name}}, {{#if name}}, {{else}} or {{/if}})",
			       p->line, p->col, (int)n, in);
	return err_set(err, "line %zu, column %zu: invalid tag (expected "
		       "{{name}}, {{#if name}}, {{else}} or {{/if}})", p->line, p->col);
}

/* The {{#if}} tags still open: their node indices and whether each has had
 * its {{else}}. */
struct if_stack {
	size_t node[TEMPLATE_MAX_DEPTH];
	size_t else_node[TEMPLATE_MAX_DEPTH];	/* 0: none yet (node 0 is never an else) */
	size_t depth;
};

/* Compiles one tag whose inside (between the braces) is in[0..n); p is the
 * position of its first "{". */
static int compile_tag(struct template *t, const char *in, size_t n,
		       const char *const *known, struct if_stack *st,
		       const struct pos *p, struct err *err)
{
	const char *s = in, *e = in + n;
	long v;

	while (s < e && is_blank(*s))
		s++;
	while (e > s && is_blank(e[-1]))
		e--;
	if ((size_t)(e - s) == 4 && memcmp(s, "else", 4) == 0) {
		if (st->depth == 0)
			return err_set(err, "line %zu, column %zu: {{else}} without {{#if}}",
				       p->line, p->col);
		if (st->else_node[st->depth - 1] != 0)
			return err_set(err, "line %zu, column %zu: second {{else}} in one {{#if}}",
				       p->line, p->col);
		st->else_node[st->depth - 1] = t->n_nodes;
		t->nodes[st->node[st->depth - 1]].b = (uint32_t)t->n_nodes;
		return add_node(t, OP_ELSE, 0, 0, p, err);
	}
	if ((size_t)(e - s) == 3 && memcmp(s, "/if", 3) == 0) {
		if (st->depth == 0)
			return err_set(err, "line %zu, column %zu: {{/if}} without {{#if}}",
				       p->line, p->col);
		st->depth--;
		if (st->else_node[st->depth] != 0)
			t->nodes[st->else_node[st->depth]].b = (uint32_t)t->n_nodes;
		else
			t->nodes[st->node[st->depth]].b = (uint32_t)t->n_nodes;
		return add_node(t, OP_END, 0, 0, p, err);
	}
	if (e - s >= 3 && memcmp(s, "#if", 3) == 0 && (e - s == 3 || is_blank(s[3]))) {
		s += 3;
		while (s < e && is_blank(*s))
			s++;
		if (s == e)
			return err_set(err, "line %zu, column %zu: {{#if}} without a variable name",
				       p->line, p->col);
		if (!valid_name(s, (size_t)(e - s)))
			return invalid_tag(in, n, p, err);
		if (st->depth == TEMPLATE_MAX_DEPTH)
			return err_set(err, "line %zu, column %zu: {{#if}} nested deeper than %d",
				       p->line, p->col, TEMPLATE_MAX_DEPTH);
		v = var_index(t, s, (size_t)(e - s), known, p, err);
		if (v < 0)
			return -1;
		st->node[st->depth] = t->n_nodes;
		st->else_node[st->depth] = 0;
		st->depth++;
		return add_node(t, OP_IF, (uint32_t)v, 0, p, err);
	}
	if (!valid_name(s, (size_t)(e - s)))
		return invalid_tag(in, n, p, err);
	v = var_index(t, s, (size_t)(e - s), known, p, err);
	if (v < 0)
		return -1;
	return add_node(t, OP_VAR, (uint32_t)v, 0, p, err);
}

int template_compile(const char *text, size_t len, const char *const *known,
		     struct template **out, struct err *err)
{
	struct template *t = NULL;
	struct if_stack st;
	struct pos p = { 0, 1, 1 };
	size_t i, bad, n_known = 0, text_start = 0;
	int ret = -1;

	*out = NULL;
	st.depth = 0;
	if (len > TEMPLATE_MAX_TEXT) {
		err_set(err, "template longer than %u bytes", TEMPLATE_MAX_TEXT);
		goto out;
	}
	/* The first NUL or malformed sequence, whichever comes first. */
	bad = utf8_valid_prefix(text, len);
	{
		const char *nul = bad > 0 ? memchr(text, '\0', bad) : NULL;

		if (nul != NULL)
			bad = (size_t)(nul - text);
	}
	if (bad < len) {
		pos_advance(&p, text, bad);
		err_set(err, "line %zu, column %zu: %s", p.line, p.col,
			text[bad] == '\0' ? "NUL byte" : "invalid UTF-8");
		goto out;
	}
	while (known != NULL && known[n_known] != NULL)
		n_known++;
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		err_set(err, "out of memory");
		goto out;
	}
	t->text = malloc(len + 1);
	t->names = malloc(len + 1);
	t->vars = calloc(n_known + 1, sizeof(*t->vars));
	if (t->text == NULL || t->names == NULL || t->vars == NULL) {
		err_set(err, "out of memory");
		goto out;
	}
	i = 0;
	while (i < len) {
		size_t j;

		if (text[i] == '\\' && len - i >= 3 && text[i + 1] == '{' && text[i + 2] == '{') {
			t->text[t->text_len++] = '{';
			t->text[t->text_len++] = '{';
			i += 3;
			continue;
		}
		if (text[i] != '{' || len - i < 2 || text[i + 1] != '{') {
			t->text[t->text_len++] = text[i++];
			continue;
		}
		pos_advance(&p, text, i);
		if (flush_text(t, text_start, &p, err) != 0)
			goto out;
		/* a tag ends at the first "}}" and never spans lines, so a
		 * forgotten "}}" is reported where it was forgotten */
		for (j = i + 2; j < len && text[j] != '\n'; j++)
			if (text[j] == '}' && j + 1 < len && text[j + 1] == '}')
				break;
		if (j >= len || text[j] == '\n') {
			err_set(err, "line %zu, column %zu: unterminated tag (no \"}}\" on its line)",
				p.line, p.col);
			goto out;
		}
		if (compile_tag(t, text + i + 2, j - i - 2, known, &st, &p, err) != 0)
			goto out;
		i = j + 2;
		text_start = t->text_len;
	}
	pos_advance(&p, text, len);
	if (flush_text(t, text_start, &p, err) != 0)
		goto out;
	if (st.depth > 0) {
		const struct node *n = &t->nodes[st.node[st.depth - 1]];

		err_set(err, "line %u, column %u: {{#if %s}} without {{/if}}",
			(unsigned)n->line, (unsigned)n->col, t->vars[n->a]);
		goto out;
	}
	*out = t;
	t = NULL;
	ret = 0;
out:
	template_free(t);
	return ret;
}

/* Appends s[0..n) to the output (a buf whose max is TEMPLATE_MAX_OUTPUT),
 * failing rather than truncating: a cut-off message must never be sent. */
static int out_add(struct buf *b, const char *s, size_t n, struct err *err)
{
	int rc = buf_add(b, s, n);

	if (rc == -E2BIG)
		return err_set(err, "output longer than %u bytes", TEMPLATE_MAX_OUTPUT);
	if (rc != 0)
		return err_set(err, "out of memory");
	return 0;
}

/* A value in an HTML body: the five characters that can end a text node or
 * an attribute value (OWASP XSS prevention cheat sheet, rule 1). */
static int out_add_html(struct buf *b, const char *s, struct err *err)
{
	const char *run = s;

	for (; *s != '\0'; s++) {
		const char *rep;

		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: continue;
		}
		if (out_add(b, run, (size_t)(s - run), err) != 0 ||
		    out_add(b, rep, strlen(rep), err) != 0)
			return -1;
		run = s + 1;
	}
	return out_add(b, run, (size_t)(s - run), err);
}

int template_render(const struct template *t, template_lookup lookup, void *data,
		    enum template_escape escape, char **out, size_t *out_len,
		    struct err *err)
{
	struct buf b = { .max = TEMPLATE_MAX_OUTPUT };
	size_t i = 0;
	int ret = -1;

	*out = NULL;
	if (out_len != NULL)
		*out_len = 0;
	if (out_add(&b, "", 0, err) != 0)
		goto out;
	while (i < t->n_nodes) {
		const struct node *n = &t->nodes[i];
		const char *v;

		switch (n->op) {
		case OP_TEXT:
			if (out_add(&b, t->text + n->a, n->b, err) != 0)
				goto out;
			i++;
			break;
		case OP_VAR:
			v = lookup != NULL ? lookup(data, t->vars[n->a]) : NULL;
			if (v == NULL) {
				/* the template's own place and name: public */
				err_public(err, "line %u, column %u: variable \"%s\" has no value",
					   (unsigned)n->line, (unsigned)n->col, t->vars[n->a]);
				goto out;
			}
			if (escape == TEMPLATE_HTML) {
				if (out_add_html(&b, v, err) != 0)
					goto out;
			} else if (out_add(&b, v, strlen(v), err) != 0) {
				goto out;
			}
			i++;
			break;
		case OP_IF:
			v = lookup != NULL ? lookup(data, t->vars[n->a]) : NULL;
			i = v != NULL && v[0] != '\0' ? i + 1 : (size_t)n->b + 1;
			break;
		case OP_ELSE:
			i = (size_t)n->b + 1;
			break;
		default:
			i++;
			break;
		}
	}
	if (out_len != NULL)
		*out_len = b.len;
	*out = buf_take(&b);
	ret = 0;
out:
	buf_free(&b);
	return ret;
}

size_t template_vars(const struct template *t, const char **names, size_t max)
{
	size_t i;

	for (i = 0; i < t->n_vars && i < max; i++)
		names[i] = t->vars[i];
	return t->n_vars;
}

void template_free(struct template *t)
{
	if (t == NULL)
		return;
	free(t->nodes);
	free(t->text);
	free(t->names);
	free(t->vars);
	free(t);
}
