/*
 * json.h - JSON lexing for the strict parsers of safetensors/ (private to
 * the module). Each function reads at in->p, skipping blanks first, and
 * on error writes "WHAT, byte N: MESSAGE" into in->err (N the offset of
 * in->p from in->start) and returns -EBADMSG; -ENOMEM has no message.
 */
#ifndef CKPTFS_SAFETENSORS_JSON_H
#define CKPTFS_SAFETENSORS_JSON_H

#include <stddef.h>
#include <stdint.h>

struct json_in {
	const uint8_t *p, *end, *start;
	char *err; /* caller's; may be NULL */
	size_t errlen;
	const char *what; /* names the input in messages; borrowed */
};

/* Write the message (printf-style) at in->p; returns -EBADMSG. */
__attribute__((format(printf, 2, 3))) int json_bad(struct json_in *in, const char *fmt, ...);
void json_blanks(struct json_in *in);
/* The byte c, after blanks. */
int json_expect(struct json_in *in, char c);
/* After a member: ',' (1) or the closing bracket (0), or an error. */
int json_next_or_close(struct json_in *in, char close);
/* A string, decoded: *out malloc'd (NUL-terminated, may hold NULs), caller frees. */
int json_string(struct json_in *in, char **out, size_t *len);
/* A non-negative integer that fits 64 bits. */
int json_number(struct json_in *in, uint64_t *v);
/*
 * A scalar value, checked and dropped: a string, a non-negative integer,
 * true, false or null (what a Hugging Face index's metadata holds).
 */
int json_scalar(struct json_in *in);

#endif
