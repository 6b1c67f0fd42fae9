/*
 * test_util_io.c - util_pwrite_full and util_pread_full on a scratch
 * file: bytes written at an offset read back, a hole reads as zeros, a
 * read stops at the end of the file, and errors come back as -errno; and
 * util_file_kind's names for what is not a regular file.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/util.h"

static void test_pwrite_full_then_pread_full(void **state)
{
	static const char text[] = "written at 100";
	char buf[128];
	FILE *f = tmpfile();
	int fd;

	(void)state;
	assert_non_null(f);
	fd = fileno(f);
	assert_int_equal(util_pwrite_full(fd, text, sizeof(text), 100), 0);
	assert_int_equal(util_pwrite_full(fd, text, 0, 7), 0); /* nothing to do */
	assert_int_equal(util_pread_full(fd, buf, sizeof(text), 100), sizeof(text));
	assert_string_equal(buf, text);
	/* before it, a hole of zeros; past its end, a short count */
	assert_int_equal(util_pread_full(fd, buf, 100, 0), 100);
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(util_pread_full(fd, buf, sizeof(buf), 110), 100 + sizeof(text) - 110);
	assert_int_equal(util_pread_full(fd, buf, sizeof(buf), 1000), 0);
	fclose(f);
}

static void test_io_errors_are_negative_errno(void **state)
{
	char buf[4];
	int fd = open("/dev/null", O_RDONLY);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(util_pwrite_full(fd, "abc", 3, 0), -EBADF);
	close(fd);
	assert_int_equal(util_pwrite_full(-1, "abc", 3, 0), -EBADF);
	assert_int_equal(util_pread_full(-1, buf, sizeof(buf), 0), -EBADF);
}

static void test_file_kind(void **state)
{
	(void)state;
	assert_string_equal(util_file_kind(S_IFDIR | 0755), "a directory");
	assert_string_equal(util_file_kind(S_IFIFO | 0644), "a FIFO");
	assert_string_equal(util_file_kind(S_IFCHR | 0666), "a character device");
	assert_string_equal(util_file_kind(S_IFBLK | 0660), "a block device");
	assert_string_equal(util_file_kind(S_IFSOCK | 0777), "a socket");
	assert_null(util_file_kind(S_IFREG | 0644));
	assert_null(util_file_kind(S_IFLNK | 0777));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pwrite_full_then_pread_full),
		cmocka_unit_test(test_io_errors_are_negative_errno),
		cmocka_unit_test(test_file_kind),
	};

	return cmocka_run_group_tests_name("util_io", tests, NULL, NULL);
}
