/*
 * escape.c - show untrusted bytes (tensor names, paths, words of a file
 * that may not be a mapping) on a terminal without letting them act on
 * it: a name holding "\n" must not forge a second `ls` line, and one
 * holding ESC ] 0 ; ... BEL must not retitle the terminal. Also the one
 * UTF-8 validator of the project, which the escaping needs anyway.
 */
#include "util/util.h"

#include <stdio.h>
#include <string.h>

size_t util_utf8_len(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char c, lo = 0x80, hi = 0xbf;
	size_t need;

	if (!n)
		return 0;
	c = s[0];
	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	need = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return need;
}

int util_is_utf8(const char *s, size_t n)
{
	for (size_t i = 0, k; i < n; i += k)
		if (!(k = util_utf8_len(s + i, n - i)))
			return 0;
	return 1;
}

/*
 * The shown form of the character at s (n > 0 bytes left) into out (room
 * for 8 bytes: a C1 control is two \xNN); sets *used to the input bytes
 * it stands for and returns its length.
 */
static size_t escape_one(const char *s, size_t n, unsigned flags, char *out, size_t *used)
{
	unsigned char c = (unsigned char)s[0];
	size_t k = util_utf8_len(s, n);

	*used = k ? k : 1;
	if (c == '\\' && (flags & UTIL_ESCAPE_BACKSLASH))
		return (size_t)snprintf(out, 9, "\\\\");
	if (c == '\n' || c == '\t' || c == '\r')
		return (size_t)snprintf(out, 9, "\\%c", c == '\n' ? 'n' : c == '\t' ? 't' : 'r');
	/* C0, DEL, and C1 (U+0080..U+009F, which terminals also obey) */
	if (c < 0x20 || c == 0x7f)
		return (size_t)snprintf(out, 9, "\\x%02x", c);
	if (k == 2 && c == 0xc2 && (unsigned char)s[1] < 0xa0)
		return (size_t)snprintf(out, 9, "\\x%02x\\x%02x", c, (unsigned char)s[1]);
	if (!k)
		return (size_t)snprintf(out, 9, "\\x%02x", c);
	memcpy(out, s, k);
	return k;
}

size_t util_escaped_len(const char *s, size_t n, unsigned flags)
{
	size_t total = 0, used;
	char piece[9];

	for (size_t i = 0; i < n; i += used)
		total += escape_one(s + i, n - i, flags, piece, &used);
	return total;
}

char *util_escape(char *buf, size_t len, const char *s, size_t n, unsigned flags)
{
	size_t at = 0, used, room;
	int cut;
	char piece[9];

	if (!len)
		return buf;
	cut = util_escaped_len(s, n, flags) > len - 1;
	/* when cut, leave room for "..." (a buffer too small for it: just cut) */
	room = cut && len > 4 ? len - 4 : len - 1;
	for (size_t i = 0; i < n; i += used) {
		size_t k = escape_one(s + i, n - i, flags, piece, &used);

		if (at + k > room)
			break;
		memcpy(buf + at, piece, k);
		at += k;
	}
	if (cut && len > 4) {
		memcpy(buf + at, "...", 3);
		at += 3;
	}
	buf[at] = '\0';
	return buf;
}
