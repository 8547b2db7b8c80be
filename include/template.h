/* template.h: message templates with variables and conditionals, nothing
 * more.
 *
 * A court reminder or an action alert is written once by an organiser and
 * sent to thousands of people, so every mistake in it must surface when the
 * template is loaded, never as a blank in a sent message: a misspelt
 * variable, an unclosed tag or a stray {{/if}} fails template_compile()
 * with the line and column, and a variable that has no value at send time
 * fails template_render() instead of rendering as "".
 *
 * Grammar (text is UTF-8; tags never span lines):
 *
 *   template  = *( text / escape / var / if )
 *   escape    = "\{{"                          ; outputs "{{"
 *   var       = "{{" sp name sp "}}"
 *   if        = "{{" sp "#if" 1*blank name sp "}}" template
 *               [ "{{" sp "else" sp "}}" template ]
 *               "{{" sp "/if" sp "}}"
 *   name      = %x61-7A *( %x61-7A / DIGIT / "_" )   ; [a-z][a-z0-9_]*, at most 64 bytes
 *   sp        = *blank
 *   blank     = " " / HTAB
 *   text      = any UTF-8 except NUL, and except "{{" and "\{{" which start
 *               the forms above; a lone "{", "}", "}}" or "\" is text
 *
 * Anything else between "{{" and "}}" is an error; {{#if}} nests at most
 * TEMPLATE_MAX_DEPTH deep. {{#if name}} is true when the variable has a
 * value that is not "". Text, CRLF included, is copied as it is; HTML
 * escaping applies to variable values only (the template's own markup is
 * trusted, the values are not).
 *
 * Errors read "line L, column C: problem", C counting code points from 1;
 * a tag's position is that of its first "{". */
#ifndef PREGON_TEMPLATE_H
#define PREGON_TEMPLATE_H

#include <stddef.h>

#include "err.h"

#define TEMPLATE_MAX_TEXT (64u * 1024u)	/* bytes of template text */
#define TEMPLATE_MAX_OUTPUT (64u * 1024u)	/* bytes of rendered output, NUL excluded */
#define TEMPLATE_MAX_DEPTH 8			/* nested {{#if}} */
#define TEMPLATE_MAX_NAME 64			/* bytes of a variable name */

/* Compiled and immutable: one template may be rendered from several
 * threads at once. */
struct template;

enum template_escape {
	TEMPLATE_PLAIN,	/* SMS, Signal, text/plain email */
	TEMPLATE_HTML,	/* text/html: values get & < > " ' escaped */
};

/* Returns the value of name, or NULL when it has none. The returned string
 * must stay valid until template_render() returns. */
typedef const char *(*template_lookup)(void *data, const char *name);

/* Compiles text[0..len) (not NUL-terminated; may be NULL when len is 0, at
 * most TEMPLATE_MAX_TEXT bytes). known is the NULL-terminated list of the
 * variable names the caller will supply (NULL: none); any other name is an
 * error. Returns 0 and *out, or -1 with *out NULL and err set, e.g.
 * `line 3, column 12: unknown variable "cort"`. */
int template_compile(const char *text, size_t len, const char *const *known,
		     struct template **out, struct err *err);

/* Renders t, asking lookup (may be NULL: no values) for each variable it
 * reaches. Returns 0 with *out malloc'd and NUL-terminated and *out_len its
 * length (out_len may be NULL), or -1 with *out NULL and err set:
 * `line 2, column 5: variable "date" has no value`, or
 * `output longer than 65536 bytes`. Never returns partial output. */
int template_render(const struct template *t, template_lookup lookup, void *data,
		    enum template_escape escape, char **out, size_t *out_len,
		    struct err *err);

/* Stores up to max of the distinct names t references ({{name}} and
 * {{#if name}}), in order of first appearance, and returns how many there
 * are (which may be more than max). The names live as long as t. */
size_t template_vars(const struct template *t, const char **names, size_t max);

/* t may be NULL. */
void template_free(struct template *t);

#endif
